package p
c := {k: v | some k, v in {"a":1}}
d := {x | some x in [1]; x > 0}
b := [x | x := [1,2][_]
  # inside
  x > 1]
