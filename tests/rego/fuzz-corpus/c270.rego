package test

p := 7 if {
	data.foo == q
}

q := input.baz

#query: data.test.p = x
