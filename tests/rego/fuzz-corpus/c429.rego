package test
p := strings.count("11111", "11111")

#query: data.test.p = x
