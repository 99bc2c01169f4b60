"""Fixtures for the end-to-end tests: a real daemon on a free loopback port."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ENCLAVE = os.environ.get("ENCLAVE_BIN", os.path.abspath("build/enclave"))
BUILD = os.environ.get("ENCLAVE_BUILD", os.path.abspath("build"))
IMAGE_HOME = os.environ.get("ENCLAVE_E2E_HOME", os.path.abspath("build/e2e-home"))
# The daemon refuses root without --allow-root; CI and these machines test as root.
ALLOW_ROOT = ["--allow-root"] if os.geteuid() == 0 else []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_home():
    """A fresh ENCLAVE_HOME that shares the built image cache."""
    home = tempfile.mkdtemp(prefix="enclave-e2e-")
    os.symlink(os.path.join(IMAGE_HOME, "cache"), os.path.join(home, "cache"))
    return home


def vmm_pids(marker):
    """PIDs of QEMU processes whose command line mentions marker."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:  # a VMM works in its run folder; paths in it are relative
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if "qemu-system" in cmd and (marker in cmd or cwd.startswith(marker)):
            pids.append(int(entry))
    return pids


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, *args, **kw):
        return None


class ConnectError(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class AuthMetadata:
    """A gRPC client interceptor adding the daemon's token as the
    authorization metadata to every call on a channel."""

    def __init__(self, token):
        self.metadata = (("authorization", f"Bearer {token}"),)

    def _add(self, details):
        import grpc

        class Details(grpc.ClientCallDetails):
            pass

        d = Details()
        d.method = details.method
        d.timeout = details.timeout
        d.metadata = list(details.metadata or ()) + list(self.metadata)
        d.credentials = details.credentials
        d.wait_for_ready = getattr(details, "wait_for_ready", None)
        d.compression = getattr(details, "compression", None)
        return d

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._add(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._add(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._add(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._add(details), request_iterator)


def grpc_interceptor_classes():
    import grpc
    return (AuthMetadata, grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
            grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor)


# Whether QEMU can use KVM here, as the first daemon of this test run found
# with its own start-up probe (--accel auto: a short KVM boot that, where
# /dev/kvm is present but does not work, waits for its 5 s timeout). None
# until a daemon has answered. Where KVM does not work, the daemons after it
# are told ENCLAVE_ACCEL=tcg and skip that probe: they would all fall back to
# TCG anyway. Where KVM works, every daemon probes and uses it as before.
KVM_USABLE = None


def read_token(path):
    with open(path) as f:
        return f.read().strip()


class Daemon:
    def __init__(self, extra_args=(), env=None):
        self.home = make_home()
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.host, self.port_number = "127.0.0.1", self.port
        self.log_path = os.path.join(self.home, "daemon.log")
        self.extra_args = list(extra_args)
        # No warm pool unless a test asks for one: every test's daemon would
        # otherwise boot idle VMs in the background on a big machine.
        if not any(a == "--pool" or a.startswith("--pool=") for a in self.extra_args):
            self.extra_args += ["--pool", "0"]
        # No snapshot either (a background boot and a save of the guest's
        # memory per daemon) unless a test asks for it, or the run does:
        # ENCLAVE_E2E_RESTORE=1 starts every daemon with --restore on and
        # waits for its snapshot, so that the sessions of the default size
        # run in restored VMs (the whole suite on that start path).
        self.wait_snapshot = False
        if not any(a == "--restore" or a.startswith("--restore=") for a in self.extra_args):
            self.wait_snapshot = os.environ.get("ENCLAVE_E2E_RESTORE") == "1"
            self.extra_args += ["--restore", "on" if self.wait_snapshot else "off"]
        self.env = dict(os.environ, ENCLAVE_HOME=self.home, ENCLAVE_LOG="debug")
        if env:
            self.env.update(env)
        # The first daemon probes KVM (see KVM_USABLE); a test that asks for
        # an accelerator itself gets exactly what it asked for.
        self.probes_kvm = "ENCLAVE_ACCEL" not in self.env and not any(
            a == "--accel" or a.startswith("--accel=") for a in self.extra_args)
        if self.probes_kvm and KVM_USABLE is False:
            self.env["ENCLAVE_ACCEL"] = "tcg"
            self.probes_kvm = False
        self.proc = None

    def start(self, _tries=3):
        self.log = open(self.log_path, "ab")
        logged = self.log.tell()
        self.proc = subprocess.Popen(
            [ENCLAVE, "up", "--listen", self.addr, *ALLOW_ROOT, *self.extra_args],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                # free_port()'s port was taken before the daemon bound it
                # (another test run on this machine): again on another port.
                if _tries > 1 and "Address already in use" in self.read_log()[logged:]:
                    self.log.close()
                    self.port = self.port_number = free_port()
                    self.addr = f"127.0.0.1:{self.port}"
                    return self.start(_tries - 1)
                raise RuntimeError("daemon exited: " + self.read_log())
            try:
                if self.get("/ping") == (200, b"pong"):
                    if self.probes_kvm and KVM_USABLE is None:
                        self._note_accel()
                    if self.wait_snapshot:
                        self._wait_snapshot()
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("daemon did not start: " + self.read_log())

    def _note_accel(self):
        global KVM_USABLE
        try:
            accel = self.call("GetInfo", {}, service="enclave.v1.Enclave", timeout=30).get("accel")
        except (OSError, ValueError, ConnectError):
            return  # a daemon started to be refused, say: the next one tells
        if accel in ("kvm", "tcg"):
            KVM_USABLE = accel == "kvm"

    def _wait_snapshot(self, timeout=300):
        import glob
        deadline = time.time() + timeout
        while time.time() < deadline:
            if glob.glob(os.path.join(self.home, "snapshots", "*", "meta.json")):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("ENCLAVE_E2E_RESTORE=1: the daemon saved no snapshot: " + self.read_log()[-3000:])

    @property
    def token(self):
        """The agent token the daemon made under its home (run/api-token)."""
        return read_token(os.path.join(self.home, "run", "api-token"))

    @property
    def operator_token(self):
        return read_token(os.path.join(self.home, "run", "operator-token"))

    def auth_headers(self, operator=False):
        """The header every TCP request carries (what the helpers below send)."""
        return {"Authorization": "Bearer " + (self.operator_token if operator else self.token)}

    def grpc_channel(self, operator=False, token=None, options=()):
        """A gRPC channel to the daemon whose every call carries the token
        (token=None: the agent token; token="": none at all)."""
        import grpc
        ch = grpc.insecure_channel(self.addr, options=list(options))
        if token is None:
            token = self.operator_token if operator else self.token
        if token == "":
            return ch
        Interceptor = type("Interceptor", grpc_interceptor_classes(), {})
        return grpc.intercept_channel(ch, Interceptor(token))

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, auth=True, operator=False,
                timeout=300):
        """One HTTP/1.1 request; (status, headers, body). Carries the token
        unless auth is False; headers are added last (and may replace Host)."""
        h = dict(self.auth_headers(operator)) if auth else {}
        h.update(headers or {})
        req = urllib.request.Request(f"http://{self.addr}{path}", data=body, method=method,
                                     headers=h)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, path, **kw):
        status, _, data = self.request("GET", path, timeout=60, **kw)
        return status, data

    def raw(self, path, body, content_type="application/json", timeout=300, headers=None, **kw):
        h = {"Content-Type": content_type}
        h.update(headers or {})
        status, _, data = self.request("POST", path, body, headers=h, timeout=timeout, **kw)
        return status, data

    def call(self, method, body, service="agent.v1.AgentService", timeout=300, **kw):
        status, data = self.raw(f"/{service}/{method}", json.dumps(body).encode(), timeout=timeout,
                                **kw)
        doc = json.loads(data) if data else {}
        if status != 200:
            raise ConnectError(status, doc.get("code"), doc.get("message"))
        return doc

    def stream(self, method, body, service="enclave.v1.Enclave", timeout=300, rcvbuf=None):
        """Connect server streaming (application/connect+json): yields
        (monotonic time, message) for each message as it arrives; the
        end-of-stream message is yielded as (time, {"end": {...}}). rcvbuf:
        a small socket receive buffer, for tests of a slow reader."""
        import http.client
        import struct
        payload = json.dumps(body).encode()
        conn = http.client.HTTPConnection(self.host, self.port_number, timeout=timeout)
        conn.connect()
        if rcvbuf:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        headers = dict(self.auth_headers())
        headers["Content-Type"] = "application/connect+json"
        conn.request("POST", f"/{service}/{method}", struct.pack(">BI", 0, len(payload)) + payload,
                     headers=headers)
        resp = conn.getresponse()
        try:
            if resp.status != 200:
                data = resp.read()
                doc = json.loads(data) if data else {}
                raise ConnectError(resp.status, doc.get("code"), doc.get("message"))
            while True:
                head = resp.read(5)
                if len(head) < 5:
                    raise ConnectError(resp.status, "unavailable", "the stream ended early")
                flags, length = struct.unpack(">BI", head)
                msg = json.loads(resp.read(length))
                if flags & 2:
                    yield time.monotonic(), {"end": msg}
                    return
                yield time.monotonic(), msg
        finally:
            conn.close()

    def put_file(self, session_id, guest_path, chunks, length, timeout=600):
        """PUT /v1/sessions/{id}/files/{path}: uploads length bytes given as an
        iterable of chunks, streamed (never joined). Returns (status, JSON doc)."""
        import http.client
        from urllib.parse import quote
        conn = http.client.HTTPConnection(self.host, self.port_number, timeout=timeout)
        try:
            conn.putrequest("PUT", f"/v1/sessions/{session_id}/files/{quote(guest_path.lstrip('/'))}")
            conn.putheader("Content-Length", str(length))
            conn.putheader("Content-Type", "application/octet-stream")
            for k, v in self.auth_headers().items():
                conn.putheader(k, v)
            conn.endheaders()
            try:
                for chunk in chunks:
                    conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon answered early (a refusal); read it below
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else {})
        finally:
            conn.close()

    def get_file(self, session_id, guest_path, sink=None, timeout=600):
        """GET /v1/sessions/{id}/files/{path}: streams the body into sink(chunk)
        (a file's content) or returns it (a listing, an error). Returns
        (status, headers, body or None)."""
        import http.client
        from urllib.parse import quote
        conn = http.client.HTTPConnection(self.host, self.port_number, timeout=timeout)
        try:
            conn.request("GET", f"/v1/sessions/{session_id}/files/{quote(guest_path.lstrip('/'))}",
                         headers=self.auth_headers())
            resp = conn.getresponse()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp.status != 200 or sink is None:
                return resp.status, headers, resp.read()
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                sink(chunk)
            return resp.status, headers, None
        finally:
            conn.close()

    def rss_kb(self):
        """The daemon's resident memory (VmRSS, KiB)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def audit(self, session_id=""):
        """The audit records (GetAuditLogs), oldest first."""
        return self.call("GetAuditLogs", {"sessionId": session_id, "limit": 1000}).get("logs", [])

    def start_session(self, **kw):
        return self.call("StartSession", kw)

    def python(self, session_id, code, timeout=None):
        body = {"sessionId": session_id, "toolName": "python", "input": code}
        if timeout:
            body["timeoutSeconds"] = timeout
        return self.call("ExecuteTool", body)

    def stop_session(self, session_id):
        return self.call("StopSession", {"sessionId": session_id})

    def cli(self, *args, input=None, timeout=300, env=None, preexec_fn=None):
        return subprocess.run([ENCLAVE, *args],
                              env=dict(self.env, ENCLAVE_ADDR=self.addr, **(env or {})),
                              input=input, capture_output=True, timeout=timeout,
                              preexec_fn=preexec_fn)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon(["--max-output", "64K", "--max-input", "256K"]).start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()


@pytest.fixture(scope="module")
def session(daemon):
    s = daemon.start_session(sessionId="e2e-main")
    assert s["status"] == "READY"
    yield s["sessionId"]
    try:
        daemon.stop_session(s["sessionId"])
    except ConnectError:
        pass


@pytest.fixture
def fresh_daemon():
    made = []

    def factory(*args, **kw):
        d = Daemon(*args, **kw)
        made.append(d)
        return d

    yield factory
    for d in made:
        d.cleanup()


def net_records(d, sid):
    """The details of the session's NET:CONNECT records, oldest first."""
    return [json.loads(rec["args"]) for rec in d.audit(sid) if rec.get("name") == "NET:CONNECT"]


def records_for(d, sid, port, more_than):
    """The session's NET:CONNECT records for port, once there are more than
    more_than (a stream's record is written when the host hears its end,
    which can come just after the workload's exit; bounded wait)."""
    for _ in range(300):
        recs = [x for x in net_records(d, sid) if x.get("port") == port]
        if len(recs) > more_than:
            return recs
        time.sleep(0.1)
    return recs


def egress_bundle(entries, limits=None):
    """A copy of the shipped policy whose egress allowlist is entries (and
    egress_limits updated with limits): a folder for `enclave up --policy`."""
    d = tempfile.mkdtemp(prefix="enclave-egress-policy-")
    shutil.copytree(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "policy"), d, dirs_exist_ok=True)
    path = os.path.join(d, "data.json")
    with open(path) as f:
        data = json.load(f)
    data["constitution"]["egress"] = entries
    if limits:
        data["constitution"]["egress_limits"].update(limits)
    with open(path, "w") as f:
        json.dump(data, f)
    return d
