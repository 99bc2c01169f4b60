package generated

p contains x if {
	glob.match("[!abc]at", [], "fat", x)
}

#query: data.generated.p = x
