package test

p := glob.match("***", ["."], "")

#query: data.test.p = x
