package test.l1.l3

g(__local363__) := __local363__

#query: data.ex.multi4 = x
