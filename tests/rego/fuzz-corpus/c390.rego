package generated

p := x if {
	substring("aåäö", 2, -1, x)
}

#query: data.generated.p = x
