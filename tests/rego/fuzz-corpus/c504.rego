package generated

r := __local0__ if {
	true
	__local0__ = data.test
}

n1 if {
	data.test.a.z = 7
}

n if {
	not data.generated.n1
}

q := x if {
	not data.generated.n with data.test.a.z as 7
	data.generated.r = x with data.test.a.c as 2
}

p := x if {
	data.generated.q = x with data.test.a.b as 1
}

#query: data.generated.p = x
