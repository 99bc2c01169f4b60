package generated

p if {
	data.b.v2 = "goodbye"
}

#query: data.generated.p = x
