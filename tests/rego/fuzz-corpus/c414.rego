package generated

p := x if {
	sprintf("hi %.2f", [3.1415], x)
}

#query: data.generated.p = x
