package generated

p if {
	data.ex.input_eq with data.foo as 1
}

#query: data.generated.p = x
