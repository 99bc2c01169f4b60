package test

p := split("", "")

#query: data.test.p = x
