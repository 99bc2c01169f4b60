package p.q["x-y"]
import data.lib.helpers as h
a.b[c] := d if { some c; d := c }
r contains x if { some x in input.xs }
default allow:=false
f(a,b) := a+b
