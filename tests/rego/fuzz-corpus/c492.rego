package test

f(_) := 1 if {
	input.x = "x"
}

p := y if y := f(1) with f as 2

#query: data.test.p = x
