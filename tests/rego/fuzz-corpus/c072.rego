package test

c := 3 if {
	false
} else := 4

#query: data.test = x
