package generated

p contains x if {
	x = 2
	{1, 3, x} = {1, 2, 3}
}

#query: data.generated.p = x
