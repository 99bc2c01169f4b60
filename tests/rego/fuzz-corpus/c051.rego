package test

p := x if {
	some "foo", x in {"foo": 100, "what": "ever"}
}

#query: data.test.p = x
