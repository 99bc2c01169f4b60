package test

p := strings.split_n("a.b.c.d", ".", 2)

#query: data.test.p = x
