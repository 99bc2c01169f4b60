package test

p if {
	{1, 2} in [{1, 2}] in [true]
}

#query: data.test.p = x
