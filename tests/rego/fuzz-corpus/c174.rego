package test.l1.l2

p := true

f(__local182__) := __local182__

#query: data.ex.arraysrule = x
