package test

p if {
	some "foo" in ["foo"]
}

#query: data.test.p = x
