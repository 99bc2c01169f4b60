package generated

p := x if {
	sort([4, 3, 2, 1], x)
}

#query: data.generated.p = x
