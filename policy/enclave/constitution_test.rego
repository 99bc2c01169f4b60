# Tests of the Agentic Constitution: `enclave policy test policy/`, and the
# daemon runs them again every time it loads the bundle.
package enclave

exec_input(req) := {
	"action": "exec",
	"session": {"id": "s-1", "labels": {}, "intent": {}},
	"request": object.union({"tool": "python", "argv": ["python3", "-c", "print(1)"], "cwd": "/workspace", "timeout_s": 30, "stdin_bytes": 0, "context": {}}, req),
	"caller": {"transport": "grpc", "peer": "127.0.0.1:5000"},
	"time": {"unix_ns": 0},
}

intent_input(category, req) := object.union(exec_input(req), {"session": {"id": "s-1", "labels": {}, "intent": {"action_category": category}}})

start_input(req) := {
	"action": "session.start",
	"session": {"id": "s-1", "labels": {}, "intent": {}},
	"request": object.union({"vcpu": 1, "memory_mb": 512}, req),
	"caller": {"transport": "grpc", "peer": ""},
	"time": {"unix_ns": 0},
}

allowed(i) if decision.allow with input as i

denied_for(i, text) if {
	d := decision with input as i
	d.allow == false
	some r in d.reasons
	contains(r, text)
}

test_plain_python_allowed if allowed(exec_input({}))

test_exec_obligations if {
	d := decision with input as exec_input({})
	d.obligations.timeout_s == 600
	d.obligations.max_output_bytes == 1048576
	"PYTHONUNBUFFERED" in d.obligations.env_allowlist
	not "LD_PRELOAD" in d.obligations.env_allowlist
}

test_usr_bin_python_allowed if allowed(exec_input({"tool": "exec", "argv": ["/usr/bin/python3", "-c", "1"]}))

test_other_program_denied if denied_for(exec_input({"tool": "exec", "argv": ["sh", "-c", "id"]}), "only python3 may run")

test_empty_argv_denied if denied_for(exec_input({"argv": []}), "only python3 may run")

test_unknown_tool_denied if denied_for(exec_input({"tool": "shell"}), "unknown tool")

test_cwd_outside_denied if denied_for(exec_input({"cwd": "/etc"}), "working directory")

test_cwd_prefix_trick_denied if denied_for(exec_input({"cwd": "/workspace-evil"}), "working directory")

test_cwd_dotdot_denied if denied_for(exec_input({"cwd": "/workspace/../etc"}), "working directory")

test_cwd_tmp_allowed if allowed(exec_input({"cwd": "/tmp/x"}))

test_timeout_too_long_denied if denied_for(exec_input({"timeout_s": 601}), "time limit")

test_timeout_missing_denied if {
	i := object.remove(exec_input({}), ["request"])
	denied_for(object.union(i, {"request": object.remove(exec_input({}).request, ["timeout_s"])}), "time limit")
}

test_network_in_context_denied if denied_for(exec_input({"context": {"network": true}}), "no network")

test_network_in_request_denied if denied_for(start_input({"network": "bridge"}), "no network")

test_network_false_allowed if allowed(exec_input({"context": {"network": false}}))

test_root_user_denied if denied_for(exec_input({"context": {"user": "root"}}), "uid 1000")

test_uid_zero_denied if denied_for(exec_input({"context": {"uid": 0}}), "uid 1000")

test_uid_1000_allowed if allowed(exec_input({"context": {"uid": 1000}}))

test_start_defaults_allowed if allowed(start_input({}))

test_start_vcpu_limit if denied_for(start_input({"vcpu": 5}), "vCPUs")

test_start_vcpu_at_limit_allowed if allowed(start_input({"vcpu": 4, "memory_mb": 4096}))

test_start_memory_limit if denied_for(start_input({"memory_mb": 8192}), "MiB of memory")

test_stop_allowed if allowed({"action": "session.stop", "session": {"id": "s-1", "labels": {}}, "request": {}, "caller": {}})

test_audit_read_allowed if allowed({"action": "audit.read", "session": {"id": ""}, "request": {"session_id": "", "limit": 10}, "caller": {}})

apply_input(caller) := {"action": "policy.apply", "session": {"id": "s-1"}, "request": {"document_bytes": 10}, "caller": caller}

test_policy_apply_by_operator_allowed if allowed(apply_input({"transport": "connect", "peer": "unix:uid:1000", "principal": "operator"}))

test_policy_apply_by_agent_denied if denied_for(apply_input({"transport": "grpc", "peer": "tcp:127.0.0.1:5000", "principal": "agent"}), "only the operator")

test_policy_apply_without_principal_denied if denied_for(apply_input({"transport": "connect", "peer": "tcp:127.0.0.1:5000"}), "only the operator")

test_policy_apply_with_empty_principal_denied if denied_for(apply_input({"transport": "connect", "peer": "", "principal": ""}), "only the operator")

test_policy_apply_without_caller_denied if denied_for(object.remove(apply_input({}), ["caller"]), "only the operator")

test_policy_apply_operator_lookalike_denied if denied_for(apply_input({"principal": "Operator"}), "only the operator")

test_principal_matters_only_for_policy_apply if allowed(object.union(exec_input({}), {"caller": {"transport": "grpc", "peer": "", "principal": "agent"}}))

test_policy_read_allowed_for_an_agent if allowed({"action": "policy.read", "session": {"id": ""}, "request": {"read": "dry_run", "dry_run_input": {"action": "exec"}}, "caller": {"transport": "connect", "peer": "", "principal": "agent"}})

test_policy_read_dry_run_asking_for_network_not_denied if allowed({"action": "policy.read", "session": {"id": ""}, "request": {"read": "dry_run", "dry_run_input": {"request": {"network": true}}}})

test_unknown_action_denied if denied_for({"action": "vm.escape", "request": {}}, "unknown action")

test_no_action_denied if denied_for({"request": {}}, "no action")

test_file_write_outside_denied if denied_for({"action": "file.write", "session": {"id": "s"}, "request": {"path": "/etc/passwd"}}, "writes only under")

test_file_write_inside_allowed if allowed({"action": "file.write", "session": {"id": "s"}, "request": {"path": "/workspace/a.txt"}})

test_read_only_plain_code_allowed if allowed(intent_input("read_only_analysis", {"argv": ["python3", "-c", "import json\nprint(sum(range(10)))\nprint(open('/workspace/data.csv').read())"]}))

test_read_only_open_write_denied if denied_for(intent_input("read_only_analysis", {"argv": ["python3", "-c", "open('/workspace/x', 'w').write('1')"]}), "read_only_analysis")

test_read_only_open_mode_kw_denied if denied_for(intent_input("read_only_analysis", {"argv": ["python3", "-c", "f = open(p, mode=\"ab\")"]}), "read_only_analysis")

test_read_only_os_remove_denied if denied_for(intent_input("read_only_analysis", {"argv": ["python3", "-c", "import os; os.remove('/workspace/a')"]}), "read_only_analysis")

test_read_only_shutil_denied if denied_for(intent_input("read_only_analysis", {"argv": ["python3", "-c", "import shutil"]}), "read_only_analysis")

test_read_only_path_write_denied if denied_for(intent_input("read_only_analysis", {"argv": ["python3", "-c", "Path('x').write_text('y')"]}), "read_only_analysis")

test_read_only_stdin_denied if denied_for(intent_input("read_only_analysis", {"argv": ["python3", "-"], "stdin_bytes": 200000}), "read_only_analysis")

test_read_only_script_file_denied if denied_for(intent_input("read_only_analysis", {"tool": "exec", "argv": ["python3", "/workspace/job.py"]}), "only inline code")

test_code_execution_may_write if allowed(intent_input("code_execution", {"argv": ["python3", "-c", "open('/workspace/x', 'w').write('1')"]}))

test_intent_from_context_applies if denied_for(exec_input({"argv": ["python3", "-c", "import os; os.unlink('a')"], "context": {"intent": {"action_category": "read_only_analysis"}}}), "read_only_analysis")

test_intent_change_denied if denied_for(intent_input("read_only_analysis", {"context": {"intent": {"action_category": "code_execution"}}}), "this request declares")

test_unknown_intent_denied if denied_for(intent_input("exfiltration", {}), "unknown intent")

test_intent_without_category_denied if denied_for(exec_input({"context": {"intent": {"goal": "x"}}}), "action_category")

test_several_reasons_reported if {
	d := decision with input as exec_input({"argv": ["bash"], "cwd": "/"})
	d.allow == false
	count(d.reasons) == 2
}

test_code_allowed if allowed({"action": "exec", "session": {"id": "s"}, "request": {"tool": "code", "argv": ["python3"], "code": "x = 1", "cwd": "/workspace", "timeout_s": 30, "stdin_bytes": 0}})

test_code_read_only_write_denied if denied_for({"action": "exec", "session": {"id": "s", "intent": {"action_category": "read_only_analysis"}}, "request": {"tool": "code", "argv": ["python3"], "code": "open('/workspace/x', 'w').write('1')", "cwd": "/workspace", "timeout_s": 30, "stdin_bytes": 0}}, "looks like it writes")

test_code_read_only_plain_allowed if allowed({"action": "exec", "session": {"id": "s", "intent": {"action_category": "read_only_analysis"}}, "request": {"tool": "code", "argv": ["python3"], "code": "sum(range(10))", "cwd": "/workspace", "timeout_s": 30, "stdin_bytes": 0}})

test_image_any_by_default if allowed({"action": "session.start", "session": {"id": "s"}, "request": {"vcpu": 1, "memory_mb": 512, "image": "numpy"}}) with data.constitution.allowed_images as null

test_image_restricted if denied_for({"action": "session.start", "session": {"id": "s"}, "request": {"vcpu": 1, "memory_mb": 512, "image": "numpy"}}, "not one of the allowed images") with data.constitution.allowed_images as [""]

test_image_allowed_listed if allowed({"action": "session.start", "session": {"id": "s"}, "request": {"vcpu": 1, "memory_mb": 512, "image": "numpy"}}) with data.constitution.allowed_images as ["", "numpy"]

# ------------------------------------------------------------ egress

net_input(action, req, intent) := {
	"action": action,
	"session": {"id": "s-1", "labels": {}, "intent": intent},
	"request": object.union({"host": "pypi.org", "port": 443, "scheme": "https"}, req),
	"caller": {"transport": "egress", "peer": "guest:stream:1", "principal": ""},
	"time": {"unix_ns": 0},
}

egress_data := [
	{"host": "pypi.org", "ports": [443], "schemes": ["https"]},
	{"host": "*.pythonhosted.org", "ports": [443]},
	{"host": "api.internal.example", "ports": [8080], "intents": ["code_execution"], "addresses": ["10.20.0.0/16"]},
]

# The shipped list is empty; these hold for any bundle that copies the
# constitution and fills in its own list.
test_egress_denied_by_default if {
	denied_for(net_input("net.connect", {"addresses": ["151.101.0.223"]}, {}), "egress: pypi.org port 443 is not allowed") with data.constitution.egress as []
	denied_for(net_input("net.resolve", {}, {}), "is not allowed") with data.constitution.egress as []
}

test_egress_session_start_denied_by_default if denied_for(start_input({"egress": true}), "may not ask for egress") with data.constitution.egress as []

test_egress_session_start_without_egress_allowed if allowed(start_input({"egress": false}))

test_egress_allowlisted_host_allowed if {
	allowed(net_input("net.resolve", {}, {})) with data.constitution.egress as egress_data
	allowed(net_input("net.connect", {"addresses": ["151.101.0.223"]}, {})) with data.constitution.egress as egress_data
}

test_egress_connect_obligations if {
	d := decision with input as net_input("net.connect", {"addresses": ["151.101.0.223"]}, {})
		with data.constitution.egress as egress_data
	d.allow
	d.obligations.timeout_s == egress_limits.timeout_s
	d.obligations.max_bytes == egress_limits.max_bytes
	not d.obligations.allow_addresses
}

test_egress_session_start_obligations if {
	d := decision with input as start_input({"egress": true}) with data.constitution.egress as egress_data
	d.allow
	d.obligations.egress_max_bytes == egress_limits.session_max_bytes
	d.obligations.egress_timeout_s == egress_limits.session_timeout_s
}

test_egress_wrong_port_denied if denied_for(net_input("net.connect", {"port": 80}, {}), "port 80 is not allowed") with data.constitution.egress as egress_data

test_egress_wrong_scheme_denied if denied_for(net_input("net.connect", {"scheme": "http"}, {}), "is not allowed") with data.constitution.egress as egress_data

test_egress_other_host_denied if denied_for(net_input("net.connect", {"host": "evil.example"}, {}), "evil.example port 443 is not allowed") with data.constitution.egress as egress_data

test_egress_suffix_trick_denied if denied_for(net_input("net.connect", {"host": "evilpypi.org"}, {}), "is not allowed") with data.constitution.egress as egress_data

test_egress_wildcard_subdomain_allowed if allowed(net_input("net.connect", {"host": "files.pythonhosted.org"}, {})) with data.constitution.egress as egress_data

test_egress_wildcard_not_apex if denied_for(net_input("net.connect", {"host": "pythonhosted.org"}, {}), "is not allowed") with data.constitution.egress as egress_data

test_egress_wildcard_not_lookalike if denied_for(net_input("net.connect", {"host": "evilpythonhosted.org"}, {}), "is not allowed") with data.constitution.egress as egress_data

test_egress_case_insensitive if allowed(net_input("net.connect", {"host": "PyPI.org"}, {})) with data.constitution.egress as egress_data

test_egress_intent_entry if {
	internal := {"host": "api.internal.example", "port": 8080, "scheme": "http", "addresses": ["10.20.1.5"]}
	d := decision with input as net_input("net.connect", internal, {"action_category": "code_execution"})
		with data.constitution.egress as egress_data
	d.allow
	d.obligations.allow_addresses == ["10.20.0.0/16"]
	denied_for(net_input("net.connect", internal, {"action_category": "read_only_analysis"}), "intent \"read_only_analysis\"") with data.constitution.egress as egress_data
	denied_for(net_input("net.connect", internal, {}), "is not allowed") with data.constitution.egress as egress_data
}

test_egress_session_start_needs_an_entry_for_its_intent if {
	only_coding := [{"host": "api.internal.example", "ports": [8080], "intents": ["code_execution"]}]
	denied_for(start_input({"egress": true}), "may not ask for egress") with data.constitution.egress as only_coding
	coding := object.union(start_input({"egress": true}), {"session": {"id": "s-1", "labels": {}, "intent": {"action_category": "code_execution"}}})
	allowed(coding) with data.constitution.egress as only_coding
}

secret_data := [
	{"host": "api.example", "ports": [80], "schemes": ["http"], "inject_secret": {"name": "api-token", "header": "Authorization", "format": "Bearer %s"}},
	{"host": "plain.example", "ports": [80]},
]

test_egress_secret_obligation if {
	d := decision with input as net_input("net.connect", {"host": "api.example", "port": 80, "scheme": "http", "method": "GET", "path": "/", "addresses": ["192.0.2.1"]}, {})
		with data.constitution.egress as secret_data
	d.allow
	d.obligations.inject_secret == {"name": "api-token", "header": "Authorization", "format": "Bearer %s"}
}

test_egress_secret_only_for_its_host if {
	d := decision with input as net_input("net.connect", {"host": "plain.example", "port": 80, "scheme": "http", "method": "GET", "path": "/", "addresses": ["192.0.2.1"]}, {})
		with data.constitution.egress as secret_data
	d.allow
	not d.obligations.inject_secret
}

test_egress_secret_not_on_resolve if {
	d := decision with input as net_input("net.resolve", {"host": "api.example", "port": 80, "scheme": "http"}, {})
		with data.constitution.egress as secret_data
	d.allow
	not d.obligations.inject_secret
}

test_egress_conflicting_secrets_denied if {
	two := array.concat(secret_data, [{"host": "*.example", "ports": [80], "inject_secret": {"name": "other"}}])
	denied_for(net_input("net.connect", {"host": "api.example", "port": 80, "scheme": "http", "method": "GET", "path": "/", "addresses": ["192.0.2.1"]}, {}), "names a secret") with data.constitution.egress as two
}
