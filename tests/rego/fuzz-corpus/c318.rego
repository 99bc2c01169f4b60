package generated

p if {
	__local1__ = data.a[1]
	__local2__ = data.a[2]
	__local3__ = data.a[2]
	__local0__ = {3, __local1__, __local2__} | {3, 4, __local3__}
	{2, 3, 4} = __local0__
}

#query: data.generated.p = x
