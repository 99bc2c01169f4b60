package generated

p := x if {
	trim("", ".", x)
}

#query: data.generated.p = x
