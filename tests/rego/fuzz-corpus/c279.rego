package topdown_test_partial

__result__ := _result if {
	input.req4.a.b.x[0] = 1
	_result = true
}

#query: data.z.sets = x
