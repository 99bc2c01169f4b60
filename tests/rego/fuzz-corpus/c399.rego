package generated

p := x if {
	upper("AbCdEf", x)
}

#query: data.generated.p = x
