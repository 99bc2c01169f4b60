package test

strings_set contains str if {
	str := input.strings[_]
}

suffixes_set contains suffix if {
	suffix := input.suffixes[_]
}

p if {
	strings.any_suffix_match(strings_set, suffixes_set)
}

#query: data.test.p = x
