package test

o := ["1", "2"]

f(x) := o[_] == x

p if f("2")

#query: data.test.p = x
