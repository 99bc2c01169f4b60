package negation

import rego.v2

default p := false

p if {
    not { input.a; input.b }
}

#query: data.negation.p = x
