package test

p := strings.count("hello hello hello world", "hello")

#query: data.test.p = x
