package negation

import future.keywords.not

p := a if {
  not a = f(1)
  a = f(2)
}

f(x) := x

#query: data.negation.p = x
