package generated

p contains x if {
	glob.match("{cat,bat,[fr]at}", [], "at", x)
}

#query: data.generated.p = x
