package generated

p(_) if {
	data.generated.q
}

q := true

q := false

#query: data.generated.p(1) = x
