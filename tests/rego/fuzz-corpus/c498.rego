package ex

loopback := y if {
	true
	y = input
}

#query: data.generated.p = x
