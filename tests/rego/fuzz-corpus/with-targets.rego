#query: data.test.p
#input: {"user": "al"}
package test

import data.test.q as lq
import input.user

q := {"k": 1}

s contains 1

a.b := 1

f(x) := x + 1

g(x) := x + 2

p := [y, z, w, v, u] if {
	y := q with q as 2
	z := count(s) with s as [1, 2]
	w := a.b with a.b as 3
	v := f(1) with f as g
	u := user with user as "bob" with lq as 4
}
