package generated

p := __local0__ if {
	__local2__ = input.b
	object.union({"a": 1}, __local2__, __local1__)
	__local0__ = __local1__
}

#query: data.generated.p = x
