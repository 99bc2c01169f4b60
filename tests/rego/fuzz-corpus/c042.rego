package test

p := x if {
	x := "foo" in 1
}

#query: data.test.p = x
