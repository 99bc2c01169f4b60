package topdown_test_partial

__result__ := _result if {
	_result = true
}

#query: data.ex.voidBad = x
