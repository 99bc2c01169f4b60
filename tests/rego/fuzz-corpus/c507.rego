package test

a := {"b": 1, "c": 2}

#query: data.generated.p = x
