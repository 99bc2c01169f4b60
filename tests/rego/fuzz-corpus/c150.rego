package test

p if input == 1.0

#query: data.test.p = x
