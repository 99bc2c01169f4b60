package test

foo(__local403__) := y if {
	trim(__local403__, "h o", y)
}

cross := y if {
	data.ex.cross("hi, my name is foo", y)
}

multi("foo", __local404__) := y if {
	y = __local404__
}

multi("bar", __local406__) := y if {
	y = "baz"
}

multi_cross_pkg := [y, z] if {
	data.test.multi("foo", "bar", y)
	data.ex.multi(2, 1, z)
}

#query: data.test.omit_result.p = x
