package generated

p if {
	[1, 2, 3] = [1, 3, 2]
}

#query: data.generated.p = x
