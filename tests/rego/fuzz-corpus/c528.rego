package ex

data_eq if {
	data.a = x
}

#query: data.generated.p = x
