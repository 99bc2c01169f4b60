package test

p := glob.match("*", [".", "/"], "a/b")

#query: data.test.p = x
