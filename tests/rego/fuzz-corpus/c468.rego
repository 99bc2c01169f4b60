package test

mock_concat("one", _) := ["one"]

mock_concat("one", x) := x

numbers := ["one", "one"]

p := s if {
	s := {concat(n, [n]) | some n in numbers} with concat as mock_concat
}

#query: data.test.p = x
