package generated

p := [x, y] if {
	x = input with input as "a"
	y = input
}

#query: data.generated.p = x
