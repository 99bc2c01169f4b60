package test

p if {
	x := [1, 1 in [2]]
	x == [1, false]
}

#query: data.test.p = x
