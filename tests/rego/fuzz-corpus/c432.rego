package test

p := x if {
	indexof("skön var våren", "vår", x)
}

#query: data.test.p = x
