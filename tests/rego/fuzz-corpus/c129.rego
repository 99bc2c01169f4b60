package generated

p if {
	{1, 2, 3} = {1, 2, 3}
}

#query: data.generated.p = x
