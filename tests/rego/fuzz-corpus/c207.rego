package topdown_test_partial

__result__ := _result if {
	_result = 5
}

#query: data.ex.multi3 = x
