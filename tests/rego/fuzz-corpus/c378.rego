package test

p := strings.split_n("abc", "", 2)

#query: data.test.p = x
