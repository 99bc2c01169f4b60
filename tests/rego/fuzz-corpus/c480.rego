package test

p := x if {
	x = time.now_ns() with time.now_ns as opa.runtime
}

#query: data.test.p = x
