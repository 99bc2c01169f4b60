package test

default p.q.r.f(x) := 100

#query: data.test = x
