package ex

virtual contains x if {
	data.a.b[x] = 1
}

#query: data.generated.p = x
