package generated

p contains x if {
	data.generated.q.a = x
}

q[k] := v if {
	k = "a"
	v = {y | i = {z | z = data.a[_]}; i[_] = _; i = y}
}

#query: data.generated.p = x
