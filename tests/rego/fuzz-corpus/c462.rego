package test

pass_resp := {"body": {"roles": ["admin"]}}

deny_resp := {"body": {"roles": []}}

mock_http_send(req) := pass_resp if {
	req.body.name == "alice"
} else := deny_resp

test_allow if {
	allow with http.send as mock_http_send with input.name as "alice"
}

allow if {
	"admin" in http.send({"method": "GET", "body": input}).body.roles
}

#query: data.test.test_allow = x
