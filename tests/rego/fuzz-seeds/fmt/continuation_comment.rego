package p
v if { x := 1 + # c
  2; x > 1 }
