package generated

p contains __local0__ if {
	trim("¡¡¡foo, bar!!!", "i", __local1__)
	__local0__ = __local1__
}

#query: data.generated.p = x
