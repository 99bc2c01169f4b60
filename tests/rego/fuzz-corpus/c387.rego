package generated

p if {
	__local0__ = data.c[0].x[2]
	concat("", ["f", "o", "o"], __local0__)
}

#query: data.generated.p = x
