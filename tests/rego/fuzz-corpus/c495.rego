package generated

p if {
	data.ex.loopback with input as true
	data.ex.loopback = false with input as false
}

#query: data.generated.p = x
