package generated

p contains x if {
	net.cidr_contains("2001:4860:4860::8888/32", "2001:4860:4860:1234:5678:1234:5678:8888/128", x)
}

#query: data.generated.p = x
