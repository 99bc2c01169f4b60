package test.l1.l2

p := true

f(__local116__) := __local116__

#query: data.ex.falsy_else_negation = x
