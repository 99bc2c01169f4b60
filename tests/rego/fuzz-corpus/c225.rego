package test.l1.l2

p := true

f(__local446__) := __local446__

#query: data.test.omit_result.p = x
