package test
p := strings.count("", "")

#query: data.test.p = x
