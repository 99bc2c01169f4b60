package generated

p contains x if {
	data.c[i][j][k] = x
}

#query: data.generated.p = x
