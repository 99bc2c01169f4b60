package test

p := glob.match("a/*/b", null, "a/b")

#query: data.test.p = x
