package p
e := [ # first
  1, # one
  # before two
  2
]
u := {"a": {"b": [
  1
]}}
o := [1, 2,]
t := f(1,
  2)
