package test

p := indexof_n("😇😀😇😀😇😀", "😀")

#query: data.test.p = x
