package generated

p contains x if {
	data.c[i][j] = [true, false, x]
}

#query: data.generated.p = x
