package ex

allow_merge_1 if {
	data.b = {"v1": "hello", "v2": "world"}
}

#query: data.generated.p = x
