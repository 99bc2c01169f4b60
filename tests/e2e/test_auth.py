"""Who may use the API: the token on TCP, the Host and Origin checks against
browsers, the daemon's uid on the Unix socket, the /login cookie, the caller's
principal in the policy input, and the audit records of refusals. A real
daemon throughout; gRPC through python3-grpcio."""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

from conftest import ALLOW_ROOT, ENCLAVE, ConnectError, Daemon, vmm_pids

SVC = "/agent.v1.AgentService/"

# audit.read and policy.apply only for the operator, so that the principal
# the API hands the handlers is visible from outside; everything else allowed.
OPERATOR_READS = """package enclave

operator_only := {"audit.read", "policy.apply"}

decision := {"allow": true} if not operator_only[input.action]

decision := {"allow": true} if {
	operator_only[input.action]
	input.caller.principal == "operator"
}

decision := {"allow": false, "reasons": [sprintf("principal %q may not do %s", [input.caller.principal, input.action])]} if {
	operator_only[input.action]
	input.caller.principal != "operator"
}
"""


@pytest.fixture(scope="module")
def d():
    bundle = tempfile.mkdtemp(prefix="enclave-policy-")
    with open(os.path.join(bundle, "p.rego"), "w") as f:
        f.write(OPERATOR_READS)
    daemon = Daemon(["--policy", bundle]).start()
    yield daemon
    daemon.stop()
    assert vmm_pids(daemon.home) == []
    daemon.cleanup()
    shutil.rmtree(bundle, ignore_errors=True)


def refusals(d):
    logs = d.call("GetAuditLogs", {"limit": 1000}, operator=True).get("logs", [])
    return [json.loads(r["args"]) | {"seq": int(r["executionId"])} for r in logs
            if r["name"] == "API:REFUSED"]


def connect_error(status, body):
    doc = json.loads(body)
    return status, doc["code"]


def raw_grpc(channel, path):
    return channel.unary_unary(path, request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)


# ------------------------------------------------------------------ tokens


def test_token_files_are_private_and_distinct(d):
    for name in ("api-token", "operator-token"):
        st = os.stat(os.path.join(d.home, "run", name))
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.geteuid()
    assert re.fullmatch(r"[0-9a-f]{64}", d.token)
    assert re.fullmatch(r"[0-9a-f]{64}", d.operator_token)
    assert d.token != d.operator_token
    # enclave token prints the same ones.
    assert d.cli("token").stdout.decode().strip() == d.token
    assert d.cli("token", "--operator").stdout.decode().strip() == d.operator_token


def test_no_token_is_refused_and_nothing_happens(d):
    status, body = d.raw(SVC + "StartSession", b'{"sessionId": "no-token"}', auth=False)
    assert connect_error(status, body) == (401, "unauthenticated")
    listed = d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])
    assert [s for s in listed if s["sessionId"] == "no-token"] == []
    assert vmm_pids(d.home) == []
    # Every kind of route, not only RPCs; /ping stays open.
    for path in ("/v1/audit/stream", "/ws/audit", "/no/such/route"):
        assert d.get(path, auth=False)[0] == 401, path
    assert d.get("/ping", auth=False) == (200, b"pong")


@pytest.mark.parametrize("value", [
    "Bearer " + "0" * 64,            # well-formed, wrong
    "Bearer ",                       # empty
    "Basic dXNlcjpwYXNz",            # another scheme
    "Bearer a b",                    # two words
    "Bearer " + "x" * 300,           # over the header limit
])
def test_wrong_token_is_refused(d, value):
    status, body = d.raw(SVC + "GetAuditLogs", b"{}", auth=False, headers={"Authorization": value})
    assert connect_error(status, body) == (401, "unauthenticated")


def test_a_token_with_a_prefix_or_suffix_is_refused(d):
    for bad in (d.token[:-1], d.token + "0", d.token.upper()):
        status, body = d.raw(SVC + "GetAuditLogs", b"{}", auth=False,
                             headers={"Authorization": "Bearer " + bad})
        assert status == 401, bad


def test_connect_client_works_with_the_token(d):
    assert d.call("ListSessions", {}, service="enclave.v1.Enclave") is not None
    info = d.call("GetInfo", {}, service="enclave.v1.Enclave")
    assert info.get("version")


def test_grpc_without_or_with_a_wrong_token_is_unauthenticated(d):
    for token in ("", "f" * 64):
        ch = d.grpc_channel(token=token)
        with pytest.raises(grpc.RpcError) as e:
            raw_grpc(ch, "/enclave.v1.Enclave/ListSessions")(b"", timeout=30)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED, token
        ch.close()


def test_streaming_calls_need_the_token(d):
    """Server streaming (enclave.v1.Enclave/Exec) over Connect and gRPC is
    refused before the call starts, like a unary one."""
    body = b"\x00\x00\x00\x00\x02{}"
    status, _, data = d.request("POST", "/enclave.v1.Enclave/Exec", body, auth=False,
                                headers={"Content-Type": "application/connect+json"}, timeout=30)
    assert status == 401 and b"unauthenticated" in data
    ch = d.grpc_channel(token="")
    call = ch.unary_stream("/enclave.v1.Enclave/Exec", request_serializer=lambda b: b,
                           response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as e:
        list(call(b"", timeout=30))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    ch.close()


def test_grpc_client_works_with_the_token(d):
    ch = d.grpc_channel()
    assert raw_grpc(ch, "/enclave.v1.Enclave/ListSessions")(b"", timeout=30) is not None
    ch.close()


def test_cli_reads_the_token_and_enclave_token_overrides(d):
    p = d.cli("session", "ls")
    assert p.returncode == 0, p.stderr
    # Another home (no token file there) with ENCLAVE_TOKEN: still works.
    other = tempfile.mkdtemp(prefix="enclave-other-")
    try:
        env = dict(d.env, ENCLAVE_HOME=other, ENCLAVE_ADDR=d.addr, ENCLAVE_TOKEN=d.token)
        p = subprocess.run([ENCLAVE, "session", "ls"], env=env, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        env["ENCLAVE_TOKEN"] = "0" * 64
        p = subprocess.run([ENCLAVE, "session", "ls"], env=env, capture_output=True, timeout=60)
        assert p.returncode != 0
        assert b"unauthenticated" in p.stderr and b"ENCLAVE_TOKEN" in p.stderr
    finally:
        shutil.rmtree(other, ignore_errors=True)


# ------------------------------------------------------------------ principals


def test_principal_reaches_the_policy(d):
    """The bundle lets only the operator read the log: the agent token is
    refused by policy, the operator token allowed, over Connect and gRPC."""
    with pytest.raises(ConnectError) as e:
        d.call("GetAuditLogs", {"limit": 1})
    assert e.value.code == "permission_denied" and 'principal "agent" may not' in e.value.message
    assert "logs" in d.call("GetAuditLogs", {"limit": 1}, operator=True)
    ch = d.grpc_channel()
    with pytest.raises(grpc.RpcError) as ge:
        raw_grpc(ch, SVC + "GetAuditLogs")(b"", timeout=30)
    assert ge.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ch.close()
    ch = d.grpc_channel(operator=True)
    raw_grpc(ch, SVC + "GetAuditLogs")(b"", timeout=30)
    ch.close()


def test_policy_apply_from_the_cli_uses_the_operator_token(d, tmp_path):
    doc = tmp_path / "p.rego"
    doc.write_text(OPERATOR_READS)
    # The agent token may not replace the policy here ...
    with pytest.raises(ConnectError) as e:
        d.call("ApplyPolicy", {"policyYaml": OPERATOR_READS})
    assert e.value.code == "permission_denied"
    p = d.cli("policy", "apply", str(doc), env={"ENCLAVE_TOKEN": d.token})
    assert p.returncode == 1 and b"permission_denied" in p.stderr, p.stderr
    # ... the CLI reads the operator token by itself.
    p = d.cli("policy", "apply", str(doc))
    assert p.returncode == 0, p.stderr
    assert b"is in force" in p.stderr
    # "-": the document on standard input, a pipe here.
    p = d.cli("policy", "apply", "-", input=OPERATOR_READS.encode())
    assert p.returncode == 0 and b"is in force" in p.stderr, p.stderr
    assert d.call("ApplyPolicy", {"policyYaml": OPERATOR_READS}, operator=True)["success"]


# ------------------------------------------------------------------ browsers


@pytest.mark.parametrize("host", [
    "evil.example",                    # DNS rebinding: the attacker's name
    "evil.example:{port}",
    "127.0.0.1:1",                     # another port
    "127.0.0.1",                       # no port (means 80)
    "localhost.:{port}",               # trailing dot
    "127.0.0.1:0{port}",               # leading zero
    "[::1]:{port}x",
    "127.0.0.2:{port}",
])
def test_foreign_host_is_refused(d, host):
    status, body = d.raw(SVC + "GetAuditLogs", b"{}", operator=True,
                         headers={"Host": host.format(port=d.port)})
    assert connect_error(status, body) == (403, "permission_denied")


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LocalHost:{port}",
                                  "[::1]:{port}"])
def test_local_host_names_are_accepted(d, host):
    status, _ = d.raw(SVC + "GetAuditLogs", b"{}", operator=True,
                      headers={"Host": host.format(port=d.port)})
    assert status == 200


def test_foreign_origin_on_post_is_refused(d):
    for origin in ("http://evil.example", "null", f"https://localhost:{d.port}",
                   f"http://localhost:{d.port}.evil.example", "http://127.0.0.1:1"):
        status, body = d.raw(SVC + "GetAuditLogs", b"{}", operator=True,
                             headers={"Origin": origin})
        assert connect_error(status, body) == (403, "permission_denied"), origin
    for origin in (f"http://127.0.0.1:{d.port}", f"http://localhost:{d.port}"):
        status, _ = d.raw(SVC + "GetAuditLogs", b"{}", operator=True, headers={"Origin": origin})
        assert status == 200, origin


WS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_foreign_origin_on_websocket_and_sse_is_refused(d):
    """The audit stream: a cross-site page gets 403 on the WebSocket upgrade
    and on SSE, even with the token (WebSockets are not covered by CORS)."""
    for headers in ({"Origin": "http://evil.example"}, {"Host": "evil.example"}):
        status, rh, body = d.request("GET", "/ws/audit", headers={**WS, **headers}, operator=True,
                                     timeout=30)
        assert status == 403, (headers, body)
        assert "upgrade" not in {k.lower() for k in rh.keys()}
        status, _, _ = d.request("GET", "/v1/audit/stream", headers=headers, operator=True,
                                 timeout=30)
        assert status == 403, headers
    # Without a token the upgrade is refused too.
    status, _, _ = d.request("GET", "/ws/audit", headers=WS, auth=False, timeout=30)
    assert status == 401


def test_no_cors_headers(d):
    _, rh, _ = d.request("POST", SVC + "GetAuditLogs", b"{}", operator=True,
                         headers={"Content-Type": "application/json",
                                  "Origin": f"http://localhost:{d.port}"})
    assert not [k for k in rh.keys() if k.lower().startswith("access-control-")]
    _, rh, _ = d.request("OPTIONS", SVC + "GetAuditLogs", operator=True,
                         headers={"Origin": "http://evil.example",
                                  "Access-Control-Request-Method": "POST"})
    assert not [k for k in rh.keys() if k.lower().startswith("access-control-")]


def test_grpc_with_a_foreign_authority_is_refused(d):
    ch = d.grpc_channel(options=[("grpc.default_authority", "evil.example")])
    with pytest.raises(grpc.RpcError) as e:
        raw_grpc(ch, "/enclave.v1.Enclave/ListSessions")(b"", timeout=30)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ch.close()


def test_login_sets_a_strict_httponly_cookie_that_works(d):
    status, rh, _ = d.request("GET", "/login?token=" + d.token, auth=False, timeout=30)
    assert status == 303 and rh["Location"] == "/"
    cookie = rh["Set-Cookie"]
    attrs = [a.strip() for a in cookie.split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/" in attrs
    pair = attrs[0]
    name, value = pair.split("=", 1)
    assert name == f"enclave_session_{d.port}"
    assert d.token not in value, "the cookie is derived from the token, not the token itself"
    # The cookie authenticates as the agent ...
    status, _ = d.raw("/enclave.v1.Enclave/ListSessions", b"{}", auth=False,
                      headers={"Cookie": f"other=1; {pair}"})
    assert status == 200
    status, body = d.raw(SVC + "GetAuditLogs", b"{}", auth=False, headers={"Cookie": pair})
    assert connect_error(status, body) == (403, "permission_denied")  # agent, by policy
    # ... still under the Origin and Host checks.
    status, _ = d.raw("/enclave.v1.Enclave/ListSessions", b"{}", auth=False,
                      headers={"Cookie": pair, "Origin": "http://evil.example"})
    assert status == 403
    # A cookie that is not the session's is refused.
    status, _ = d.raw("/enclave.v1.Enclave/ListSessions", b"{}", auth=False,
                      headers={"Cookie": f"{name}={'0' * 64}"})
    assert status == 401
    # The operator token logs in as the operator.
    status, rh, _ = d.request("GET", "/login?token=" + d.operator_token, auth=False, timeout=30)
    op_pair = rh["Set-Cookie"].split(";")[0]
    assert op_pair != pair
    status, _ = d.raw(SVC + "GetAuditLogs", b"{}", auth=False, headers={"Cookie": op_pair})
    assert status == 200


def test_login_with_a_wrong_token_sets_nothing(d):
    for query in ("token=" + "0" * 64, "", "token=", f"token={d.token}&token={d.token}"):
        status, rh, _ = d.request("GET", "/login?" + query, auth=False, timeout=30)
        assert status == 401, query
        assert rh.get("Set-Cookie") is None


# ------------------------------------------------------------------ Unix socket


def test_unix_socket_refuses_another_uid(fresh_daemon):
    """Even when the socket's mode lets another user connect, the daemon
    checks the peer's uid: nobody is refused, our own uid is the operator."""
    d = fresh_daemon()
    sockdir = tempfile.mkdtemp(prefix="enclave-sock-")
    os.chmod(sockdir, 0o755)
    sock = os.path.join(sockdir, "api.sock")
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen([ENCLAVE, "up", "--socket", sock, *ALLOW_ROOT], env=d.env,
                              stdout=d.log, stderr=subprocess.STDOUT)
    try:
        request = ("POST /enclave.v1.Enclave/ListSessions HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: application/json\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\n{}")
        client = ("import socket, sys, os\n"
                  "uid = int(sys.argv[2])\n"
                  "if uid != os.getuid():\n"
                  "    os.setgid(65534); os.setuid(uid)\n"
                  "s = socket.socket(socket.AF_UNIX)\n"
                  "s.connect(sys.argv[1])\n"
                  f"s.sendall({request!r}.encode())\n"
                  "data = b''\n"
                  "while True:\n"
                  "    c = s.recv(65536)\n"
                  "    if not c: break\n"
                  "    data += c\n"
                  "print(data.decode(errors='replace'))\n")
        deadline = time.time() + 60
        while not os.path.exists(sock):
            assert d.proc.poll() is None and time.time() < deadline, d.read_log()
            time.sleep(0.1)
        os.chmod(sock, 0o666)  # a mistake the daemon must survive

        def run_as(uid):
            p = subprocess.run([sys.executable, "-c", client, sock, str(uid)],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stderr
            return p.stdout

        out = ""
        while not out.startswith("HTTP/1.1 200"):
            assert time.time() < deadline, out + d.read_log()
            try:
                out = run_as(os.getuid())
            except AssertionError:
                time.sleep(0.1)
        nobody = run_as(65534)
        assert nobody.startswith("HTTP/1.1 403"), nobody
        assert "permission_denied" in nobody and "uid 65534" in nobody
        # The refusal is in the log, with the peer's uid.
        assert "unix:uid:65534" in audit_via_socket(sock)
    finally:
        d.stop()
        shutil.rmtree(sockdir, ignore_errors=True)


def audit_via_socket(sock):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    body = b'{"limit": 1000}'
    s.sendall(b"POST /agent.v1.AgentService/GetAuditLogs HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    return data.decode(errors="replace")


# ------------------------------------------------------------------ audit


def test_refusals_are_audited_at_a_bounded_rate(d):
    """A flood of refused requests leaves at most a few records a second; the
    records count the ones left out, so none goes unaccounted."""
    # Start a fresh window and flush any count left by earlier tests.
    time.sleep(1.1)
    d.get("/flush", auth=False)
    base = max([r["seq"] for r in refusals(d)] + [0])
    n = 200
    for i in range(n):
        d.get(f"/flood/{i}", auth=False)
    time.sleep(1.1)
    d.get("/last", auth=False)
    new = [r for r in refusals(d) if r["seq"] > base]
    assert new[-1]["path"] == "/last"
    assert sum(1 + r["suppressed"] for r in new) == n + 1
    assert len(new) < n + 1
    assert any(r["suppressed"] > 0 for r in new)
    first = new[0]
    assert first["status"] == 401 and first["peer"].startswith("tcp:127.0.0.1:")
    assert first["transport"] == "http" and first["method"] == "GET"
    assert first["path"].startswith("/flood/")


def test_refused_host_and_origin_are_audited(d):
    time.sleep(1.1)
    d.raw(SVC + "GetAuditLogs", b"{}", headers={"Host": "rebound.example"})
    d.raw(SVC + "GetAuditLogs", b"{}", headers={"Origin": "http://page.example"})
    recs = refusals(d)[-2:]
    assert [r["status"] for r in recs] == [403, 403]
    assert "Host" in recs[0]["reason"] and "Origin" in recs[1]["reason"]
