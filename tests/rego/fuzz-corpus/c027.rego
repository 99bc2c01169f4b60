package test

p := x if {
	x := 1 in {2}
}

#query: data.test.p = x
