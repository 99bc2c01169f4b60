package negation

import future.keywords.not

p := [x | x := "foo"; not f(input.x)]

f(_) := true

#query: data.negation.p = x
