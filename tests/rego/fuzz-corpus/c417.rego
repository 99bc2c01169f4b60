package test

p := indexof_n("dogcat", "cat")

#query: data.test.p = x
