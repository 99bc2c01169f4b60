package generated

p contains x if {
	glob.match("[!a-c]at", [], "bat", x)
}

#query: data.generated.p = x
