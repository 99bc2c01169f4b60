package test

foo(__local185__) := y if {
	trim(__local185__, "h o", y)
}

cross := y if {
	data.ex.cross("hi, my name is foo", y)
}

multi("foo", __local186__) := y if {
	y = __local186__
}

multi("bar", __local187__) := y if {
	y = "baz"
}

multi_cross_pkg := [y, z] if {
	data.test.multi("foo", "bar", y)
	data.ex.multi(2, 1, z)
}

#query: data.ex.objectsrule = x
