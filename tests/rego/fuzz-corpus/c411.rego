package generated

p := x if {
	trim("...foo.bar...", ".o", x)
}

#query: data.generated.p = x
