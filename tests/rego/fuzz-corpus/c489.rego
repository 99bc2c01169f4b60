package test

f(_) := 2

p if {
	f([1], 1) with f as count
}

#query: data.test.p = x
