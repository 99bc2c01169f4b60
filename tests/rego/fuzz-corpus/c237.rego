package generated

p(x) if {
	y := data.generated.q(x)
}

q(_) if {
	false
}

else := true

q(_) if {
	false
}

else := false

#query: data.generated.p(1) = x
