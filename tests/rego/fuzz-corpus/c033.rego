package test

p if {
	(1 + 1) in [2]
}

#query: data.test.p = x
