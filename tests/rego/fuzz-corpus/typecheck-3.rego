package t

q := 1 if input.a
q := [true] if input.b
else := {"k": "v"}

default q := false

s contains [1]
s contains {"a": "x"}

o[k] := v if some k, v in {"a": 1}
a.b[x] contains y if { some x in ["k"]; some y in [1] }

f(x) := upper(x)
f([a, b]) := a + b
g(x, y) if { x in [1, 2]; y == "a"; y[0] }

p if {
	some i
	q[i]
	x := s[_]
	upper(x[0])
	some k, w in o
	abs(k)
	f(1)
	g("s", 2)
	upper(a.b.k[_])
	some v in {"a": 1, "b": "x"}
	v[j]
}
#query: x := upper(data.t.q); some i; data.t.s[i]; not i == "a"
