package ex

foo(__local278__) := y if {
	split(__local278__, "i", y)
}

bar[x] := y if {
	data.l[_].a = x
	data.ex.foo(x, y)
}

chain0(__local279__) := y if {
	data.ex.foo(__local279__, y)
}

chain1(__local280__) := b if {
	data.ex.chain0(__local280__, b)
}

chain2 := d if {
	data.ex.chain1("fooibar", d)
}

cross(__local281__) := [a, b] if {
	split(__local281__, "i", y)
	__local27__ = y[1]
	data.ex.foo(__local27__, b)
	__local28__ = y[2]
	data.test.foo(__local28__, a)
}

falsy_func(__local282__) := false

falsy_func_else(__local283__) if {
	__local283__ = 1
}

else := false

falsy_undefined if {
	data.ex.falsy_func(1)
}

falsy_negation if {
	not data.ex.falsy_func(1)
}

falsy_else_value := __local23__ if {
	true
	data.ex.falsy_func_else(2, __local23__)
}

falsy_else_undefined if {
	data.ex.falsy_func_else(2)
}

falsy_else_negation if {
	not data.ex.falsy_func_else(2)
}

arrays([__local285__, __local286__]) := [a, b] if {
	data.ex.foo(__local285__, a)
	data.ex.foo(__local286__, b)
}

arraysrule := y if {
	data.ex.arrays(["hih", "foo"], y)
}

objects({"foo": __local287__, "bar": __local288__}) := z if {
	data.ex.foo(__local287__, a)
	data.test.foo(__local288__, b)
	z = [a, b]
}

objectsrule := y if {
	data.ex.objects({"bar": "hi ho", "foo": "hih"}, y)
}

refoutput := y if {
	data.ex.foo("hih", z)
	y = z[1]
}

void(__local289__) if {
	__local289__ = "foo"
}

voidGood if {
	not data.ex.void("bar", true)
}

voidBad if {
	data.ex.void("bar", true)
}

multi(1, __local290__) := y if {
	y = __local290__
}

multi(2, __local291__) := y if {
	__local24__ = 2 * __local291__
	a = __local24__
	__local25__ = a + 1
	y = __local25__
}

multi(3, __local292__) := y if {
	__local26__ = __local292__ * 10
	y = __local26__
}

multi("foo", __local293__) := y if {
	y = "bar"
}

multi1 := y if {
	data.ex.multi(1, 2, y)
}

multi2 := y if {
	data.ex.multi(2, 2, y)
}

multi3 := y if {
	data.ex.multi(3, 2, y)
}

multi4 := y if {
	data.ex.multi("foo", 2, y)
}

always_true_fn(__local294__) := true

always_true if {
	data.ex.always_true_fn(1)
}

#query: data.ex.multi4 = x
