package generated

p contains [i, z, r] if {
	x = [{}, {[1, 2], [3, 4]}]
	y = [3, 4]
	x[i][y][z] = r
}

#query: data.generated.p = x
