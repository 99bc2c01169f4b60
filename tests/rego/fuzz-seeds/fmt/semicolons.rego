package p
q if {x := 1; y := 2; x < y}
