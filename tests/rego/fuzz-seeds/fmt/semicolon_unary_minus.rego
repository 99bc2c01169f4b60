package p
v if { x := 12;-x > 1 }
