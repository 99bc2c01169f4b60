package t

q := "foo"

f(x) := "a" if { x > 1 }

p if {
	some k, v in {"a": 1, "b": [2]}
	x := {"a": count([1]), "a": "s"}
	upper(x.a)
	y := [c | some c in {"x", 1}; abs(c)]
	sum({1, 2, "3"}) == f(2)
	plus(data.t.q, 1) in [1, "2"]
}
