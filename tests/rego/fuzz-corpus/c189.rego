package test.l1.l2

p := true

f(__local248__) := __local248__

#query: data.ex.always_true = x
