package test2

p(1, a) := y if {
	y = a
}

p(2, b) := y if {
	y = b + 1
}

r := y if {
	data.test2.p(3, 0, y)
}

#query: data.test2.r = x
