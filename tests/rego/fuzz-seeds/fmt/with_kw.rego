package p
n if input.x == 1   with input as {"x":1}    with data.q as 2
