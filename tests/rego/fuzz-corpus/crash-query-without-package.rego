package test

p := strings.split_n("a;b;c;d", ";", -1)

#query: data/test.p = x
