"""Attacks on the host boundary from the parties docs/security.md names, each
against a real daemon, each failing if its defence is taken away: a page on
another port of localhost (same-site: the browser attaches the login cookie),
a cross-site form POST, another local user sharing $ENCLAVE_HOME's
surroundings, an agent holding the agent token, and the workload inside a
VM. Only the workload's attacks boot a VM (one, for the module)."""
import base64
import json
import os
import re
import shutil
import socket
import stat
import time

import pytest

from conftest import ConnectError, Daemon, vmm_pids

SVC = "/agent.v1.AgentService/"
NOBODY = 65534


@pytest.fixture(scope="module")
def d():
    daemon = Daemon().start()
    yield daemon
    daemon.stop()
    assert vmm_pids(daemon.home) == []
    daemon.cleanup()


def login_cookie(d):
    status, rh, _ = d.request("GET", "/login?token=" + d.token, auth=False, timeout=30)
    assert status == 303
    return rh["Set-Cookie"].split(";")[0]


def session_ids(d):
    listed = d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])
    return {s["sessionId"] for s in listed}


# ------------------------------------------------------------------ a web page


def test_a_page_on_another_localhost_port_cannot_use_the_cookie(d):
    """A page on http://localhost:8080 is the same *site* as the daemon
    (ports do not separate sites), so the browser attaches the SameSite=Strict
    cookie to its requests; a GET for an <img> or <script>, or a navigation,
    carries no Origin. The browser's Sec-Fetch-Site says where it came from,
    and only the daemon's own pages (same-origin) and what the user typed
    (none) may use the cookie."""
    cookie = login_cookie(d)
    # The UI page, the audit stream and an RPC, each as another local page would ask.
    for site in ("same-site", "cross-site", "bogus"):
        h = {"Cookie": cookie, "Sec-Fetch-Site": site}
        status, _, body = d.request("GET", "/", headers=h, auth=False, timeout=30)
        assert status == 403, (site, body)
        status, _, _ = d.request("GET", "/v1/audit/stream", headers=h, auth=False, timeout=30)
        assert status == 403, site
        status, body = d.raw("/enclave.v1.Enclave/ListSessions", b"{}", auth=False, headers=h)
        assert status == 403 and json.loads(body)["code"] == "permission_denied", site
    # The daemon's own page, and one the user typed in, are served.
    for site in ("same-origin", "none"):
        status, _, _ = d.request("GET", "/", headers={"Cookie": cookie, "Sec-Fetch-Site": site},
                                 auth=False, timeout=30)
        assert status == 200, site
    # The refusal is audited, with what the browser said.
    logs = d.call("GetAuditLogs", {"limit": 1000}, operator=True)["logs"]
    reasons = [json.loads(r["args"])["reason"] for r in logs if r["name"] == "API:REFUSED"]
    assert any("Sec-Fetch-Site" in r for r in reasons)


def test_a_cross_site_form_post_starts_nothing(d):
    """An HTML form can POST text/plain across sites with no preflight. Even
    in a browser that attached the cookie, the Origin check refuses it; a
    form from another port of localhost likewise; and a text/plain body is
    not taken for JSON even with a valid credential."""
    cookie = login_cookie(d)
    body = b'{"sessionId": "csrf"}'
    for origin in ("http://evil.example", "null", "http://localhost:8080",
                   f"http://127.0.0.1:{d.port + 1}"):
        status, data = d.raw(SVC + "StartSession", body, content_type="text/plain", auth=False,
                             headers={"Cookie": cookie, "Origin": origin})
        assert status == 403 and json.loads(data)["code"] == "permission_denied", origin
    status, _ = d.raw(SVC + "StartSession", body, content_type="text/plain")
    assert status == 415
    status, _ = d.raw(SVC + "StartSession", body, content_type="text/plain; charset=utf-8",
                      auth=False, headers={"Cookie": cookie})
    assert status == 415
    assert "csrf" not in session_ids(d)
    assert vmm_pids(d.home) == []


def test_a_page_cannot_reach_the_websocket_from_another_port(d):
    """WebSockets are not covered by CORS; a page on another localhost port
    (same-site, with the cookie) opening /ws/audit is refused before the
    upgrade, with and without a credential."""
    cookie = login_cookie(d)
    ws = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Cookie": cookie,
          "Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-site"}
    status, rh, _ = d.request("GET", "/ws/audit", headers=ws, auth=False, timeout=30)
    assert status == 403
    assert "upgrade" not in {k.lower() for k in rh.keys()}
    # Same-origin with the cookie: upgraded (the control).
    ws.update({"Origin": f"http://127.0.0.1:{d.port}", "Sec-Fetch-Site": "same-origin"})
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        s.sendall(("GET /ws/audit HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % d.port
                   + "".join(f"{k}: {v}\r\n" for k, v in ws.items()) + "\r\n").encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 101")
    finally:
        s.close()


# ------------------------------------------------------------------ an agent


def test_each_request_on_a_kept_alive_connection_is_admitted_alone(d):
    """A connection that carried one authenticated request is no credential
    for the next: requests pipelined behind it without a token, or with a
    foreign Host, are refused (and nothing starts)."""
    body = b'{"sessionId": "pipelined"}'
    good = (f"POST /enclave.v1.Enclave/ListSessions HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
            f"Authorization: Bearer {d.token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\n\r\n{}").encode()
    no_token = (f"POST {SVC}StartSession HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    rebound = (f"POST {SVC}StartSession HTTP/1.1\r\nHost: evil.example:{d.port}\r\n"
               f"Authorization: Bearer {d.token}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    for second in (no_token, rebound):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        try:
            s.sendall(good + second)
            data = b""
            while data.count(b"HTTP/1.1 ") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
        assert statuses[:1] == [b"200"], data[:300]
        assert statuses[1:2] in ([b"401"], [b"403"]), data[:600]
    assert "pipelined" not in session_ids(d)
    assert vmm_pids(d.home) == []


def test_deeply_nested_json_is_refused_and_the_daemon_lives(d):
    """A body nested a hundred thousand levels deep (a recursion bomb for a
    recursive decoder) is a 400, nothing starts, and the daemon serves on."""
    for depth in (100_000, 3_000):
        body = b'{"sessionId": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"
        status, data = d.raw(SVC + "StartSession", body)
        assert status == 400, data[:200]
        assert json.loads(data)["code"] == "invalid_argument"
        body = b'{"sessionId": "deep", "x": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
        status, _ = d.raw(SVC + "StartSession", body)
        assert status == 400
    assert d.get("/ping") == (200, b"pong")
    assert "deep" not in session_ids(d)


def open_stream(d, path="/v1/audit/stream", token=None):
    """A raw audit stream request that stays open; returns (socket, status line)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
               f"Authorization: Bearer {token or d.token}\r\n\r\n").encode())
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.split(b"\r\n", 1)[0].decode()


def test_an_agent_cannot_hold_audit_streams_without_bound(d):
    """Each live audit stream holds a buffer in the daemon: at most 64 are
    served at once, of which the agent token may hold 56; the other 8 are
    kept for the operator, so an agent cannot lock the operator out of the
    live log. Past either bound the answer is 503, RPCs go on being served,
    and a slot is free again once a client leaves."""
    agent, operator = [], []
    try:
        for _ in range(56):
            s, status = open_stream(d)
            agent.append(s)
            assert status == "HTTP/1.1 200 OK", status
        s, status = open_stream(d)
        s.close()
        assert status.startswith("HTTP/1.1 503"), status
        # The operator's reserve is there, whatever the agent holds.
        for _ in range(8):
            s, status = open_stream(d, token=d.operator_token)
            operator.append(s)
            assert status == "HTTP/1.1 200 OK", status
        s, status = open_stream(d, token=d.operator_token)
        s.close()
        assert status.startswith("HTTP/1.1 503"), status
        assert d.call("ListSessions", {}, service="enclave.v1.Enclave") is not None
        # A slot the agent gave back is the agent's again; one the operator
        # gave back is not (it is part of the reserve).
        operator.pop().close()
        for _ in range(100):  # the daemon sees the close on its loop
            s, status = open_stream(d, token=d.operator_token)
            if status.startswith("HTTP/1.1 200"):
                operator.append(s)
                break
            s.close()
            time.sleep(0.05)
        assert status == "HTTP/1.1 200 OK", status
        operator.pop().close()
        agent.pop().close()
        for _ in range(100):
            s, status = open_stream(d)
            if status.startswith("HTTP/1.1 200"):
                agent.append(s)
                break
            s.close()
            time.sleep(0.05)
        assert status == "HTTP/1.1 200 OK", status
        s, status = open_stream(d)
        s.close()
        assert status.startswith("HTTP/1.1 503"), status
    finally:
        for s in agent + operator:
            s.close()


# ------------------------------------------------------------------ another local user


def start_refused(daemon):
    with pytest.raises(RuntimeError) as e:
        daemon.start()
    return str(e.value)


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_home_others_can_write_is_refused(fresh_daemon, mode):
    """ENCLAVE_HOME under a shared folder (/tmp, say) that another user made or
    can write: they could replace run/, audit/ or trust/ with their own. The
    daemon refuses to start and makes nothing there."""
    daemon = fresh_daemon()
    os.chmod(daemon.home, mode)
    log = start_refused(daemon)
    assert "ENCLAVE_HOME" in log and "writable" in log, log
    for sub in ("run", "audit", "keys"):
        assert not os.path.exists(os.path.join(daemon.home, sub)), sub


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_home_or_private_folder_of_another_user_is_refused(fresh_daemon):
    daemon = fresh_daemon()
    os.chown(daemon.home, NOBODY, NOBODY)
    log = start_refused(daemon)
    assert "belongs to uid %d" % NOBODY in log, log
    os.chown(daemon.home, os.geteuid(), os.getegid())
    # A trust store planted by another user (its keys would be trusted).
    trust = os.path.join(daemon.home, "trust")
    os.mkdir(trust, 0o700)
    os.chown(trust, NOBODY, NOBODY)
    log = start_refused(daemon)
    assert "trust belongs to uid %d" % NOBODY in log, log
    assert not os.path.exists(os.path.join(daemon.home, "run"))


def test_private_folders_and_the_audit_log_are_made_private(fresh_daemon):
    """Folders made earlier with a loose mode (an older version, a copy, a
    umask of 022) are narrowed to 0700 at start, and the audit database with
    its -wal and -shm files is 0600 whatever the umask: another user reads
    no audit record, key or token."""
    daemon = fresh_daemon()
    for sub in ("audit", "keys", "run"):
        os.mkdir(os.path.join(daemon.home, sub))
        os.chmod(os.path.join(daemon.home, sub), 0o755)
    old = os.umask(0o022)
    try:
        daemon.start()
    finally:
        os.umask(old)
    try:
        daemon.call("GetAuditLogs", {"limit": 1})  # the log is open and written
        for sub in ("audit", "keys", "run"):
            mode = stat.S_IMODE(os.stat(os.path.join(daemon.home, sub)).st_mode)
            assert mode == 0o700, (sub, oct(mode))
        audit = os.path.join(daemon.home, "audit")
        names = [n for n in os.listdir(audit) if n.startswith("audit.db")]
        assert {"audit.db", "audit.db-wal", "audit.db-shm"} <= set(names), names
        for n in names:
            mode = stat.S_IMODE(os.stat(os.path.join(audit, n)).st_mode)
            assert mode & 0o077 == 0, (n, oct(mode))
    finally:
        daemon.stop()
    # A database left world-readable by an earlier daemon is narrowed too.
    db = os.path.join(daemon.home, "audit", "audit.db")
    os.chmod(db, 0o644)
    daemon.start()
    try:
        assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    finally:
        daemon.stop()


def test_no_token_in_the_daemons_command_line_or_environment(d):
    """/proc/PID/cmdline is readable by every local user: the daemon is
    given no token there (nor in its environment, which ps -e shows root)."""
    with open(f"/proc/{d.proc.pid}/cmdline", "rb") as f:
        cmdline = f.read()
    with open(f"/proc/{d.proc.pid}/environ", "rb") as f:
        environ = f.read()
    for token in (d.token, d.operator_token):
        assert token.encode() not in cmdline
        assert token.encode() not in environ


# ------------------------------------------------------------------ the workload (one VM)


@pytest.fixture(scope="module")
def sid(d):
    s = d.start_session(sessionId="hb-vm")
    assert s["status"] == "READY"
    yield s["sessionId"]
    try:
        d.stop_session(s["sessionId"])
    except ConnectError:
        pass


def test_a_file_name_that_is_not_utf8_is_listed_not_hidden(d, sid):
    """The workload names its files with any bytes. Such a name cannot travel
    in JSON or a protobuf string as it is; it is listed with U+FFFD in place
    of what is not UTF-8, so a workload cannot hide a file from the listing
    an agent or the operator reads, nor make the listing fail."""
    r = d.python(sid, "open(b'/workspace/hid\\xff\\xfeden', 'w').close()\n"
                      "open('/workspace/plain', 'w').close()\n")
    assert r.get("exitCode", 0) == 0, r
    status, _, body = d.get_file(sid, "/workspace/")
    assert status == 200, body
    names = [e["name"] for e in json.loads(body)["entries"]]
    assert "plain" in names and "hid\ufffd\ufffdden" in names, names
    listed = d.call("ListFiles", {"sessionId": sid, "path": "/workspace"},
                    service="enclave.v1.Enclave")["entries"]
    assert "hid\ufffd\ufffdden" in [e["name"] for e in listed]


def test_a_file_name_cannot_drive_the_operators_terminal(d, sid):
    """A workload can put terminal escape sequences in a file name (clear
    the screen, move the cursor over a line, retitle the window). `enclave
    session ls-files` shows them escaped; the name is still recognisable."""
    r = d.python(sid, "import os\nos.makedirs('/workspace/esc', exist_ok=True)\n"
                      "open('/workspace/esc/a\\x1b[2J\\x1b]0;pwned\\x07\\rb\\u009bc', 'w').close()\n")
    assert r.get("exitCode", 0) == 0, r
    p = d.cli("session", "ls-files", sid, "/workspace/esc")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for raw in (b"\x1b", b"\x07", b"\r", "\u009b".encode()):
        assert raw not in out, out
    assert b"a\\x1b[2J\\x1b]0;pwned\\x07\\x0db\\u009bc" in out, out


def test_a_cell_cannot_deliver_more_than_its_output_cap(d, sid):
    """The interpreter driver runs as the workload, so a cell can write the
    driver's pipe itself and claim any number of results; the guest caps
    only standard output and error. The host counts a cell's events itself:
    24 forged results of 1 MiB each deliver at most 6 MiB, 24 MiB of forged
    output at most 16 MiB, and the end says truncated. The daemon serves the
    next cell."""
    code = ("import sys\n"
            "drv = sys.modules['__main__']\n"
            "png = bytes(1 << 20)\n"
            "for _ in range(24):\n"
            "    drv._emit(1, [drv._field(1, b'A' * (1 << 20))])\n"
            "for _ in range(24):\n"
            "    drv._emit(3, [drv._field(1, b'<Figure>'), drv._field(2, b'image/png'), drv._field(3, png)])\n")
    out = rich = 0
    done = None
    for _, m in d.stream("RunCode", {"sessionId": sid, "code": code}, timeout=600):
        if "stdout" in m:
            out += len(m["stdout"])
        elif "data" in m:
            rich += len(base64.b64decode(m["data"].get("data", "")))
        elif "done" in m:
            done = m["done"]
        elif "end" in m:
            assert "error" not in m["end"], m
    assert done is not None
    assert 0 < out <= 16 << 20, out
    assert 0 < rich <= 6 << 20, rich
    assert done.get("truncated") is True, done
    ev = [m for _, m in d.stream("RunCode", {"sessionId": sid, "code": "6 * 7"})]
    assert [m["text"] for m in ev if "text" in m] == ["42"], ev


def code_records(d, sid):
    recs = [json.loads(r["args"]) for r in d.audit(sid) if r.get("name") == "TOOL:EXEC"]
    return [r for r in recs if r.get("tool") == "code"]


def test_a_cell_whose_client_does_not_read_is_ended_cleanly(d, sid):
    """A client that reads nothing while a cell's results arrive: the call's
    buffer (24 MiB) fills, the call ends with resource_exhausted and the cell
    is abandoned, between two rich forms of one result (each form is a
    message of its own). Each forged result's repr is 512 KiB of control
    characters, six times that in JSON, so 11 of them (the host's 6 MiB cap
    on results) are more than the buffer and the socket hold. The daemon
    goes on serving. (The daemon once went on to the next rich form of the
    call it had just freed; a daemon built with AddressSanitizer, which
    links as the release binary does from build/libenclave-asan.a, stopped
    on it in this test.)"""
    before = len(code_records(d, sid))
    code = ("import sys\n"
            "drv = sys.modules['__main__']\n"
            "for _ in range(12):\n"
            "    drv._emit(3, [drv._field(1, b'\\x01' * (512 << 10)),\n"
            "                  drv._field(2, b'text/plain'), drv._field(3, b'x'),\n"
            "                  drv._field(2, b'text/html'), drv._field(3, b'y')])\n")
    events = d.stream("RunCode", {"sessionId": sid, "code": code}, timeout=600, rcvbuf=65536)
    first = next(events)  # the call is under way; nothing more is read for now
    recs = []
    for _ in range(600):
        recs = code_records(d, sid)[before:]
        if recs:
            break
        time.sleep(0.1)
    assert recs and recs[0].get("error") == "abandoned by the client", recs
    end = None
    for _, m in events:
        if "end" in m:
            end = m["end"]
    assert first is not None
    assert end is not None and end["error"]["code"] == "resource_exhausted", end
    ev = [m for _, m in d.stream("RunCode", {"sessionId": sid, "code": "6 * 7"})]
    assert [m["text"] for m in ev if "text" in m] == ["42"], ev


def test_an_exec_leaves_nothing_behind_while_a_context_lives(d, sid):
    """An interpreter context is a workload process that stays between
    calls, with what it started. A process an exec leaves behind (one that
    left its group with setsid) does not stay because a context lives: once
    no exec runs, the init kills every process of the workload user except
    the contexts and their descendants."""
    cell = ("import subprocess, sys\n"
            "kept = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)  # from-cell'],\n"
            "                        start_new_session=True)\n"
            "kept.pid")
    ev = [m for _, m in d.stream("RunCode", {"sessionId": sid, "code": cell})]
    assert [m for m in ev if "text" in m], ev
    r = d.python(sid, "import subprocess, sys\n"
                      "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)  # from-exec'],\n"
                      "                 start_new_session=True)\n"
                      "print('started')")
    assert r.get("output") == "started\n", r
    # SIGKILL takes effect when the process next runs: look until it is gone
    # (at most 60 s); one still there then survived.
    r = d.python(sid, """
import os, time
def alive(mark):
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            st = open(f'/proc/{p}/status').read()
            cmd = open(f'/proc/{p}/cmdline', 'rb').read()
        except OSError:
            continue
        if mark in cmd and st.split('State:')[1].split()[0] not in ('Z', 'X'):
            return True
    return False
deadline = time.time() + 60
while alive(b'# from-exec') and time.time() < deadline:
    time.sleep(0.2)
print(alive(b'# from-exec'), alive(b'# from-cell'))
""", timeout=120)
    assert r.get("output") == "False True\n", r
    # The context still answers, with its names.
    ev = [m for _, m in d.stream("RunCode", {"sessionId": sid, "code": "kept.poll() is None"})]
    assert [m["text"] for m in ev if "text" in m] == ["True"], ev


# What a terminal must not get raw: C0 controls (but newline), DEL, C1
# controls, bidirectional formatting characters.
TERMINAL_UNSAFE = ([bytes([c]) for c in range(0x20) if c != 0x0a] + [b"\x7f"] +
                   [chr(c).encode() for c in range(0x80, 0xa0)] +
                   [chr(c).encode() for c in (0x61c, 0x200e, 0x200f, *range(0x202a, 0x202f),
                                              *range(0x2066, 0x206a))])


def test_an_agents_file_name_cannot_drive_the_terminal_through_the_audit_log(d, sid):
    """An agent names the file it writes (the path of a file.write, kept in
    the audit record) with an escape sequence, DEL, CSI as one C1 character
    and a right-to-left override. `enclave session ls-files` and `enclave
    audit tail` show it escaped; `audit tail --json` stays JSON that parses
    back to the very name."""
    name = "t\x1b]0;pwned\x07\x7f\u009b2J\u202etxt.exe"
    status, doc = d.put_file(sid, "/workspace/" + name, [b"x"], 1)
    assert status == 201, doc
    p = d.cli("session", "ls-files", sid, "/workspace")
    assert p.returncode == 0, p.stderr
    assert [u for u in TERMINAL_UNSAFE if u in p.stdout] == [], p.stdout
    assert b"t\\x1b]0;pwned\\x07\\x7f\\u009b2J\\u202etxt.exe" in p.stdout, p.stdout
    db = os.path.join(d.home, "audit", "audit.db")
    p = d.cli("audit", "tail", "-n", "0", "--json", "--db", db)
    assert p.returncode == 0, p.stderr
    assert [u for u in TERMINAL_UNSAFE if u in p.stdout] == [], p.stdout
    paths = [json.loads(json.loads(line)["details"]).get("path")
             for line in p.stdout.decode().splitlines()]
    assert "/workspace/" + name in paths, paths
    p = d.cli("audit", "tail", "-n", "0", "--db", db)
    assert p.returncode == 0, p.stderr
    assert [u for u in TERMINAL_UNSAFE if u in p.stdout] == [], p.stdout
    assert b"pwned" in p.stdout


def test_no_secret_on_the_vmms_command_line_or_environment(d, sid):
    """Every local user can read /proc/PID/cmdline: QEMU's names neither
    token nor the VM's channel key (it reads the key from a file), and its
    environment holds no token either."""
    pids = vmm_pids(d.home)
    assert pids
    keys = []
    vms = os.path.join(d.home, "run", "vms")
    for vm in os.listdir(vms):
        path = os.path.join(vms, vm, "channel.key")
        if os.path.exists(path):
            with open(path, "rb") as f:
                keys.append(f.read())
    assert keys and all(len(k) == 32 for k in keys)
    secrets = [d.token.encode(), d.operator_token.encode()]
    secrets += keys + [k.hex().encode() for k in keys]
    for pid in pids:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
        assert b"channel.key" in cmdline  # the control: the key is named by its file
        for secret in secrets:
            assert secret not in cmdline and secret not in environ


def test_the_agent_token_cannot_apply_a_policy(d):
    """The shipped constitution: policy.apply is the operator's act. The
    agent's allow-everything bundle is refused and the policy in force is
    unchanged; the operator's goes through (the control). Last in this
    module: it leaves an allow-everything policy behind."""
    def digest():
        return d.call("GetInfo", {}, service="enclave.v1.Enclave")["policyDigest"]

    allow_all = 'package enclave\n\ndecision := {"allow": true}\n'
    before = digest()
    with pytest.raises(ConnectError) as e:
        d.call("ApplyPolicy", {"policyYaml": allow_all})
    assert e.value.status == 403 and e.value.code == "permission_denied"
    assert digest() == before
    assert d.call("ApplyPolicy", {"policyYaml": allow_all}, operator=True)["success"]
    assert digest() != before
