package p
g if {
  every k, v in {"a": 1} {
    # inner
    v > 0
  } # after every
  some x in input.xs
  some i, y in input.ys
}
