package generated

p if {
	17 = 17
}

#query: data.generated.p = x
