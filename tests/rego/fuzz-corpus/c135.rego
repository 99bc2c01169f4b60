package generated

p contains x if {
	[1, x, 3] = [1, 2, 3]
}

#query: data.generated.p = x
