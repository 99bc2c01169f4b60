"""The audit log end to end: a real daemon and real VMs.

- the log verifies after a normal run (sessions, execs, a denial when the
  policy in force denies something);
- GetAuditLogs filters (session, since, limit) return the right records;
- the live stream (Server-Sent Events and WebSocket) delivers a run's records
  as they happen, in order, with contiguous sequence numbers, and resumes from
  Last-Event-ID;
- kill -9 of the daemon under a stream of requests loses no acknowledged
  record, and the chain verifies after a restart on the same ENCLAVE_HOME;
- an edited or deleted row in the daemon's real database makes verify fail at
  that record's sequence number.
"""
import base64
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import pytest

from conftest import ALLOW_ROOT, ENCLAVE, ConnectError, Daemon, vmm_pids

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ------------------------------------------------------------------ helpers

class SSE:
    """A Server-Sent Events client on http.client: one event at a time."""

    def __init__(self, daemon, query="", last_event_id=None, timeout=120):
        host, port = daemon.addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        headers = {"Accept": "text/event-stream", **daemon.auth_headers()}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/v1/audit/stream" + (("?" + query) if query else ""),
                          headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.comments = []

    def next(self):
        """The next event as a dict (id, event, data), or None at the end."""
        ev = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line == "":
                if "data" in ev or "event" in ev:
                    return ev
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            ev[field] = value

    def records(self, until, limit=10000):
        """Events until one satisfies until(ev) (inclusive)."""
        out = []
        for _ in range(limit):
            ev = self.next()
            assert ev is not None, f"stream ended after {out}"
            out.append(ev)
            if until(ev):
                return out
        raise AssertionError("no end event")

    def close(self):
        self.conn.close()


class WebSocket:
    """The client side of RFC 6455, just enough to test the server."""

    def __init__(self, daemon, path="/ws/audit", key=None, version="13"):
        addr = daemon.addr
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n"
               f"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
               f"Sec-WebSocket-Version: {version}\r\n"
               f"Authorization: Bearer {daemon.token}\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        b0, b1 = self._read(2)
        assert b1 & 0x80 == 0, "a server must not mask its frames"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def send_frame(self, opcode, payload, mask=True, fin=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack(">H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack(">Q", n)
        if mask:
            m = os.urandom(4)
            head += m
            payload = bytes(b ^ m[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + payload)

    def close(self):
        self.sock.close()


def audit_verify(daemon, *args):
    r = daemon.cli("audit", "verify", *args, timeout=120)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def db_path(daemon):
    return os.path.join(daemon.home, "audit", "audit.db")


def audit_logs(daemon, **kw):
    return daemon.call("GetAuditLogs", kw).get("logs", [])


def kinds_for(events, session_id):
    return [e["event"] for e in events if json.loads(e["data"])["session"] == session_id]


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def adaemon():
    d = Daemon(["--max-output", "64K"]).start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()


# ------------------------------------------------------------------ the stream

def test_stream_delivers_a_run_live_in_order(adaemon):
    d = adaemon
    # Live only (no since_seq): the stream starts at the head.
    sse = SSE(d)
    assert sse.status == 200
    assert sse.resp.getheader("Content-Type").startswith("text/event-stream")
    # Our own audit.read decision is the first thing we see.
    first = sse.next()
    assert first["event"] == "POLICY:DECISION"
    assert json.loads(json.loads(first["data"])["details"])["action"] == "audit.read"
    # Also one stream filtered to the session, opened before it exists.
    sid = "e2e-audit-live"
    only = SSE(d, f"session={sid}")
    assert only.status == 200

    s = d.start_session(sessionId=sid)
    assert s["status"] == "READY"
    out = d.python(sid, "print(6 * 7)")
    assert out["output"].strip() == "42"
    d.stop_session(sid)

    def is_stop(ev):
        return ev["event"] == "SESSION:STOP" and json.loads(ev["data"])["session"] == sid

    events = [first] + sse.records(is_stop)
    seqs = [int(e["id"]) for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"not contiguous: {seqs}"
    for e in events:
        rec = json.loads(e["data"])
        assert rec["seq"] == int(e["id"]) and rec["kind"] == e["event"]
    # Hash links hold across what we saw.
    for a, b in zip(events, events[1:]):
        assert json.loads(b["data"])["prev_hash"] == json.loads(a["data"])["hash"]
    mine = [k for k in kinds_for(events, sid) if k != "POLICY:DECISION"]
    assert mine == ["SESSION:START", "SESSION:READY", "TOOL:EXEC", "SESSION:STOP"], mine

    # The filtered stream has only that session's records, same seqs.
    filtered = only.records(is_stop)
    assert all(json.loads(e["data"])["session"] == sid for e in filtered)
    want = [e for e in events if json.loads(e["data"])["session"] == sid]
    assert [e["id"] for e in filtered] == [e["id"] for e in want]
    sse.close()
    only.close()


def test_stream_catch_up_and_last_event_id(adaemon):
    d = adaemon
    all_ = SSE(d, "since_seq=0")
    events = all_.records(lambda ev: ev["event"] == "SESSION:STOP")
    assert int(events[0]["id"]) == 1 and events[0]["event"] in ("DAEMON:START", "POLICY:LOADED")
    assert "DAEMON:START" in [e["event"] for e in events]
    all_.close()
    # An EventSource reconnecting with Last-Event-ID gets what followed it;
    # the header wins over since_seq.
    pick = int(events[len(events) // 2]["id"])
    again = SSE(d, "since_seq=0", last_event_id=pick)
    nxt = again.next()
    assert int(nxt["id"]) == pick + 1
    assert json.loads(nxt["data"])["prev_hash"] == json.loads(events[len(events) // 2]["data"])["hash"]
    again.close()


@pytest.mark.parametrize("query,header", [
    ("since_seq=abc", None),
    ("since_seq=1&since_seq=2", None),
    ("session=../../etc", None),
    ("session=a%20b", None),
    ("bogus=1", None),
    ("since_seq=99999999999999999999999", None),
    ("", "not-a-number"),
])
def test_stream_bad_requests(adaemon, query, header):
    s = SSE(adaemon, query, last_event_id=header)
    assert s.status == 400
    s.close()


def test_websocket_stream(adaemon):
    d = adaemon
    ws = WebSocket(d, "/ws/audit?since_seq=0")
    assert ws.status == 101
    expect = base64.b64encode(hashlib.sha1((ws.key + WS_GUID).encode()).digest()).decode()
    assert ws.headers["sec-websocket-accept"] == expect
    op, payload = ws.recv_frame()
    assert op == 0x1
    rec = json.loads(payload)
    assert rec["seq"] == 1 and rec["kind"] in ("DAEMON:START", "POLICY:LOADED")
    # Records keep coming in order; a ping is answered with the same payload.
    ws.send_frame(0x9, b"are you there")
    seen = [rec["seq"]]
    while True:
        op, payload = ws.recv_frame()
        if op == 0xA:
            assert payload == b"are you there"
            break
        assert op == 0x1
        seen.append(json.loads(payload)["seq"])
    assert seen == list(range(1, len(seen) + 1))
    # A clean close is echoed, then the server closes the TCP connection.
    ws.send_frame(0x8, struct.pack(">H", 1000))
    while True:
        op, payload = ws.recv_frame()
        if op == 0x8:
            assert struct.unpack(">H", payload[:2])[0] == 1000
            break
    assert ws.sock.recv(10) == b""
    ws.close()


def test_websocket_protocol_errors(adaemon):
    d = adaemon

    def close_code(ws):
        while True:
            op, payload = ws.recv_frame()
            if op == 0x8:
                return struct.unpack(">H", payload[:2])[0]

    # An unmasked client frame breaks RFC 6455 section 5.1.
    ws = WebSocket(d)
    assert ws.status == 101
    ws.send_frame(0x1, b"hello", mask=False)
    assert close_code(ws) == 1002
    ws.close()
    # A message over the limit (4 KiB for this endpoint) is refused.
    ws = WebSocket(d)
    ws.send_frame(0x2, b"x" * 70000)
    assert close_code(ws) == 1009
    ws.close()
    # A fragmented control frame.
    ws = WebSocket(d)
    ws.send_frame(0x9, b"p", fin=False)
    assert close_code(ws) == 1002
    ws.close()
    # Handshake errors: a bad key, a wrong version, a plain GET.
    assert WebSocket(d, key="short").status == 400
    ws = WebSocket(d, version="8")
    assert ws.status == 426 and ws.headers["sec-websocket-version"] == "13"
    conn = http.client.HTTPConnection(*d.addr.rsplit(":", 1), timeout=60)
    conn.request("GET", "/ws/audit", headers=d.auth_headers())
    assert conn.getresponse().status == 400
    conn.close()


def test_stream_heartbeat(adaemon):
    """An idle stream carries a comment every 15 s (waits for one, up to 60 s)."""
    sse = SSE(adaemon, timeout=60)
    first = sse.next()  # our own audit.read decision
    assert first["event"] == "POLICY:DECISION"
    before = len(sse.comments)
    line = sse.resp.readline()
    while line == b"\n":
        line = sse.resp.readline()
    assert line == b": heartbeat\n", line
    assert len(sse.comments) == before
    sse.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def test_slow_stream_client_is_dropped_then_resumes(fresh_daemon):
    """A client that stops reading is cut off at the buffer bound (16 KiB
    here) with a final "dropped" event naming the last seq it was sent; it
    resumes from there with Last-Event-ID and misses nothing.

    On a Unix socket: the kernel holds at most the daemon's socket send
    buffer for a client that does not read (TCP on loopback grows its buffers
    to megabytes, which would take thousands of records to fill)."""
    d = fresh_daemon(env={"ENCLAVE_AUDIT_STREAM_BUFFER": "16384"})
    sock_path = os.path.join(d.home, "api.sock")
    log = open(d.log_path, "ab")
    proc = subprocess.Popen([ENCLAVE, "up", "--socket",
                             sock_path, *ALLOW_ROOT], env=d.env, stdout=log, stderr=subprocess.STDOUT)
    d.proc = proc

    def request(method, path, body=None):
        c = UnixHTTPConnection(sock_path)
        c.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    deadline = time.time() + 60
    while True:
        assert proc.poll() is None, d.read_log()
        try:
            if request("GET", "/ping") == (200, b"pong"):
                break
        except OSError:
            pass
        assert time.time() < deadline, d.read_log()
        time.sleep(0.1)

    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(sock_path)
    slow.sendall(b"GET /v1/audit/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    # Records arrive live while the client reads nothing (each GetAuditLogs
    # is one). The socket buffer takes some first; go on until the daemon
    # says it dropped a client.
    made = 0
    while "dropping a client" not in d.read_log():
        assert made < 20000, "no drop"
        for _ in range(50):
            status, _ = request("POST", "/agent.v1.AgentService/GetAuditLogs", b'{"limit":1}')
            assert status == 200
        made += 50
    # Now read everything: events with contiguous seqs, then the final event, then EOF.
    slow.settimeout(30)
    data = b""
    while True:
        chunk = slow.recv(65536)
        if not chunk:
            break
        data += chunk
    slow.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    events = []
    for block in body.decode().split("\n\n"):
        ev = dict(l.split(": ", 1) for l in block.split("\n")
                  if l and not l.startswith(":") and not l.startswith("retry"))
        if ev:
            events.append(ev)
    assert events[-1]["event"] == "dropped", events[-1]
    info = json.loads(events[-1]["data"])
    assert "slowly" in info["reason"]
    ids = [int(e["id"]) for e in events[:-1]]
    assert ids and ids == list(range(ids[0], ids[0] + len(ids)))
    assert info["last_seq"] == ids[-1]
    # It resumes exactly after the last record it got.
    c = UnixHTTPConnection(sock_path)
    c.request("GET", "/v1/audit/stream", headers={"Last-Event-ID": str(info["last_seq"])})
    r = c.getresponse()
    assert r.status == 200
    line = r.readline()
    while not line.startswith(b"id: "):
        line = r.readline()
    assert int(line[4:]) == info["last_seq"] + 1
    c.close()
    d.stop()
    rc, out = audit_verify(d)
    assert rc == 0, out


# ------------------------------------------------------------------ GetAuditLogs

def test_get_audit_logs_filters(adaemon):
    d = adaemon
    a, b = "e2e-audit-a", "e2e-audit-b"
    for sid in (a, b):
        assert d.start_session(sessionId=sid)["status"] == "READY"
    t_mid = time.time_ns()
    for i in range(3):
        d.python(a, f"print({i})")
    d.python(b, "print('b')")
    for sid in (a, b):
        d.stop_session(sid)

    logs_a = audit_logs(d, sessionId=a, limit=1000)
    assert logs_a and all(l["sessionId"] == a for l in logs_a)
    assert [l["name"] for l in logs_a if l["name"] == "TOOL:EXEC"] == ["TOOL:EXEC"] * 3
    seqs = [int(l["executionId"]) for l in logs_a]
    assert seqs == sorted(seqs)
    # limit: the most recent ones, still in order. Reading is itself an
    # audit.read decision, recorded (under the session asked about) before
    # the query runs, so the newest is this call's own decision.
    last2 = audit_logs(d, sessionId=a, limit=2)
    assert last2[0]["executionId"] == logs_a[-1]["executionId"]
    assert int(last2[1]["executionId"]) > seqs[-1]
    assert last2[1]["name"] == "POLICY:DECISION"
    assert json.loads(last2[1]["args"])["action"] == "audit.read"
    # since: nothing older than the timestamp.
    since = audit_logs(d, sessionId=a, sinceTimestamp=str(t_mid), limit=1000)
    assert since and all(int(l["timestamp"]) >= t_mid for l in since)
    assert "SESSION:START" not in [l["name"] for l in since]
    assert [l["name"] for l in since].count("TOOL:EXEC") == 3
    # Each row carries the full record (hash included) as metadata.
    meta = json.loads(logs_a[-1]["metadataJson"])
    assert meta["seq"] == int(logs_a[-1]["executionId"]) and len(meta["hash"]) == 64
    with pytest.raises(ConnectError) as e:
        audit_logs(d, limit=5000)
    assert e.value.code == "invalid_argument"


def test_denial_is_recorded(adaemon):
    """A request the constitution denies (more vCPUs than it allows, fewer
    than the daemon's own limit) leaves a deny record with the policy's
    reasons, on the live stream as in the log, and no SESSION:START."""
    d = adaemon
    sid = "e2e-audit-deny"
    sse = SSE(d)
    try:
        d.start_session(sessionId=sid, vcpu=8)
    except ConnectError as e:
        if e.code != "permission_denied":
            pytest.skip(f"the policy in force does not deny this ({e.code}: {e.message})")
        assert "vCPU" in e.message
    else:
        d.stop_session(sid)
        pytest.skip("the policy in force does not deny 8 vCPUs")
    rows = audit_logs(d, sessionId=sid, limit=1000)
    denies = [l for l in rows if l["name"] == "POLICY:DECISION" and l["status"] == "deny"]
    assert len(denies) == 1, rows
    assert any("vCPU" in r for r in json.loads(denies[0]["action"]))
    assert json.loads(denies[0]["args"])["action"] == "session.start"
    assert "SESSION:START" not in [l["name"] for l in rows]
    seen = sse.records(lambda ev: json.loads(ev["data"])["session"] == sid
                       and json.loads(ev["data"])["decision"] == "deny")
    assert int(seen[-1]["id"]) == int(denies[0]["executionId"])
    sse.close()


# ------------------------------------------------------------------ verify and tamper

def test_log_verifies_after_the_run_and_tampering_is_found(adaemon):
    """Runs last in this module: stops the module's daemon."""
    d = adaemon
    sid = "e2e-audit-final"
    assert d.start_session(sessionId=sid)["status"] == "READY"
    d.python(sid, "print('x')")
    d.stop_session(sid)
    # While the daemon runs (read-only open), and after a clean stop.
    rc, out = audit_verify(d)
    assert rc == 0, out
    d.stop()
    rc, out = audit_verify(d)
    assert rc == 0 and "OK" in out, out
    db = db_path(d)
    with sqlite3.connect(db) as c:
        n = c.execute("SELECT max(seq) FROM records").fetchone()[0]
        exec_seq = c.execute("SELECT min(seq) FROM records WHERE kind='TOOL:EXEC'").fetchone()[0]
    assert n > 10
    # Edit one record (the sqlite3 shell, as an intruder would).
    edited = os.path.join(d.home, "edited.db")
    subprocess.run(["sqlite3", db, f".backup {edited}"], check=True)
    subprocess.run(["sqlite3", edited, "DROP TRIGGER records_append_only_update; "
                    f"UPDATE records SET details = '{{\"exit_code\":0}}' WHERE seq = {exec_seq};"],
                   check=True)
    rc, out = audit_verify(d, edited)
    assert rc == 1 and f"FAIL at seq {exec_seq}:" in out, out
    # Delete one record in the middle.
    deleted = os.path.join(d.home, "deleted.db")
    subprocess.run(["sqlite3", db, f".backup {deleted}"], check=True)
    victim = n // 2
    subprocess.run(["sqlite3", deleted, "DROP TRIGGER records_append_only_delete; "
                    f"DELETE FROM records WHERE seq = {victim};"], check=True)
    rc, out = audit_verify(d, deleted)
    assert rc == 1 and f"FAIL at seq {victim}:" in out, out
    # The untouched log still verifies.
    rc, out = audit_verify(d)
    assert rc == 0, out


# ------------------------------------------------------------------ kill -9

def test_kill_9_loses_no_acknowledged_record(fresh_daemon):
    d = fresh_daemon().start()
    acked = {}  # seq -> hash of a record an acknowledged reply proved stored
    lock = threading.Lock()
    stop = threading.Event()
    errors = []
    sse = SSE(d, "since_seq=0", timeout=30)
    streamed = {}

    def reader():
        try:
            while True:
                ev = sse.next()
                if ev is None:
                    return
                if "id" in ev:
                    rec = json.loads(ev["data"])
                    streamed[rec["seq"]] = rec["hash"]
        except OSError:
            return

    def client(n):
        # Every GetAuditLogs is itself an audit.read decision, recorded before
        # the query runs; limit=1 returns the newest record, which this call
        # or a concurrent one caused. Its seq and hash are acknowledged.
        while not stop.is_set():
            try:
                logs = audit_logs(d, limit=1)
            except (ConnectError, OSError):
                return  # the daemon died mid-call: nothing acknowledged
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
                return
            meta = json.loads(logs[0]["metadataJson"])
            with lock:
                acked[meta["seq"]] = meta["hash"]

    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.5 + random.random())
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    rt.join(timeout=30)
    sse.close()
    assert not errors, errors
    assert len(acked) > 10, f"only {len(acked)} acknowledged replies before the kill"

    # Restart on the same ENCLAVE_HOME: the log opens (its tail checks out).
    d.stop()
    d.start()
    d.stop()
    with sqlite3.connect(db_path(d)) as c:
        stored = dict(c.execute("SELECT seq, hash FROM records"))
    missing = {s: h for s, h in acked.items() if stored.get(s) != h}
    assert not missing, f"acknowledged records lost or changed: {sorted(missing)[:10]}"
    # Whatever the stream delivered was stored too (it is sent after commit).
    lost = {s for s, h in streamed.items() if stored.get(s) != h}
    assert not lost, f"streamed records not in the log: {sorted(lost)[:10]}"
    rc, out = audit_verify(d)
    assert rc == 0, out


# ------------------------------------------------------------------ checkpoints, proofs, witness

def test_checkpoints_stream_witness_and_proofs(fresh_daemon, tmp_path):
    """A daemon with --audit-witness and a checkpoint every second: a stream
    with checkpoints=1 (SSE and WebSocket) carries signed checkpoints whose
    note verifies with audit.pub and whose root is the RFC 6962 root of the
    records the stream delivered; every checkpoint lands in the witness; after
    shutdown the log verifies against the witness, and a proof made by the
    CLI verifies with the independent Python checker."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "audit"))
    import rfc6962
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    witness_dir = tmp_path / "elsewhere"
    witness_dir.mkdir()
    d = fresh_daemon(["--audit-witness", str(witness_dir)],
                     env={"ENCLAVE_AUDIT_CHECKPOINT_S": "1"}).start()
    pub_path = os.path.join(d.home, "keys", "audit.pub")
    with open(pub_path, "rb") as f:
        pub = load_pem_public_key(f.read())

    sse = SSE(d, "since_seq=0&checkpoints=1")
    assert sse.status == 200
    leaves, checkpoint = [], None
    for _ in range(1000):
        ev = sse.next()
        assert ev is not None
        data = json.loads(ev["data"])
        if ev["event"] == "checkpoint":
            checkpoint = data
            break
        assert data["seq"] == len(leaves) + 1
        leaf = rfc6962.leaf_hash(rfc6962.record_leaf(data))
        assert data["leaf_hash"] == leaf.hex()
        leaves.append(leaf)
    sse.close()
    assert checkpoint is not None, "no checkpoint within a second or so"
    _, size, root, ext = rfc6962.open_checkpoint(checkpoint["note"], pub)
    assert size == checkpoint["seq"] and size <= len(leaves)
    assert ext == ["time_ns %d" % checkpoint["time_ns"]]
    assert root == rfc6962.Tree(leaves).root(size)
    assert root.hex() == checkpoint["root_hash"]

    ws = WebSocket(d, "/ws/audit?since_seq=0&checkpoints=1")
    assert ws.status == 101
    kinds = []
    while True:
        op, payload = ws.recv_frame()
        if op != 0x1:
            continue
        msg = json.loads(payload)
        kinds.append(msg["type"])
        if msg["type"] == "checkpoint":
            rfc6962.open_checkpoint(msg["note"], pub)
            break
    assert kinds[0] == "record"
    ws.close()

    d.stop()
    witness = witness_dir / "audit-checkpoints.jsonl"
    lines = [json.loads(x) for x in witness.read_text().splitlines() if x]
    assert len(lines) >= 2
    for w in lines:
        assert rfc6962.open_checkpoint(w["note"], pub)[1] == w["tree_size"]
    db = os.path.join(d.home, "audit", "audit.db")
    r = d.cli("audit", "verify", "--key", pub_path, "--witness", str(witness), db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"extends all %d witnessed checkpoints" % len(lines) in r.stdout
    r = d.cli("audit", "proof", "--db", db, "1")
    assert r.returncode == 0, r.stderr
    proof = tmp_path / "proof.json"
    proof.write_bytes(r.stdout)
    check = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..",
                                                             "audit", "check_proof.py"),
                            pub_path, str(proof)], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.startswith("OK: record 1 is in"), check.stdout
    r = d.cli("audit", "verify-proof", "--key", pub_path, str(proof))
    assert r.returncode == 0 and r.stdout.startswith(b"OK: record 1"), r.stdout
    # OCSF: one event per record, API Activity.
    r = d.cli("audit", "export", "--db", db, "--format", "ocsf")
    events = [json.loads(x) for x in r.stdout.splitlines()]
    assert events and all(e["class_uid"] == 6003 and e["type_uid"] == 600300 + e["activity_id"]
                          for e in events)
    assert [e["metadata"]["sequence"] for e in events] == list(range(1, len(events) + 1))
