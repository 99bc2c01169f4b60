package p
i := "a\"b\\c\u00e9\n"
j := `raw \n "x"
second line`
k := -1
l := 2-1
m := - 1
n := 1.5e3*2
