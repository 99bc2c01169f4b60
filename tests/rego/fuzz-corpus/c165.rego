package test.l1.l3

g(__local112__) := __local112__

#query: data.ex.falsy_else_negation = x
