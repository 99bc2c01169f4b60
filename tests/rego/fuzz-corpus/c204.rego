package test.l1.l3

g(__local342__) := __local342__

#query: data.ex.multi3 = x
