package generated

p := x if {
	substring("aaa", 4, -1, x)
}

#query: data.generated.p = x
