"""The policy gate end to end: every deny rule of the Agentic Constitution is
hit through the real API against a real VM and shown to forward nothing; an
obligation is carried out; a policy that errors or runs out of budget
denies; broken bundles (ApplyPolicy, SIGHUP) are refused and the old one
keeps deciding.

Each denied request carries code that would create a marker file in the
guest if it ran, so each test fails if the denial it checks is removed."""
import json
import os
import signal
import tempfile
import time
import uuid

import pytest

from conftest import ConnectError, Daemon, vmm_pids


def audit(daemon, session_id=None, limit=1000):
    body = {"limit": limit}
    if session_id:
        body["sessionId"] = session_id
    return daemon.call("GetAuditLogs", body).get("logs", [])


def count(logs, name):
    return sum(1 for r in logs if r.get("name") == name)


def last_decision(logs, action):
    """The newest POLICY:DECISION about action (GetAuditLogs records its own
    audit.read decision too)."""
    found = [r for r in logs if r.get("name") == "POLICY:DECISION" and json.loads(r["args"]).get("action") == action]
    assert found, f"no decision about {action}"
    return found[-1]


def marker_code(path):
    return f"open({path!r}, 'w').write('ran')\nprint('ran')"


def exists_in_guest(daemon, session_id, path):
    # Under the custom bundle's 2 s obligation a loaded TCG guest may not get
    # python started in time (exit 124): ask again rather than guess.
    for _ in range(5):
        r = daemon.python(session_id, f"import os; print(os.path.exists({path!r}))")
        if r.get("exitCode") != 124:
            break
    assert "output" in r, r
    return r["output"].strip() == "True"


def assert_denied(daemon, session_id, body, reason, marker):
    """Sends body (an ExecuteTool request); it must be refused with the
    policy's reason, leave no TOOL:EXEC record and no marker."""
    before = audit(daemon, session_id)
    with pytest.raises(ConnectError) as e:
        daemon.call("ExecuteTool", body)
    assert e.value.code == "permission_denied", e.value
    assert reason in e.value.message, e.value.message
    after = audit(daemon, session_id)
    assert count(after, "TOOL:EXEC") == count(before, "TOOL:EXEC")
    decision = last_decision(after, "exec")
    assert decision["status"] == "deny"
    assert any(reason in x for x in json.loads(decision["action"]))
    assert not exists_in_guest(daemon, session_id, marker)


def exec_body(session_id, code, **kw):
    body = {"sessionId": session_id, "toolName": "python", "input": code}
    body.update(kw)
    return body


# ------------------------------------------------------------ the constitution


def test_constitution_is_in_force(daemon, session):
    info = daemon.call("GetInfo", {}, service="enclave.v1.Enclave")
    assert len(info["policyDigest"]) == 64 and int(info["policyDigest"], 16) >= 0
    logs = audit(daemon)
    loaded = [r for r in logs if r["name"] == "POLICY:LOADED"]
    assert loaded and json.loads(loaded[0]["args"])["origin"] == "builtin"
    r = daemon.python(session, "print('ok')")
    assert r["output"] == "ok\n"
    decision = last_decision(audit(daemon, session), "exec")
    assert decision["status"] == "allow"
    meta = json.loads(decision["metadataJson"])
    assert info["policyDigest"] in json.dumps(meta)


def test_program_outside_the_allowlist_is_denied(daemon, session):
    m = f"/workspace/pol-{uuid.uuid4().hex}"
    # python3.11 is the same interpreter under another name: only the
    # allowlist stops it.
    argv = ["python3.11", "-c", marker_code(m)]
    assert_denied(daemon, session, {"sessionId": session, "toolName": "exec", "input": json.dumps(argv)},
                  "only python3 may run", m)


def test_cwd_outside_workspace_and_tmp_is_denied(daemon, session):
    m = f"/workspace/pol-{uuid.uuid4().hex}"
    body = {"sessionId": session, "toolName": "exec",
            "input": json.dumps({"argv": ["python3", "-c", marker_code(m)], "cwd": "/"})}
    assert_denied(daemon, session, body, "writes only under", m)


def test_time_limit_over_600_s_is_denied(daemon, session):
    m = f"/workspace/pol-{uuid.uuid4().hex}"
    assert_denied(daemon, session, exec_body(session, marker_code(m), timeoutSeconds=700),
                  "the time limit is at most 600 s", m)


def test_request_for_network_is_denied(daemon, session):
    m = f"/workspace/pol-{uuid.uuid4().hex}"
    assert_denied(daemon, session, exec_body(session, marker_code(m), contextJson=json.dumps({"network": True})),
                  "no network", m)


def test_request_for_another_user_is_denied(daemon, session):
    m = f"/workspace/pol-{uuid.uuid4().hex}"
    assert_denied(daemon, session, exec_body(session, marker_code(m), contextJson=json.dumps({"user": "root"})),
                  "only as uid 1000", m)


def test_session_limits_are_denied_before_a_vm_boots(daemon):
    for kw, reason in (({"vcpu": 8}, "at most 4 vCPUs"), ({"memoryMb": 8192}, "at most 4096 MiB")):
        sid = f"pol-big-{uuid.uuid4().hex[:8]}"
        with pytest.raises(ConnectError) as e:
            daemon.start_session(sessionId=sid, **kw)
        assert e.value.code == "permission_denied" and reason in e.value.message
        listed = daemon.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])
        assert sid not in [s["sessionId"] for s in listed]
        logs = audit(daemon, sid)
        assert count(logs, "SESSION:START") == 0 and count(logs, "SESSION:READY") == 0
        assert vmm_pids(sid) == []


def test_read_only_intent_holds_the_session(daemon):
    sid = daemon.start_session(sessionId=f"pol-ro-{uuid.uuid4().hex[:8]}")["sessionId"]
    try:
        ro = json.dumps({"intent": {"action_category": "read_only_analysis"}})
        # The first exec declares the intent; reading is fine.
        r = daemon.call("ExecuteTool", exec_body(sid, "print(len(open('/etc/hostname').read()) >= 0)", contextJson=ro))
        assert r["output"] == "True\n"
        m = f"/workspace/pol-{uuid.uuid4().hex}"
        # Declared again: writing is refused.
        assert_denied(daemon, sid, exec_body(sid, marker_code(m), contextJson=ro), "read_only_analysis", m)
        # Not declared this time: the session is still held to it.
        assert_denied(daemon, sid, exec_body(sid, marker_code(m)), "read_only_analysis", m)
        assert_denied(daemon, sid, exec_body(sid, f"import os\nos.makedirs({m!r})"), "read_only_analysis", m)
        # Declaring another intent does not get out of it.
        ce = json.dumps({"intent": {"action_category": "code_execution"}})
        assert_denied(daemon, sid, exec_body(sid, marker_code(m), contextJson=ce), "this request declares", m)
    finally:
        daemon.stop_session(sid)


def test_stop_and_audit_read_are_allowed(daemon):
    sid = daemon.start_session(sessionId=f"pol-stop-{uuid.uuid4().hex[:8]}")["sessionId"]
    assert daemon.stop_session(sid)["success"] is True
    logs = audit(daemon, sid)
    assert last_decision(logs, "session.stop")["status"] == "allow"
    assert last_decision(audit(daemon), "audit.read")["status"] == "allow"


# ------------------------------------------------------------ custom bundles

PERMISSIVE = """package enclave

decision := {"allow": true, "reasons": ["test bundle"], "obligations": {"timeout_s": 2}} if input.action == "exec"

decision := {"allow": true, "reasons": ["test bundle"]} if input.action != "exec"

test_exec_gets_two_seconds if decision.obligations.timeout_s == 2 with input as {"action": "exec"}
"""

BUDGET = """package enclave

decision := {"allow": true} if input.action != "exec"

decision := {"allow": n > 0} if {
	input.action == "exec"
	n := count([1 | some i in numbers.range(1, 4000); some j in numbers.range(1, 4000)])
}
"""

CONFLICT = """package enclave

decision := {"allow": true} if input.action != "exec"

decision := {"allow": true} if input.action == "exec"

decision := {"allow": false, "reasons": ["second"]} if input.action == "exec"
"""

DIVIDE = """package enclave

decision := {"allow": true} if input.action != "exec"

decision := {"allow": 1 / (count(input.action) - 4) > 0} if input.action == "exec"
"""

NO_APPLY = """package enclave

decision := {"allow": true} if input.action != "policy.apply"

decision := {"allow": false, "reasons": ["this bundle stays"]} if input.action == "policy.apply"
"""


def apply(daemon, text, sid=""):
    return daemon.call("ApplyPolicy", {"sessionId": sid, "policyYaml": text})


def digest(daemon):
    return daemon.call("GetInfo", {}, service="enclave.v1.Enclave")["policyDigest"]


@pytest.fixture(scope="module")
def custom():
    bundle = tempfile.mkdtemp(prefix="enclave-policy-")
    with open(os.path.join(bundle, "test.rego"), "w") as f:
        f.write(PERMISSIVE)
    d = Daemon(["--policy", bundle]).start()
    sid = d.start_session(sessionId="pol-custom")["sessionId"]
    yield d, sid, bundle
    d.stop()
    assert vmm_pids(d.home) == []
    d.cleanup()


def test_obligation_timeout_kills_a_longer_sleep(custom):
    d, sid, _ = custom
    r = d.python(sid, "import time\ntime.sleep(30)\nprint('late')", timeout=60)
    assert r["exitCode"] == 124 and "timed out after 2 s" in r["error"]
    assert "late" not in r.get("output", "")
    meta = json.loads(r["syscallLogs"][0]["metadataJson"])
    assert meta["timed_out"] is True
    decision = last_decision(audit(d, sid), "exec")
    assert json.loads(decision["args"])["obligation_timeout_s"] == 2


@pytest.mark.parametrize("bundle,reason", [
    (BUDGET, "budget"),
    (CONFLICT, "policy evaluation failed"),
    (DIVIDE, "deny"),
])
def test_a_policy_that_fails_denies(custom, bundle, reason):
    d, sid, _ = custom
    old = digest(d)
    assert apply(d, bundle, sid)["success"] is True
    assert digest(d) != old
    m = f"/workspace/pol-{uuid.uuid4().hex}"
    before = count(audit(d, sid), "TOOL:EXEC")
    with pytest.raises(ConnectError) as e:
        d.python(sid, marker_code(m))
    assert e.value.code == "permission_denied" and reason in e.value.message, e.value.message
    assert count(audit(d, sid), "TOOL:EXEC") == before
    # Back to the permissive bundle, which shows the marker was never made.
    assert apply(d, PERMISSIVE, sid)["success"] is True
    assert not exists_in_guest(d, sid, m)


@pytest.mark.parametrize("text,why", [
    ("package enclave\n\ndecision := {\"allow\": true\n", "does not parse"),
    ("package enclave\n\ndecision := {\"allow\": x}\n", "does not compile"),
    ("package enclave\n\ndecision := {\"allow\": true}\n\ntest_fails if false\n", "test_fails"),
    ("package other\n\nallow := true\n", "data.enclave.decision"),
    ("modules:\n  a.rego: [1, 2]\n", "must be a string"),
    ("modules:\n  ../escape.rego: \"package enclave\"\n", "module name"),
    ("x: &a [1]\ny: *a\n", "aliases"),
])
def test_a_broken_bundle_is_refused_and_the_old_one_decides(custom, text, why):
    d, sid, _ = custom
    old = digest(d)
    r = apply(d, text, sid)
    assert r.get("success", False) is False and why in r["error"], r
    assert digest(d) == old
    refused = [x for x in audit(d) if x["name"] == "POLICY:REFUSED"]
    assert refused and why in json.loads(refused[-1]["args"])["error"]
    # Still the permissive bundle: its 2 s obligation applies.
    r = d.python(sid, "import time\ntime.sleep(5)", timeout=30)
    assert r["exitCode"] == 124


def test_apply_accepts_yaml_with_data(custom):
    d, sid, _ = custom
    doc = ("modules:\n"
           "  main.rego: |\n"
           "    package enclave\n"
           "    decision := {\"allow\": true, \"obligations\": {\"timeout_s\": data.limits.t}} if input.action == \"exec\"\n"
           "    decision := {\"allow\": true} if input.action != \"exec\"\n"
           "data:\n"
           "  limits:\n"
           "    t: 3\n")
    assert apply(d, doc, sid)["success"] is True
    loaded = [x for x in audit(d) if x["name"] == "POLICY:LOADED"][-1]
    assert json.loads(loaded["args"])["digest"] == digest(d)
    r = d.python(sid, "import time\ntime.sleep(10)", timeout=30)
    assert "timed out after 3 s" in r["error"]
    assert apply(d, PERMISSIVE, sid)["success"] is True


def test_apply_is_decided_by_the_bundle_in_force(custom):
    d, sid, _ = custom
    assert apply(d, NO_APPLY, sid)["success"] is True
    held = digest(d)
    with pytest.raises(ConnectError) as e:
        apply(d, PERMISSIVE, sid)
    assert e.value.code == "permission_denied" and "this bundle stays" in e.value.message
    assert digest(d) == held
    decision = last_decision(audit(d, sid), "policy.apply")
    assert decision["status"] == "deny"


def test_constitution_lets_only_the_operator_apply(fresh_daemon):
    """Under the built-in constitution, replacing the policy is the
    operator's act: the agent token is refused before the text is read and
    the bundle in force stays; the operator token replaces it. Both
    decisions are on record."""
    d = fresh_daemon().start()
    held = digest(d)
    with pytest.raises(ConnectError) as e:
        apply(d, PERMISSIVE)  # the helpers send the agent token
    assert e.value.code == "permission_denied", e.value
    assert "only the operator may replace the policy; the caller is agent" in e.value.message
    assert digest(d) == held
    r = d.call("ApplyPolicy", {"sessionId": "", "policyYaml": PERMISSIVE}, operator=True)
    assert r["success"] is True, r
    assert digest(d) != held
    logs = d.call("GetAuditLogs", {"limit": 1000}, operator=True)["logs"]
    decisions = [x for x in logs if x["name"] == "POLICY:DECISION"
                 and json.loads(x["args"]).get("action") == "policy.apply"]
    assert [x["status"] for x in decisions] == ["deny", "allow"]
    assert count(logs, "POLICY:REFUSED") == 0  # the agent's text was never even parsed


def test_sighup_reloads_and_refuses_a_broken_directory(custom):
    d, sid, bundle = custom
    # NO_APPLY from the test before may be in force: SIGHUP goes back to the directory.
    # A reload compiles and tests the bundle: seconds on a busy machine.
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 120
    while time.time() < deadline:
        loaded = [x for x in audit(d) if x["name"] == "POLICY:LOADED"]
        if json.loads(loaded[-1]["args"])["how"] == "sighup":
            break
        time.sleep(0.2)
    assert json.loads(loaded[-1]["args"])["how"] == "sighup", loaded[-1]
    good = digest(d)
    assert json.loads(loaded[-1]["args"])["origin"] == bundle
    with open(os.path.join(bundle, "zz_broken.rego"), "w") as f:
        f.write("package enclave\n\ndecision := {\n")
    try:
        n_refused = count(audit(d), "POLICY:REFUSED")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 120
        while time.time() < deadline and count(audit(d), "POLICY:REFUSED") == n_refused:
            time.sleep(0.2)
        refused = [x for x in audit(d) if x["name"] == "POLICY:REFUSED"]
        assert len(refused) == n_refused + 1
        assert "zz_broken.rego:" in json.loads(refused[-1]["args"])["error"]
        assert digest(d) == good
        r = d.python(sid, "import time\ntime.sleep(5)", timeout=30)
        assert r["exitCode"] == 124  # the old bundle's 2 s obligation
    finally:
        os.unlink(os.path.join(bundle, "zz_broken.rego"))


def test_a_broken_bundle_stops_the_daemon_from_starting(fresh_daemon):
    bundle = tempfile.mkdtemp(prefix="enclave-policy-")
    with open(os.path.join(bundle, "p.rego"), "w") as f:
        f.write("package enclave\n\ndecision := {\"allow\": true}\n\ntest_no if false\n")
    d = fresh_daemon(["--policy", bundle])
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "p.rego:5" in str(e.value) and "test_no" in str(e.value)


HUNGRY_TEST = """package enclave

decision := {"allow": true}

test_hungry if {
    s := concat("", [x | some _ in numbers.range(1, 2000); x := "aaaaaaaaaa"])
    count(replace(s, "a", s)) > 0
}
"""


def test_bundle_whose_test_allocates_without_bound_is_refused(fresh_daemon):
    """A submitted bundle's tests run under a memory budget: a test that
    would build a 400 MB string is refused with the budget error, the
    bundle in force stays, and the daemon goes on answering."""
    d = fresh_daemon().start()
    held = digest(d)
    r = d.call("ApplyPolicy", {"sessionId": "", "policyYaml": HUNGRY_TEST}, operator=True)
    assert not r.get("success"), r
    assert "test_hungry" in r["error"] and "eval_budget_error: memory budget exceeded" in r["error"], r
    assert digest(d) == held
    assert d.proc.poll() is None
    refused = [x for x in d.call("GetAuditLogs", {"limit": 100}, operator=True)["logs"]
               if x["name"] == "POLICY:REFUSED"]
    assert refused and "memory budget exceeded" in json.loads(refused[-1]["args"])["error"]
