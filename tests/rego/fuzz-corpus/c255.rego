package generated

p contains x if {
	glob.match("foo*", null, "foo.bar", x)
}

#query: data.generated.p = x
