package generated

p contains x if {
	__local0__ = [y | data.generated.q[y]]
	max(__local0__, x)
}

q contains x if {
	data.a[_] = x
}

#query: data.generated.p = x
