package generated

p := x if {
	replace("foo.bar", ".", ",", x)
}

#query: data.generated.p = x
