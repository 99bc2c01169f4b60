package generated

p := __local0__ if {
	object.union({"b": 2}, {"a": {"b": {"c": 1}}}, __local1__)
	__local0__ = __local1__
}

#query: data.generated.p = x
