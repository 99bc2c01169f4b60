package generated

p if {
	data.a.b.c with data.a.b as 1
}

#query: data.generated.p = x
