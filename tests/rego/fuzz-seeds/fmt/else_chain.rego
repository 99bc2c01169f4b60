package p
w := x if { x := 1 } else := y if { y := 2 } else = 3
g(x) := 1 if x > 1 else := 2
