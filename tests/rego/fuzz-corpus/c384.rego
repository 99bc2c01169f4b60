package generated

p := x if {
	concat("/", ["", "foo", "bar", "0", "baz"], x)
}

#query: data.generated.p = x
