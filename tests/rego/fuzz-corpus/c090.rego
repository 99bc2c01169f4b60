package generated

p := {"a": [x, y]} if {
	xs = [1, 2]
	ys = [1, 2]
	x = xs[_]
	y = ys[_]
}

#query: data.generated.p = x
