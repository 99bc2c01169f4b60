# A set of one element with a trailing comma as the whole literal after
# `if`: without its comma it would be a body.
package p

v if {1,}

w if {-x ,}

q if {x
 ,}

u := 1 if {2,} else := 2 if {3,} == {3}

m if {
	1,
}

n if {
	"a": 1,
	"b": {2,},
}
