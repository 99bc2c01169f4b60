package test

e := 4

#query: data.generated.p = x
