package generated

p contains x if {
	data.b[x] = _
}

#query: data.generated.p = x
