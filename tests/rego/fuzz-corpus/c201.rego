package ex

foo(__local261__) := y if {
	split(__local261__, "i", y)
}

bar[x] := y if {
	data.l[_].a = x
	data.ex.foo(x, y)
}

chain0(__local262__) := y if {
	data.ex.foo(__local262__, y)
}

chain1(__local263__) := b if {
	data.ex.chain0(__local263__, b)
}

chain2 := d if {
	data.ex.chain1("fooibar", d)
}

cross(__local264__) := [a, b] if {
	split(__local264__, "i", y)
	__local27__ = y[1]
	data.ex.foo(__local27__, b)
	__local28__ = y[2]
	data.test.foo(__local28__, a)
}

falsy_func(__local265__) := false

falsy_func_else(__local266__) if {
	__local266__ = 1
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

arrays([__local268__, __local269__]) := [a, b] if {
	data.ex.foo(__local268__, a)
	data.ex.foo(__local269__, b)
}

arraysrule := y if {
	data.ex.arrays(["hih", "foo"], y)
}

objects({"foo": __local270__, "bar": __local271__}) := z if {
	data.ex.foo(__local270__, a)
	data.test.foo(__local271__, b)
	z = [a, b]
}

objectsrule := y if {
	data.ex.objects({"bar": "hi ho", "foo": "hih"}, y)
}

refoutput := y if {
	data.ex.foo("hih", z)
	y = z[1]
}

void(__local272__) if {
	__local272__ = "foo"
}

voidGood if {
	not data.ex.void("bar", true)
}

voidBad if {
	data.ex.void("bar", true)
}

multi(1, __local273__) := y if {
	y = __local273__
}

multi(2, __local274__) := y if {
	__local24__ = 2 * __local274__
	a = __local24__
	__local25__ = a + 1
	y = __local25__
}

multi(3, __local275__) := y if {
	__local26__ = __local275__ * 10
	y = __local26__
}

multi("foo", __local276__) := y if {
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

always_true_fn(__local277__) := true

always_true if {
	data.ex.always_true_fn(1)
}

#query: data.ex.multi3 = x
