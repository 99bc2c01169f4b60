package generated

p if {
	data.ex.mock_rule with data.ex.mock_rule as true
}

#query: data.generated.p = x
