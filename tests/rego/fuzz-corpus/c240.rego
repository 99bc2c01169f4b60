package generated

p contains x if {
	glob.match("*:github:com", [":"], "api:github:com", x)
}

#query: data.generated.p = x
