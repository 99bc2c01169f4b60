package generated

p := {
	"set": count({3.5, 3.50, 35e-1, 0.35e1}),
	"set member": 3.50 in {3.5},
	"object key": {3.5: "found"}[3.50],
	"sorted": sort([3.5, 3, 3.25, -2.5, 3.50, 1e0, 0.5]),
	"max": max([3, 3.5, 3.25, 3.4999]),
	"min": min([3, 3.5, 2.75, 2.7499]),
}

#query: data.generated.p = x
