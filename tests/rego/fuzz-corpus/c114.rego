package ex

conflict_1 if {
	false
} else := true

conflict_1 := false

#query: data.ex.conflict_1 = x
