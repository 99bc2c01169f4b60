package generated

p if {
	startswith("abcdefgh", "abcd")
}

#query: data.generated.p = x
