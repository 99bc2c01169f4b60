package t

r contains concat(",", [1, 2]) if {
	s := "abc"
	some i, ch in s
	x := split(s, ",")[0]
	x == 1
	-1 == 0
}
