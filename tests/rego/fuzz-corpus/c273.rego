package topdown_test_partial

__result__ := _result if {
	input.req1.foo = 1
	input.req2.bar = 1
	input.req1.foo = 1
	input.req2.bar = 1
	1 = input.req2.bar
	1 = input.req1.foo
	_result = true
}

__result__ := _result if {
	input.req1.foo = 2
	input.req2.bar = 2
	input.req1.foo = 2
	input.req2.bar = 2
	2 = input.req2.bar
	2 = input.req1.foo
	_result = true
}

__result__ := _result if {
	input.req1.foo = 3
	input.req2.bar = 3
	input.req1.foo = 3
	input.req2.bar = 3
	3 = input.req2.bar
	3 = input.req1.foo
	_result = true
}

__result__ := _result if {
	input.req1.foo = 4
	input.req2.bar = 4
	input.req1.foo = 4
	input.req2.bar = 4
	4 = input.req2.bar
	4 = input.req1.foo
	_result = true
}

#query: data.z.p = x
