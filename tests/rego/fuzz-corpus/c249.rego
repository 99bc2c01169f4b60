package generated

p contains x if {
	glob.match("{cat,bat,[fr]at}", [], "bat", x)
}

#query: data.generated.p = x
