# The Agentic Constitution: the policy Enclave enforces unless `enclave up
# --policy DIR` names another. docs/policy.md describes the input documents
# and every rule below.
#
# Shape: every rule that refuses something adds a reason to `deny`; the
# decision allows exactly when no reason was found. Each rule is written as
# "deny unless the request is shown to be fine", so an input that lacks a
# field is refused, never waved through. A check on a field that may be
# missing is a rule of its own, negated as a whole (`not timeout_ok`):
# Rego evaluates the arguments of a negated call first, so
# `not request.timeout_s <= max` would fail, not hold, without the field.
package enclave

cfg := data.constitution

known_actions := {"session.start", "exec", "session.stop", "audit.read", "policy.read", "policy.apply", "file.read", "file.write", "net.resolve", "net.connect"}

decision := {"allow": true, "reasons": [sprintf("allowed by the Agentic Constitution (%s)", [input.action])], "obligations": obligations} if {
	count(deny) == 0
}

decision := {"allow": false, "reasons": sort(deny)} if {
	count(deny) > 0
}

default obligations := {}

obligations := {"timeout_s": cfg.max_timeout_s, "max_output_bytes": cfg.max_output_bytes, "env_allowlist": cfg.env_allowlist} if {
	input.action == "exec"
}

obligations := object.union(object.union({"timeout_s": egress_limits.timeout_s, "max_bytes": egress_limits.max_bytes}, egress_address_obligation), egress_secret_obligation) if {
	input.action == "net.connect"
}

obligations := {"egress_max_bytes": egress_limits.session_max_bytes, "egress_timeout_s": egress_limits.session_timeout_s} if {
	input.action == "session.start"
	request.egress == true
}

# ------------------------------------------------------------ every action

action_named if is_string(input.action)

deny contains "the input names no action" if {
	not action_named
}

deny contains sprintf("unknown action %q: the constitution denies what it does not know", [input.action]) if {
	is_string(input.action)
	not input.action in known_actions
}

request := object.get(input, "request", {})

context := object.get(request, "context", {})

# What a request asks for, in its own fields or in the client's context.
asked := [request, context]

# No network: the guest has no NIC, and a request that asks for one is refused.
deny contains sprintf("no network: the request asks for network access (%s: %v)", [key, doc[key]]) if {
	some doc in asked
	is_object(doc)
	some key in {"network", "net", "network_access"}
	not doc[key] in {false, "none", null}
}

# Workloads run only as uid 1000.
deny contains sprintf("workloads run only as uid %d; the request asks for %s %v", [cfg.uid, key, doc[key]]) if {
	some doc in asked
	is_object(doc)
	some key in {"user", "uid", "run_as"}
	not doc[key] in {cfg.uid, sprintf("%d", [cfg.uid]), "agent"}
}

# ------------------------------------------------------------ policy.apply

# Replacing the policy is an operator's act. The daemon names the caller's
# principal: "operator" for the Unix-socket peer with the daemon's uid or a
# request with the operator token, "agent" for the API token. Anything else
# (an agent, no principal at all) is refused, so code running on the agent's
# credential cannot install a bundle that allows everything.
caller_principal := object.get(object.get(input, "caller", {}), "principal", "missing")

deny contains sprintf("only the operator may replace the policy; the caller is %v", [caller_principal]) if {
	input.action == "policy.apply"
	caller_principal != "operator"
}

# ------------------------------------------------------------ session.start

deny contains sprintf("a session may have at most %d vCPUs; %v were asked for", [cfg.max_vcpu, request.vcpu]) if {
	input.action == "session.start"
	not vcpu_ok
}

vcpu_ok if request.vcpu <= cfg.max_vcpu

deny contains sprintf("a session may have at most %d MiB of memory; %v were asked for", [cfg.max_memory_mb, request.memory_mb]) if {
	input.action == "session.start"
	not memory_ok
}

memory_ok if request.memory_mb <= cfg.max_memory_mb

# Image variants: when data.constitution.allowed_images is a list, a session
# may boot only those ("" is the default image). Absent: any variant.
deny contains sprintf("the image %q is not one of the allowed images %v", [object.get(request, "image", ""), cfg.allowed_images]) if {
	input.action == "session.start"
	is_array(object.get(cfg, "allowed_images", null))
	not object.get(request, "image", "") in cfg.allowed_images
}

# ------------------------------------------------------------ exec

program_allowed if request.argv[0] in cfg.exec_allowlist

deny contains sprintf("only python3 may run (argv[0] must be one of %v); argv[0] is %v", [cfg.exec_allowlist, object.get(request, ["argv", 0], "missing")]) if {
	input.action == "exec"
	not program_allowed
}

deny contains sprintf("unknown tool %v (the tools are %v)", [object.get(request, "tool", "missing"), cfg.tools]) if {
	input.action == "exec"
	not tool_known
}

tool_known if request.tool in cfg.tools

# A path is under a root when it is the root or below it, with no ".." step.
under_root(path) if {
	is_string(path)
	some root in cfg.write_roots
	path_within(path, root)
	not has_dotdot(path)
}

path_within(path, root) if path == root

path_within(path, root) if startswith(path, concat("", [root, "/"]))

has_dotdot(path) if {
	some seg in split(path, "/")
	seg == ".."
}

deny contains sprintf("writes only under %v: the working directory %v is outside them", [cfg.write_roots, object.get(request, "cwd", "missing")]) if {
	input.action == "exec"
	not cwd_ok
}

cwd_ok if under_root(request.cwd)

deny contains sprintf("the time limit is at most %d s; %v s was asked for", [cfg.max_timeout_s, object.get(request, "timeout_s", "no limit")]) if {
	input.action == "exec"
	not timeout_ok
}

timeout_ok if request.timeout_s <= cfg.max_timeout_s

# ------------------------------------------------------------ files (as those actions arrive)

deny contains sprintf("writes only under %v: %v is outside them", [cfg.write_roots, object.get(request, "path", "missing")]) if {
	input.action == "file.write"
	not path_ok
}

path_ok if under_root(request.path)

deny contains sprintf("the session declared the intent read_only_analysis; writing %v is not part of it", [object.get(request, "path", "missing")]) if {
	input.action == "file.write"
	intent_category == "read_only_analysis"
}

# ------------------------------------------------------------ intent
#
# A session is held to the intent it declared: core passes it as
# session.intent, and the daemon puts there the intent the first exec of the
# session declared in ToolRequest.context_json {"intent": {...}}.

session_intent := object.get(object.get(input, "session", {}), "intent", {})

request_intent := object.get(context, "intent", {})

default intent_category := ""

intent_category := object.get(session_intent, "action_category", "") if count(session_intent) > 0

intent_category := object.get(request_intent, "action_category", "") if count(session_intent) == 0

deny contains sprintf("unknown intent %v (the constitution knows %v)", [intent_category, cfg.intents]) if {
	intent_category != ""
	not intent_known
}

intent_known if intent_category in cfg.intents

deny contains "a declared intent needs an action_category" if {
	some doc in [session_intent, request_intent]
	count(doc) > 0
	not names_category(doc)
}

names_category(doc) if is_string(doc.action_category)

deny contains sprintf("the session declared the intent %v; this request declares %v", [session_intent.action_category, request_intent.action_category]) if {
	count(session_intent) > 0
	count(request_intent) > 0
	session_intent.action_category != request_intent.action_category
}

# read_only_analysis: the code must not write. This is a heuristic over the
# program text (docs/policy.md lists what it looks for): it stops ordinary
# code that writes files or starts processes, not code written to hide it.
read_only_exec if {
	input.action == "exec"
	intent_category == "read_only_analysis"
}

deny contains "the session declared the intent read_only_analysis; only inline code (python3 -c CODE) can be checked, and this request has none" if {
	read_only_exec
	not request.tool == "code"
	not request.argv[1] == "-c"
}

deny contains "the session declared the intent read_only_analysis; code sent on stdin cannot be checked" if {
	read_only_exec
	request.stdin_bytes > 0
}

deny contains sprintf("the session declared the intent read_only_analysis; this code looks like it writes or runs something (matches %q)", [pattern]) if {
	read_only_exec
	some pattern in cfg.write_patterns
	regex.match(pattern, checked_code)
}

# The code a request runs: a RunCode cell's text (tool "code"), else the
# arguments after the program.
checked_code := request.code if request.tool == "code"

checked_code := concat("\n", array.slice(request.argv, 1, count(request.argv))) if not request.tool == "code"

# ------------------------------------------------------------ egress
#
# The guest has no network device. A session started with egress gets an
# HTTP proxy in the guest; the host asks "net.resolve" before it looks a name
# up and "net.connect" (with the addresses it resolved) before it connects.
# Both are denied unless an entry of data.constitution.egress allows the host
# and port for the session's intent. That list is empty here: no egress at
# all until an operator's bundle names what to allow (docs/egress.md).
#
# An entry: {"host": "pypi.org" | "*.example.com" | "10.1.2.3",
#            "ports": [443], "schemes": ["https"] (optional: any),
#            "intents": ["code_execution"] (optional: any intent, or none),
#            "addresses": ["10.0.0.0/8"] (optional: non-public addresses
#            this entry may reach; without it only public addresses),
#            "inject_secret": {"name": "api-token", "header": "Authorization",
#            "format": "Bearer %s"} (optional: a secret of the host's store
#            that the host adds to each request of the connection; plain
#            HTTP only, the value never enters the VM)}

egress_rules := object.get(cfg, "egress", [])

egress_limits := object.get(cfg, "egress_limits", {"timeout_s": 600, "max_bytes": 1073741824, "session_max_bytes": 4294967296, "session_timeout_s": 86400})

egress_rule_applies(rule) if not rule.intents

egress_rule_applies(rule) if intent_category in rule.intents

egress_scheme_ok(rule) if not rule.schemes

egress_scheme_ok(rule) if request.scheme in rule.schemes

egress_host_matches(pattern, host) if pattern == host

# "*.example.com" matches every name below example.com, not example.com itself.
egress_host_matches(pattern, host) if {
	startswith(pattern, "*.")
	endswith(host, trim_prefix(pattern, "*"))
}

egress_match contains i if {
	input.action in {"net.resolve", "net.connect"}
	some i, rule in egress_rules
	egress_rule_applies(rule)
	egress_host_matches(lower(rule.host), lower(request.host))
	request.port in rule.ports
	egress_scheme_ok(rule)
}

deny contains sprintf("egress: %v port %v is not allowed for this session (no entry of data.constitution.egress matches it for intent %q)", [object.get(request, "host", "missing"), object.get(request, "port", "missing"), intent_category]) if {
	input.action in {"net.resolve", "net.connect"}
	count(egress_match) == 0
}

deny contains sprintf("egress: no outbound connection is allowed for intent %q (data.constitution.egress has no entry for it), so a session may not ask for egress", [intent_category]) if {
	input.action == "session.start"
	object.get(request, "egress", false) != false
	count([rule | some rule in egress_rules; egress_rule_applies(rule)]) == 0
}

egress_allowed_addresses := {a | some i in egress_match; some a in object.get(egress_rules[i], "addresses", [])}

default egress_address_obligation := {}

egress_address_obligation := {"allow_addresses": sort(egress_allowed_addresses)} if count(egress_allowed_addresses) > 0

# A secret the matching entries name goes into the net.connect decision as
# the obligation inject_secret (the name, never the value). Entries that
# match the same connection and name different secrets are a mistake of the
# list: the connection is refused rather than given the wrong credential.
egress_secrets := {s | some i in egress_match; s := egress_rules[i].inject_secret}

default egress_secret_obligation := {}

egress_secret_obligation := {"inject_secret": s} if {
	count(egress_secrets) == 1
	some s in egress_secrets
}

deny contains "egress: more than one entry of data.constitution.egress names a secret for this host and port, and they differ" if {
	input.action == "net.connect"
	count(egress_secrets) > 1
}
