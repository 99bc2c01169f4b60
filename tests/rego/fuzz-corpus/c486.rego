package test

f(_) := 2

g(_) := 1

p := y if {
	y = f(true) with f as g
}

#query: data.test.p = x
