# A comment between the last element and a trailing comma.
package p

e := [ 4# first	H		
			,	]

s := [1,
 2 # c
 ,]

v if {1 # c
,}
