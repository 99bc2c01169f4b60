package test.omit_result

f(__local212__) := __local212__

p if {
	data.test.omit_result.f(1)
}

#query: data.ex.objectsrule = x
