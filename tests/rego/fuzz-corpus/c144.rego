package generated

p contains x if {
	{"p": y, "q": z} = data.c[i][j]
	x = [i, j, y, z]
}

#query: data.generated.p = x
