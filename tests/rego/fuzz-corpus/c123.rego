package generated

p if {
	[[1, x], [3, 4]] = [[1, 2], [x, 4]]
}

#query: data.generated.p = x
