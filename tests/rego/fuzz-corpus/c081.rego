package generated

p if {
	0 = 1
}

#query: data.generated.p = x
