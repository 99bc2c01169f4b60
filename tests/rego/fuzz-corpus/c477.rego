package test

p if {
	count([]) == 1 with count as 1
}

#query: data.test.p = x
