package generated

p := false

#query: data.generated.p = x
