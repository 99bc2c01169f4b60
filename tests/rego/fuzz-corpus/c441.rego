package test

l := ["a", "b", "c"]

obj[k] := v if {
	v := ["a", "b", "c"][k]
	k < 3
}

obj[k] := v if {
	v := input.m[k]
}

obj["foo"] := "bar" if input.foo

obj["baz"] := true if input.baz

compare if {
	# Comparison with static object that doesn't contain "optional" key.
	obj == {
		0: "a",
		1: "b",
		2: "c",
	}

	obj == {
		0: "a",
		1: "b",
		2: "c",
		"foo": "bar",
	} with input.foo as true

	obj == {
		0: "a",
		1: "b",
		2: "c",
		"baz": true,
	} with input.baz as true

	obj == {
		0: "a",
		1: "b",
		2: "c",
		3: "d",
		4: "e",
		100: "f",
	} with input.m as {3: "d", 4: "e", 100: "f"}
}

#query: data.test.compare = x
