package test.omit_result

f(__local442__) := __local442__

p if {
	data.test.omit_result.f(1)
}

#query: data.test.l1 = x
