"""Egress end to end: a real daemon and a real VM whose workload reaches a
local HTTP server and a local CONNECT target on 127.0.0.1 through the
guest's HTTP proxy, under a copy of the constitution whose allowlist
(data.constitution.egress) names exactly those ports and explicitly allows
the address 127.0.0.1. Everything else is refused: by the policy (a host not
on the list), or by the host itself (a loopback or private address the
policy allowed the name of but not the address), and the refusals reach the
workload as HTTP 403 with the reason in the body. Every connection is in the
audit log. Limits: a stream cap, a byte cap, a reader that never reads, and
the daemon's memory while many streams are open."""
import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import ConnectError, Daemon, egress_bundle, net_records, records_for, vmm_pids

PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "PIP_PROXY"]
PAYLOAD = b"".join(b"line %06d of the egress test file\n" % i for i in range(4000))  # ~140 KB
BYTE_LIMIT = 4 << 20  # the test bundle's per-connection max_bytes


class Quiet(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/file":
            body = PAYLOAD
        elif self.path.startswith("/big"):
            body = b"b" * (16 << 20)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *a):
        pass


class ThreadingHTTP(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class Tcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Echo(socketserver.BaseRequestHandler):
    """The CONNECT target: echoes; "FLOOD\\n" first makes it send without end."""

    def handle(self):
        try:
            first = self.request.recv(65536)
            if first.startswith(b"FLOOD"):
                chunk = b"f" * 65536
                while True:
                    self.request.sendall(chunk)
            while first:
                self.request.sendall(first)
                first = self.request.recv(65536)
        except OSError:
            pass


def serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


@pytest.fixture(scope="module")
def servers():
    web = serve(ThreadingHTTP(("127.0.0.1", 0), Quiet))
    echo = serve(Tcp(("127.0.0.1", 0), Echo))
    yield web.server_address[1], echo.server_address[1]
    web.shutdown()
    echo.shutdown()


@pytest.fixture(scope="module")
def tls_server():
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate for
    IP 127.0.0.1; yields (port, the certificate in PEM)."""
    d = tempfile.mkdtemp(prefix="enclave-egress-tls-")
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = ThreadingHTTP(("127.0.0.1", 0), Quiet)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    serve(srv)
    with open(crt) as f:
        pem = f.read()
    yield srv.server_address[1], pem
    srv.shutdown()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def egress_daemon(servers, tls_server):
    web, echo = servers
    tls, _ = tls_server
    entries = [
        # the local servers, explicitly allowed although they are loopback
        {"host": "127.0.0.1", "ports": [web, echo, tls], "addresses": ["127.0.0.1/32"]},
        # allowed by name and port, but no address: the host refuses loopback
        {"host": "localhost", "ports": [web]},
        # allowed, but a private address the policy does not name
        {"host": "10.1.2.3", "ports": [80]},
    ]
    bundle = egress_bundle(entries, {"max_bytes": BYTE_LIMIT})
    d = Daemon(["--policy", bundle]).start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()
    shutil.rmtree(bundle, ignore_errors=True)


@pytest.fixture(scope="module")
def sid(egress_daemon):
    s = egress_daemon.call("StartSession", {"sessionId": "egress-1", "egress": True})
    assert s["status"] == "READY"
    yield s["sessionId"]
    try:
        egress_daemon.stop_session(s["sessionId"])
    except ConnectError:
        pass


def run(d, sid, code, timeout=120):
    r = d.call("ExecuteTool", {"sessionId": sid, "toolName": "python", "input": code,
                               "timeoutSeconds": timeout})
    assert r.get("exitCode", 0) == 0, r
    return r.get("output", "")


def count_for(d, sid, port):
    return len([x for x in net_records(d, sid) if x.get("port") == port])


FETCH = """
import json, urllib.request, urllib.error
def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            body = r.read()
            return {"status": r.status, "len": len(body), "head": body[:40].decode()}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode(errors="replace")}
    except Exception as e:
        return {"status": 0, "error": repr(e)}
"""


def fetch(d, sid, url):
    out = run(d, sid, FETCH + f"print(json.dumps(fetch({url!r})))")
    return json.loads(out.strip().splitlines()[-1])


def test_proxy_variables_are_set(egress_daemon, sid):
    out = run(egress_daemon, sid, "import os, json; print(json.dumps({k: os.environ.get(k) for k in %r}))"
              % PROXY_VARS)
    env = json.loads(out)
    assert env == {k: "http://127.0.0.1:3128" for k in PROXY_VARS}


def test_code_interpreter_reaches_the_proxy(egress_daemon, sid, servers):
    """RunCode's interpreter gets the proxy variables too, and its urllib goes
    through the proxy."""
    web, _ = servers
    code = ("import os, urllib.request\n"
            f"(os.environ.get('HTTP_PROXY'), len(urllib.request.urlopen('http://127.0.0.1:{web}/file').read()))")
    events = [m for _, m in egress_daemon.stream("RunCode", {"sessionId": sid, "code": code})]
    assert "error" not in events[-1]["end"], events
    texts = [m["text"] for m in events if "text" in m]
    assert texts == [repr(("http://127.0.0.1:3128", len(PAYLOAD)))], events


def test_allowed_get_returns_the_content(egress_daemon, sid, servers):
    web, _ = servers
    before = count_for(egress_daemon, sid, web)
    r = fetch(egress_daemon, sid, f"http://127.0.0.1:{web}/file")
    assert r["status"] == 200, r
    assert r["len"] == len(PAYLOAD)
    assert r["head"] == PAYLOAD[:40].decode()
    recs = [x for x in records_for(egress_daemon, sid, web, before) if x.get("allowed")]
    assert recs, "no NET:CONNECT record for the allowed GET"
    rec = recs[-1]
    # The whole answer reached the workload: complete, whatever way its
    # client closed the connection afterwards.
    assert rec["outcome"] == "complete" and rec["reason"] == "", rec
    assert rec["host"] == "127.0.0.1" and rec["address"] == "127.0.0.1"
    assert rec["addresses"] == ["127.0.0.1"]
    assert rec["method"] == "GET" and rec["path"] == "/file"
    assert rec["bytes_in"] >= len(PAYLOAD) and rec["bytes_out"] > 0
    assert "duration_ms" in rec


def test_https_through_connect_verifies_the_real_certificate(egress_daemon, sid, tls_server):
    """HTTPS goes through CONNECT as an opaque tunnel: the workload's TLS
    session ends at the real server, whose certificate it verifies (the host
    neither terminates nor sees it)."""
    port, pem = tls_server
    before = count_for(egress_daemon, sid, port)
    out = run(egress_daemon, sid, f"""
import ssl, urllib.request
ctx = ssl.create_default_context(cadata={pem!r})
with urllib.request.urlopen("https://127.0.0.1:{port}/file", context=ctx, timeout=60) as r:
    body = r.read()
print(r.status, len(body), body[:40].decode())
""")
    status, n, head = out.strip().split(" ", 2)
    assert (status, int(n), head) == ("200", len(PAYLOAD), PAYLOAD[:40].decode())
    recs = records_for(egress_daemon, sid, port, before)
    assert recs and recs[-1]["allowed"] and recs[-1]["scheme"] == "https"
    assert recs[-1]["method"] == "CONNECT" and recs[-1]["path"] == ""
    # The server closed after its answer and the workload took all of it.
    assert recs[-1]["outcome"] == "complete" and recs[-1]["reason"] == "", recs[-1]


def test_denied_host_gets_the_policys_reason(egress_daemon, sid):
    r = fetch(egress_daemon, sid, "http://denied.invalid/")
    assert r["status"] == 403, r
    assert "denied.invalid port 80 is not allowed" in r["body"]
    recs = [x for x in net_records(egress_daemon, sid) if x.get("host") == "denied.invalid"]
    assert recs and recs[-1]["allowed"] is False and recs[-1]["status"] == 403
    assert recs[-1]["outcome"] == "refused"


def test_private_literal_refused_by_the_host(egress_daemon, sid):
    # The policy allows 10.1.2.3:80 but names no address: the host refuses.
    r = fetch(egress_daemon, sid, "http://10.1.2.3/")
    assert r["status"] == 403, r
    assert "private address" in r["body"]


def test_name_resolving_to_loopback_refused(egress_daemon, sid, servers):
    web, _ = servers
    # Same server as the allowed GET, by a name the policy allows without
    # allowing its address: the host's address check refuses it.
    r = fetch(egress_daemon, sid, f"http://localhost:{web}/file")
    assert r["status"] == 403, r
    assert "resolves to a loopback address" in r["body"]
    recs = [x for x in net_records(egress_daemon, sid) if x.get("host") == "localhost"]
    assert recs and recs[-1]["allowed"] is False
    assert "127.0.0.1" in recs[-1]["addresses"]


CONNECT = """
import socket
def tunnel(port, target):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=60)
    s.sendall(b"CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (target.encode(), target.encode()))
    head = b""
    while b"\\r\\n\\r\\n" not in head:
        b = s.recv(1)
        if not b:
            break
        head += b
    return s, head.decode(errors="replace")
"""


def test_connect_tunnel_to_the_allowed_target(egress_daemon, sid, servers):
    _, echo = servers
    out = run(egress_daemon, sid, CONNECT + f"""
s, head = tunnel(3128, "127.0.0.1:{echo}")
assert head.startswith("HTTP/1.1 200"), head
s.sendall(b"ping through the tunnel")
got = b""
while len(got) < 23:
    got += s.recv(100)
print(got.decode())
s.close()
""")
    assert out.strip() == "ping through the tunnel"


def test_connect_to_a_port_not_on_the_list_is_refused(egress_daemon, sid, servers):
    web, echo = servers
    port = max(web, echo) + 1
    out = run(egress_daemon, sid, CONNECT + f"""
s, head = tunnel(3128, "127.0.0.1:{port}")
print(head.splitlines()[0])
print(s.recv(4096).decode(errors="replace"))
""")
    assert out.startswith("HTTP/1.1 403"), out
    assert f"127.0.0.1 port {port} is not allowed" in out


def test_byte_limit_ends_the_connection(egress_daemon, sid, servers):
    web, _ = servers
    r = fetch(egress_daemon, sid, f"http://127.0.0.1:{web}/big")
    # 16 MiB asked, the connection's max_bytes (4 MiB) ends it first.
    assert r.get("len", 0) < 16 << 20, r
    recs = [x for x in net_records(egress_daemon, sid) if x.get("path") == "/big"]
    assert recs and "byte limit" in recs[-1]["reason"] and recs[-1]["outcome"] == "failed", recs[-1:]
    assert recs[-1]["bytes_in"] + recs[-1]["bytes_out"] <= BYTE_LIMIT


def test_garbage_and_huge_header_are_refused(egress_daemon, sid):
    out = run(egress_daemon, sid, """
import socket
def ask(data):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=30)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got.split(b"\\r\\n")[0].decode(errors="replace")
print(ask(b"\\x00\\xff garbage \\r\\n\\r\\n"))
print(ask(b"GET http://127.0.0.1/ HTTP/1.1\\r\\nX-Big: " + b"a" * 40000 + b"\\r\\n\\r\\n"))
""")
    lines = out.strip().splitlines()
    assert lines[0].startswith("HTTP/1.1 400"), out
    assert lines[1].startswith("HTTP/1.1 431"), out
    assert egress_daemon.get("/ping") == (200, b"pong")


def test_many_streams_capped_and_memory_bounded(egress_daemon, sid, servers):
    """300 tunnels at once, each to a target that floods and a workload that
    never reads: at most max_streams (64) are served, the rest get 503, and
    the daemon's memory stays bounded (each stream holds at most a window)."""
    _, echo = servers
    before = egress_daemon.rss_kb()
    out = run(egress_daemon, sid, CONNECT + f"""
import time
socks, codes = [], {{}}
for i in range(300):
    try:
        s, head = tunnel(3128, "127.0.0.1:{echo}")
    except OSError as e:
        codes["error"] = codes.get("error", 0) + 1
        continue
    code = head.split(" ")[1] if " " in head else "?"
    codes[code] = codes.get(code, 0) + 1
    if code == "200":
        s.sendall(b"FLOOD\\n")
        socks.append(s)
    else:
        s.close()
time.sleep(5)
print(codes)
""", timeout=300)
    codes = eval(out.strip().splitlines()[-1])
    assert codes.get("200", 0) <= 64 and codes.get("200", 0) >= 1, codes
    assert codes.get("503", 0) >= 200, codes
    grown_mib = (egress_daemon.rss_kb() - before) / 1024
    # 64 streams x (window in + window out) is 32 MiB at worst; the daemon
    # must not hold the flood itself.
    assert grown_mib < 96, f"the daemon grew by {grown_mib:.0f} MiB"
    assert egress_daemon.get("/ping") == (200, b"pong")


def test_open_rate_refused_with_429_and_counted(egress_daemon, servers):
    """A workload opening connections in a loop (its own session, so its
    own rate): once past the burst the host refuses opens with 429 before
    any decision; the refusals' records, plus the counts of those left out
    and the last count when the session ends, add up to exactly the 429s
    the workload saw."""
    web, echo = servers
    port = max(web, echo) + 1  # not on the list: each decided open is a quick 403
    s = egress_daemon.call("StartSession", {"sessionId": "egress-rate", "egress": True})
    rid = s["sessionId"]
    try:
        out = run(egress_daemon, rid, CONNECT + f"""
import json
codes, body, after = {{}}, "", 0
for i in range(5000):
    c, head = tunnel(3128, "127.0.0.1:{port}")
    code = head.split(" ")[1] if " " in head else "?"
    codes[code] = codes.get(code, 0) + 1
    if code == "429":
        if not body:
            body = c.recv(4096).decode(errors="replace")
        after += 1
    c.close()
    if after > 30:
        break
print(json.dumps({{"codes": codes, "body": body}}))
""", timeout=300)
    finally:
        egress_daemon.stop_session(rid)
    r = json.loads(out.strip().splitlines()[-1])
    codes = r["codes"]
    assert codes.get("429", 0) > 30, codes
    assert set(codes) == {"403", "429"}, codes
    assert "too many connections opened: at most 10 a second" in r["body"], r
    recs = net_records(egress_daemon, rid)
    decided = [x for x in recs if x.get("status") == 403]
    limited = [x for x in recs if x.get("status") == 429]
    assert len(decided) == codes["403"], (len(decided), codes)
    assert limited, codes
    counted = len(limited) + sum(x.get("suppressed", 0) for x in recs)
    assert counted == codes["429"], (counted, codes)


def test_without_egress_there_is_no_proxy(egress_daemon):
    s = egress_daemon.call("StartSession", {"sessionId": "egress-none"})
    try:
        out = run(egress_daemon, s["sessionId"], """
import os, socket
print(os.environ.get("HTTP_PROXY"))
try:
    socket.create_connection(("127.0.0.1", 3128), timeout=5)
    print("connected")
except OSError:
    print("refused")
""")
        assert out.split() == ["None", "refused"]
    finally:
        egress_daemon.stop_session(s["sessionId"])


def test_constitution_refuses_egress_by_default(fresh_daemon):
    d = fresh_daemon().start()
    with pytest.raises(ConnectError) as e:
        d.call("StartSession", {"sessionId": "no-egress", "egress": True})
    assert e.value.code == "permission_denied"
    assert "may not ask for egress" in e.value.message
    with pytest.raises(ConnectError) as e:
        d.call("StartSession", {"sessionId": "no-egress2", "egress": True},
               service="enclave.v1.Enclave")
    assert e.value.code == "permission_denied"
    # The CLI's flags ask for it the same way; a refusal by the policy
    # exits 126 (not 125, Enclave failed).
    r = d.cli("session", "start", "--egress")
    assert r.returncode == 126 and b"may not ask for egress" in r.stderr, r
    r = d.cli("run", "--egress", "--", "python3", "-c", "pass")
    assert r.returncode == 126 and b"may not ask for egress" in r.stderr, r
    # Without the flag the same daemon starts sessions (the refusal is egress's).
    assert d.call("StartSession", {"sessionId": "plain"})["status"] == "READY"
    d.stop_session("plain")
