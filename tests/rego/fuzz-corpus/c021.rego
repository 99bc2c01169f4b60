package test

p if {
	"foo", 1 in {"foo": 1}
}

#query: data.test.p = x
