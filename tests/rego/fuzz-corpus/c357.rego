package test

p if {
	strings.any_suffix_match(input.string, input.suffixes)
}

#query: data.test.p = x
