package generated

p := 1

default p := 0

p := 2 if {
	false
}

#query: data.generated.p = x
