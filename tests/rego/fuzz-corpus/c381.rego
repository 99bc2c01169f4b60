package generated

p if {
	format_int(15.5, 16, "10000")
}

#query: data.generated.p = x
