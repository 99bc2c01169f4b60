package generated

p := __local0__ if {
	object.union({}, {}, __local1__)
	__local0__ = __local1__
}

#query: data.generated.p = x
