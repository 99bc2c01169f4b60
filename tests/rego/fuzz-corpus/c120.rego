package generated

p if {
	[1, x, 3] = [1, 2, x]
}

#query: data.generated.p = x
