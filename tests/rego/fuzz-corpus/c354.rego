package test

p if {
	strings.any_suffix_match(input.strings, input.suffixes)
}

#query: data.test.p = x
