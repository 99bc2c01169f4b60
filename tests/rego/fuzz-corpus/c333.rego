package test

p if {
	strings.any_prefix_match(input.string, input.prefixes)
}

#query: data.test.p = x
