package test

p if {
	1 in {1}
}

#query: data.test.p = x
