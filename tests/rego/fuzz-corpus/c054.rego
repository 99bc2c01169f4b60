package test

p := x if {
	some {"foo": x}, "ever" in {{"foo": 100}: "ever"}
}

#query: data.test.p = x
