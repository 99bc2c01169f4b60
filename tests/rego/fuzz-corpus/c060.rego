package test

p := array.flatten(data.foo)

#query: data.test.p = x
