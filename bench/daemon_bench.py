#!/usr/bin/python3
"""bench-daemon: what a real `enclave up` costs on this machine.

Starts real daemons and boots real microVMs (KVM when the daemon's probe says
QEMU can use it, TCG otherwise) and prints, with the number of samples, the
median and the 90th percentile of:

  - daemon start: exec of `enclave up` until GET /ping answers (the default
    --accel auto includes the KVM probe; --accel tcg skips it);
  - StartSession until the session is READY (a cold boot of a fresh VM);
  - the first ExecuteTool after a boot, and later ExecuteTool round trips for
    `python3 -c pass` (tool "exec") and "pass" (tool "python"), over Connect
    (HTTP/1.1 JSON, one keep-alive connection) and over gRPC (HTTP/2, one
    channel);
  - RunCode for `1+1` (a warm interpreter) next to an exec of `python3 -c`
    in the same session, and file upload and download rates (MB/s) through
    PUT/GET /v1/sessions/{id}/files;
  - the streaming Exec (enclave.v1): request to the first streamed stdout
    byte, and to the exit event, over Connect streaming and over gRPC;
  - StopSession;
  - the daemon's VmRSS with 0, 1 and 8 idle sessions, and the VMM processes'
    VmRSS next to it;
  - warm pool (`enclave up --pool 1`): StartSession that claims a booted,
    idle VM, the first exec after it, and the VmRSS of an idle pool VM's VMM
    (and how many such VMs fit in 8 GiB);
  - the python tool round trip with the guest's pre-started Python (fork
    server) and with a fresh python3, --think seconds apart;
  - egress: a download from a local HTTP server on 127.0.0.1 through a
    session's egress proxy (urllib in the guest, HTTP_PROXY) in MB/s, next to
    a direct download of the same file on the host (a copy of the
    constitution that allows that one port and address);
  - snapshot restore (`enclave up --restore on`): StartSession that restores
    the saved VM, the first exec after it, the VmRSS of a restored idle VM,
    and what saving the snapshot took.

Every daemon but the pool's runs with --pool 0, and every daemon but the
restore row's with --restore off, so no background boot disturbs the other
rows.

It asserts nothing about time. Usage:

  bench/daemon_bench.py [--enclave build/enclave] [--image-home build/e2e-home]
                        [--samples N] [--starts N] [--idle N]

The image must already be built in IMAGE_HOME (`make bench-daemon` does it).
The gRPC client is python3-grpcio with stubs generated at run time by
grpc_tools.protoc (Debian's python3-grpc-tools); everything else is the
standard library. Without grpcio the gRPC rows are skipped, with a note.
"""
import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------- numbers

def percentile(samples, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(samples)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Table:
    def __init__(self):
        self.rows = []

    def add(self, name, samples, unit="ms"):
        if not samples:
            self.rows.append((name, 0, None, None, None, None, unit))
        else:
            self.rows.append((name, len(samples), percentile(samples, 50), percentile(samples, 90),
                              min(samples), max(samples), unit))
        self.print_row(self.rows[-1])

    @staticmethod
    def print_row(row):
        name, n, med, p90, lo, hi, unit = row
        if n == 0:
            print(f"  {name:<52} skipped", flush=True)
        else:
            d = 2 if hi < 10 else 1
            print(f"  {name:<52} n={n:<3} median {med:8.{d}f} {unit}  p90 {p90:8.{d}f} {unit}"
                  f"  (min {lo:.{d}f}, max {hi:.{d}f})", flush=True)


def ms_since(t0):
    return (time.perf_counter() - t0) * 1000.0


# ----------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def vmm_pids(marker):
    """PIDs of QEMU or Firecracker processes whose command line or working
    folder mentions marker."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" not in cmd and "firecracker" not in cmd:
            continue
        # The VMM runs in its VM's run folder and may name its files
        # relative to it (or as /proc/self/fd/N): look at its cwd too.
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if marker in cmd or cwd.startswith(marker):
            pids.append(int(entry))
    return pids


class CallError(Exception):
    pass


class Daemon:
    """One `enclave up` on a free loopback port with a fresh ENCLAVE_HOME that
    shares the image cache of IMAGE_HOME."""

    def __init__(self, enclave, image_home, extra=(), env=None):
        self.enclave = enclave
        self.env = env or {}
        self.home = tempfile.mkdtemp(prefix="enclave-bench-")
        os.symlink(os.path.join(image_home, "cache"), os.path.join(self.home, "cache"))
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.extra = list(extra)
        if "--restore" not in self.extra:  # no snapshot unless a row asks for one
            self.extra += ["--restore", "off"]
        self.proc = None
        self.conn = None
        self.log_path = os.path.join(self.home, "daemon.log")

    def start(self, timeout=90):
        """Starts the daemon; returns ms from exec to the first /ping answer."""
        log = open(self.log_path, "ab")
        env = dict(os.environ, ENCLAVE_HOME=self.home, **self.env)
        t0 = time.perf_counter()
        allow_root = ["--allow-root"] if os.geteuid() == 0 else []  # refused as root without it
        self.proc = subprocess.Popen([self.enclave, "up", "--listen", self.addr, *allow_root,
                                      *self.extra],
                                     env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited:\n" + self.read_log())
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/ping")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and body == b"pong":
                    return ms_since(t0)
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("daemon did not answer /ping:\n" + self.read_log())

    def grpc_auth(self):
        return (("authorization", "Bearer " + self.token()),)

    def token(self):
        """The API token the daemon made under its home (docs/security.md)."""
        if getattr(self, "_token", None) is None:
            with open(os.path.join(self.home, "run", "api-token")) as f:
                self._token = f.read().strip()
        return self._token

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def call(self, method, body, service="agent.v1.AgentService", timeout=300):
        """A Connect unary call with JSON on one keep-alive HTTP/1.1 connection."""
        data = json.dumps(body).encode()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                self.conn.request("POST", f"/{service}/{method}", body=data,
                                  headers={"Content-Type": "application/json",
                                           "Authorization": "Bearer " + self.token()})
                r = self.conn.getresponse()
                out = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server closed the idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status != 200:
            raise CallError(f"{method}: HTTP {r.status}: {out[:300]!r}")
        return json.loads(out) if out else {}

    def rss_kb(self):
        return vm_rss_kb(self.proc.pid)

    def stop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        left = vmm_pids(self.home)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.home, ignore_errors=True)
        return left


# ----------------------------------------------------------------- gRPC

def load_grpc(tmp):
    """(grpc, agent_pb2, agent_pb2_grpc, enclave_pb2, enclave_pb2_grpc) or None."""
    import importlib.util
    if importlib.util.find_spec("grpc") is None or importlib.util.find_spec("grpc_tools") is None:
        print("  note: no gRPC client here; install python3-grpcio and python3-grpc-tools", flush=True)
        return None
    import grpc
    p = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
                        "--python_out", tmp, "--grpc_python_out", tmp,
                        "agent/v1/agent.proto", "enclave/v1/enclave.proto"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print("  note: grpc_tools.protoc failed: " + p.stderr.strip(), flush=True)
        return None
    sys.path.insert(0, tmp)
    from agent.v1 import agent_pb2, agent_pb2_grpc
    from enclave.v1 import enclave_pb2, enclave_pb2_grpc
    return grpc, agent_pb2, agent_pb2_grpc, enclave_pb2, enclave_pb2_grpc


# ----------------------------------------------------------------- the runs

def bench_starts(args, table):
    print(f"daemon start (exec of `enclave up` to /ping answering), {args.starts} starts each:", flush=True)
    rss = []
    for label, extra in (("--accel auto (includes the KVM probe)", ()),
                         ("--accel tcg (no probe)", ("--accel", "tcg"))):
        times = []
        for _ in range(args.starts):
            d = Daemon(args.enclave, args.image_home, (*extra, "--pool", "0"))
            try:
                times.append(d.start())
                rss.append(d.rss_kb() / 1024.0)
            finally:
                d.stop()
        table.add("daemon start, " + label, times)
    return rss


def exec_body(sid, tool):
    if tool == "exec":
        return {"sessionId": sid, "toolName": "exec", "input": json.dumps(["python3", "-c", "pass"]),
                "timeoutSeconds": 30}
    return {"sessionId": sid, "toolName": "python", "input": "pass", "timeoutSeconds": 30}


def check_exec(resp, what):
    if resp.get("exitCode", 0) != 0:
        raise RuntimeError(f"{what} failed: {resp}")


def wait_ready(d, sid, resp, timeout=120):
    if resp.get("status") == "READY":
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        ls = d.call("ListSessions", {}, service="enclave.v1.Enclave")
        for s in ls.get("sessions", []):
            if s["sessionId"] == sid:
                if s["status"] == "READY":
                    return
                if s["status"] == "FAILED":
                    raise RuntimeError(f"session {sid} failed to boot")
        time.sleep(0.01)
    raise RuntimeError(f"session {sid} not READY in {timeout} s")


def start_session(d, sid):
    t0 = time.perf_counter()
    resp = d.call("StartSession", {"sessionId": sid})
    wait_ready(d, sid, resp)
    return ms_since(t0)


def stop_session(d, sid):
    t0 = time.perf_counter()
    resp = d.call("StopSession", {"sessionId": sid})
    if not resp.get("success"):
        raise RuntimeError(f"StopSession {sid}: {resp}")
    return ms_since(t0)


def stream_exec_connect(d, sid, code):
    """One streaming Exec over Connect (application/connect+json): ms to the
    first stdout event and ms to the end of the stream."""
    import struct
    body = json.dumps({"sessionId": sid, "argv": ["python3", "-c", code]}).encode()
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    t0 = time.perf_counter()
    c.request("POST", "/enclave.v1.Enclave/Exec", struct.pack(">BI", 0, len(body)) + body,
              headers={"Content-Type": "application/connect+json",
                       "Authorization": "Bearer " + d.token()})
    r = c.getresponse()
    first = None
    while True:
        head = r.read(5)
        if len(head) < 5:
            raise RuntimeError("streaming Exec ended without an end-of-stream message")
        flags, n = struct.unpack(">BI", head)
        msg = json.loads(r.read(n))
        if flags & 2:
            if msg.get("error"):
                raise RuntimeError(f"streaming Exec failed: {msg}")
            break
        if first is None and "stdout" in msg:
            first = ms_since(t0)
    end = ms_since(t0)
    c.close()
    return first, end


# Seconds an idle VM is left alone before its memory is read: the guest
# trims its caches 5 s after the last request (0.5 s under TCG), and free
# page reporting hands the freed blocks back about 2 s after that.
IDLE_SETTLE_S = 10.0


def connect_stream(d, method, body, timeout=300):
    """Connect server streaming (application/connect+json): the messages."""
    import struct
    payload = json.dumps(body).encode()
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout)
    try:
        c.request("POST", f"/enclave.v1.Enclave/{method}", struct.pack(">BI", 0, len(payload)) + payload,
                  headers={"Content-Type": "application/connect+json", "Authorization": "Bearer " + d.token()})
        r = c.getresponse()
        if r.status != 200:
            raise CallError(f"{method}: HTTP {r.status} {r.read()[:200]!r}")
        out = []
        while True:
            head = r.read(5)
            if len(head) < 5:
                raise CallError(f"{method}: the stream ended early")
            flags, n = struct.unpack(">BI", head)
            msg = json.loads(r.read(n))
            if flags & 2:
                if msg.get("error"):
                    raise CallError(f"{method}: {msg['error']}")
                return out
            out.append(msg)
    finally:
        c.close()


def bench_files_code(d, sid, args, table):
    """RunCode round trip for `1+1` next to an exec of `python3 -c` (same
    session, same run), and file upload/download rates through the plain HTTP
    routes (PUT/GET /v1/sessions/{id}/files/...)."""
    connect_stream(d, "RunCode", {"sessionId": sid, "code": "1+1"})  # starts the interpreter
    times = []
    for _ in range(args.samples):
        t0 = time.perf_counter()
        ev = connect_stream(d, "RunCode", {"sessionId": sid, "code": "1+1"})
        times.append(ms_since(t0))
        if not any(m.get("text") == "2" for m in ev):
            raise RuntimeError(f"RunCode 1+1: {ev}")
    table.add("RunCode `1+1` (warm interpreter), Connect", times)
    times = []
    for _ in range(args.samples):
        t0 = time.perf_counter()
        r = d.call("ExecuteTool", {"sessionId": sid, "toolName": "exec",
                                   "input": json.dumps(["python3", "-c", "print(1+1)"]), "timeoutSeconds": 30})
        times.append(ms_since(t0))
        check_exec(r, "exec python3 -c")
    table.add("ExecuteTool exec `python3 -c print(1+1)`, Connect", times)

    size = 32 << 20
    block = os.urandom(1 << 20)
    ups, downs = [], []
    for _ in range(max(1, min(3, args.samples // 4))):
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=600)
        t0 = time.perf_counter()
        c.putrequest("PUT", f"/v1/sessions/{sid}/files/tmp/bench.bin")
        c.putheader("Content-Length", str(size))
        c.putheader("Authorization", "Bearer " + d.token())
        c.endheaders()
        for _ in range(size >> 20):
            c.send(block)
        r = c.getresponse()
        r.read()
        dt = time.perf_counter() - t0
        c.close()
        if r.status != 201:
            raise RuntimeError(f"upload: HTTP {r.status}")
        ups.append(size / dt / 1e6)
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=600)
        t0 = time.perf_counter()
        c.request("GET", f"/v1/sessions/{sid}/files/tmp/bench.bin", headers={"Authorization": "Bearer " + d.token()})
        r = c.getresponse()
        got = 0
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        dt = time.perf_counter() - t0
        c.close()
        if r.status != 200 or got != size:
            raise RuntimeError(f"download: HTTP {r.status}, {got} bytes")
        downs.append(size / dt / 1e6)
    table.add("file upload 32 MiB, PUT /v1/sessions/{id}/files", ups, unit="MB/s")
    table.add("file download 32 MiB, GET /v1/sessions/{id}/files", downs, unit="MB/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enclave", default=os.path.join(ROOT, "build", "enclave"))
    ap.add_argument("--image-home", default=os.path.join(ROOT, "build", "e2e-home"))
    ap.add_argument("--samples", type=int, default=20, help="ExecuteTool calls per row (default 20)")
    ap.add_argument("--boots", type=int, default=5, help="cold boots measured alone (default 5)")
    ap.add_argument("--starts", type=int, default=3, help="daemon starts per mode (default 3)")
    ap.add_argument("--idle", type=int, default=8, help="idle sessions for the memory row (default 8)")
    ap.add_argument("--think", type=float, default=3.0,
                    help="seconds between python calls in the fork server rows (default 3)")
    ap.add_argument("--egress-mib", type=int, default=32, help="the egress download's size (default 32 MiB)")
    ap.add_argument("--only", choices=("all", "fast-start", "rootfs", "egress", "python"), default="all",
                    help="fast-start: only the warm pool and pre-started Python rows (and the cold "
                         "boots they are compared with); rootfs: only the shared root filesystem "
                         "against the initramfs image; python: only the python tool round trips "
                         "with and without the fork server, in one session of one daemon")
    ap.add_argument("--legacy-image", default="legacy-initramfs",
                    help="the image variant built with --initramfs-only that the rootfs rows compare "
                         "with (default legacy-initramfs; skipped when it does not exist)")
    args = ap.parse_args()
    args.enclave = os.path.abspath(args.enclave)
    args.image_home = os.path.abspath(args.image_home)
    if not os.path.isdir(os.path.join(args.image_home, "cache")):
        sys.exit(f"bench-daemon: no image in {args.image_home}; run "
                 f"ENCLAVE_HOME={args.image_home} {args.enclave} image build")

    began = time.perf_counter()
    print(f"bench-daemon: {platform.node()}, {os.cpu_count()} CPUs, {cpu_model()}, "
          f"{mem_total_mb()} MiB RAM, load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"  image: {image_desc(args.image_home)}", flush=True)
    table = Table()
    tmp = tempfile.mkdtemp(prefix="enclave-bench-stubs-")
    try:
        if args.only == "fast-start":
            bench_fast_start(args, table)
            return
        if args.only == "egress":
            bench_egress(args)
            return
        if args.only == "python":
            d = Daemon(args.enclave, args.image_home, ["--pool", "0"])
            try:
                d.start()
                bench_forkserver(d, args, table, code_rows=False)
            finally:
                d.stop()
            return
        if args.only == "rootfs":
            bench_rootfs(args, table)
            return
        g = load_grpc(tmp)
        start_rss = bench_starts(args, table)
        bench_fast_start(args, table)
        bench_rootfs(args, table)

        d = Daemon(args.enclave, args.image_home, ["--pool", "0"])
        try:
            d.start()
            info = d.call("GetInfo", {}, service="enclave.v1.Enclave")
            print(f"one daemon: accel {info.get('accel')} (VMs run under "
                  f"{'KVM' if info.get('accel') == 'kvm' else 'TCG emulation, no KVM'}), "
                  f"{info.get('defaultVcpu')} vCPU / {info.get('defaultMemoryMb')} MiB per VM, "
                  f"version {info.get('version')}", flush=True)
            rss0 = d.rss_kb() / 1024.0

            # The API alone: a call that never reaches a VM.
            times = []
            for _ in range(args.samples * 5):
                t0 = time.perf_counter()
                d.call("GetInfo", {}, service="enclave.v1.Enclave")
                times.append(ms_since(t0))
            table.add("GetInfo (no VM involved), Connect", times)
            if g is not None:
                grpc, _, _, enclave_pb2, enclave_pb2_grpc = g
                with grpc.insecure_channel(d.addr) as ch:
                    stub = enclave_pb2_grpc.EnclaveStub(ch)
                    stub.GetInfo(enclave_pb2.GetInfoRequest(), timeout=30, metadata=d.grpc_auth())
                    times = []
                    for _ in range(args.samples * 5):
                        t0 = time.perf_counter()
                        stub.GetInfo(enclave_pb2.GetInfoRequest(), timeout=30, metadata=d.grpc_auth())
                        times.append(ms_since(t0))
                table.add("GetInfo (no VM involved), gRPC", times)

            # Cold boots, each alone; the first exec after each boot; stops.
            boots, firsts, stops = [], [], []
            execs = args.boots
            for i in range(args.boots):
                sid = f"bench-boot-{i}"
                boots.append(start_session(d, sid))
                t0 = time.perf_counter()
                r = d.call("ExecuteTool", exec_body(sid, "python"))
                firsts.append(ms_since(t0))
                check_exec(r, "first exec")
                if i < args.boots - 1:
                    stops.append(stop_session(d, sid))
            table.add("StartSession to READY (cold boot, no other VM)", boots)
            table.add("first ExecuteTool python 'pass' after boot", firsts)

            # Round trips on the last booted session (warm).
            sid = f"bench-boot-{args.boots - 1}"
            for tool, label in (("exec", "exec `python3 -c pass`"), ("python", "python 'pass'")):
                times = []
                for _ in range(args.samples):
                    t0 = time.perf_counter()
                    r = d.call("ExecuteTool", exec_body(sid, tool))
                    times.append(ms_since(t0))
                    check_exec(r, label)
                table.add(f"ExecuteTool {label}, Connect", times)
                execs += len(times)
            if g is not None:
                grpc, agent_pb2, agent_pb2_grpc, enclave_pb2, enclave_pb2_grpc = g
                with grpc.insecure_channel(d.addr) as ch:
                    stub = agent_pb2_grpc.AgentServiceStub(ch)
                    gi = enclave_pb2_grpc.EnclaveStub(ch).GetInfo(enclave_pb2.GetInfoRequest(), timeout=30,
                                                                       metadata=d.grpc_auth())
                    assert gi.accel == info.get("accel")
                    for tool, label in (("exec", "exec `python3 -c pass`"), ("python", "python 'pass'")):
                        b = exec_body(sid, tool)
                        req = agent_pb2.ToolRequest(session_id=sid, tool_name=b["toolName"], input=b["input"],
                                                    timeout_seconds=30)
                        times = []
                        for _ in range(args.samples):
                            t0 = time.perf_counter()
                            r = stub.ExecuteTool(req, timeout=60, metadata=d.grpc_auth())
                            times.append(ms_since(t0))
                            if r.exit_code != 0:
                                raise RuntimeError(f"gRPC {label}: {r}")
                        table.add(f"ExecuteTool {label}, gRPC", times)
                        execs += len(times)
            else:
                table.add("ExecuteTool over gRPC (no grpcio)", [])

            # Streaming Exec: from the request to the first streamed stdout
            # byte (the program prints at once, then runs 0.2 s more), and to
            # the exit event.
            code = "print(1, flush=True)\nimport time\ntime.sleep(0.2)"
            firsts, ends = [], []
            for _ in range(args.samples):
                f, e = stream_exec_connect(d, sid, code)
                firsts.append(f)
                ends.append(e)
            table.add("Exec streaming: first stdout byte, Connect", firsts)
            table.add("Exec streaming: exit event (0.2 s program), Connect", ends)
            execs += len(firsts)
            if g is not None:
                grpc, _, _, enclave_pb2, enclave_pb2_grpc = g
                with grpc.insecure_channel(d.addr) as ch:
                    stub = enclave_pb2_grpc.EnclaveStub(ch)
                    firsts, ends = [], []
                    for _ in range(args.samples):
                        t0 = time.perf_counter()
                        first = None
                        for ev in stub.Exec(enclave_pb2.ExecRequest(
                                session_id=sid, argv=["python3", "-c", code]), timeout=60,
                                metadata=d.grpc_auth()):
                            if first is None and ev.WhichOneof("event") == "stdout":
                                first = ms_since(t0)
                        ends.append(ms_since(t0))
                        firsts.append(first)
                    table.add("Exec streaming: first stdout byte, gRPC", firsts)
                    table.add("Exec streaming: exit event (0.2 s program), gRPC", ends)
                    execs += len(firsts)
            bench_files_code(d, sid, args, table)
            stops.append(stop_session(d, sid))

            # Memory: 0, 1 and N idle sessions.
            time.sleep(0.5)
            rss_after = d.rss_kb() / 1024.0
            idle_boots = []
            sid = "bench-idle-0"
            idle_boots.append(start_session(d, sid))
            time.sleep(1.0)
            rss1 = d.rss_kb() / 1024.0
            vmm1 = vmm_mems(d)
            for i in range(1, args.idle):
                idle_boots.append(start_session(d, f"bench-idle-{i}"))
            time.sleep(1.0)
            rssn = d.rss_kb() / 1024.0
            vmmn = vmm_mems(d)
            table.add(f"StartSession to READY with 0..{args.idle - 1} idle VMs running", idle_boots)
            for i in range(args.idle):
                stops.append(stop_session(d, f"bench-idle-{i}"))
            table.add("StopSession (idle VM)", stops)
            time.sleep(0.5)
            rss_end = d.rss_kb() / 1024.0

            print("memory (VmRSS from /proc, MiB):", flush=True)
            mem = [("daemon, 0 sessions, before any boot", rss0, None),
                   (f"daemon, 0 sessions, after {args.boots} boots and {execs} execs", rss_after, None),
                   ("daemon, 1 idle session", rss1, vmm1),
                   (f"daemon, {args.idle} idle sessions", rssn, vmmn),
                   ("daemon, 0 sessions again", rss_end, None)]
            if start_rss:
                mem.insert(0, ("daemon just started (median of the starts above)", percentile(start_rss, 50), None))
            for label, v, vmm in mem:
                line = f"  {label:<52} {v:7.1f}"
                if vmm is not None:
                    line += f"   VMM: {fmt_vmm(vmm)}"
                print(line, flush=True)
        finally:
            left = d.stop()
            if left:
                print(f"  warning: the daemon left {len(left)} VMM process(es); killed them", flush=True)
        bench_egress(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bench-daemon: done in {time.perf_counter() - began:.0f} s, load {os.getloadavg()[0]:.2f}", flush=True)


def bench_egress(args, runs=3):
    """MB/s of one download through a session's egress proxy and directly."""
    import http.server
    import socketserver
    import threading
    import urllib.request
    size = args.egress_mib << 20
    blob = os.urandom(1 << 20) * args.egress_mib

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                self.wfile.write(blob)
            except OSError:
                pass

        def log_message(self, *a):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    url = f"http://127.0.0.1:{port}/blob"
    bundle = tempfile.mkdtemp(prefix="enclave-bench-egress-")
    shutil.copytree(os.path.join(ROOT, "policy"), bundle, dirs_exist_ok=True)
    with open(os.path.join(bundle, "data.json")) as f:
        data = json.load(f)
    data["constitution"]["egress"] = [{"host": "127.0.0.1", "ports": [port], "addresses": ["127.0.0.1"]}]
    with open(os.path.join(bundle, "data.json"), "w") as f:
        json.dump(data, f)
    print(f"egress: a {args.egress_mib} MiB download from 127.0.0.1, {runs} runs each (MB/s, higher is better):",
          flush=True)
    direct = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=300) as r:
            n = len(r.read())
        direct.append(n / 1e6 / (time.perf_counter() - t0))
    d = Daemon(args.enclave, args.image_home, ["--pool", "0", "--policy", bundle])
    proxied = []
    try:
        d.start()
        resp = d.call("StartSession", {"sessionId": "bench-egress", "egress": True})
        wait_ready(d, "bench-egress", resp)
        code = ("import time, urllib.request\n"
                "t0 = time.perf_counter()\n"
                f"r = urllib.request.urlopen({url!r}, timeout=300)\n"
                "n = 0\n"
                "while True:\n"
                "    b = r.read(1 << 20)\n"
                "    if not b:\n"
                "        break\n"
                "    n += len(b)\n"
                "print(n, time.perf_counter() - t0)\n")
        for _ in range(runs):
            out = d.call("ExecuteTool", {"sessionId": "bench-egress", "toolName": "python", "input": code,
                                         "timeoutSeconds": 300})
            check_exec(out, "egress download")
            n, secs = out["output"].split()
            if int(n) != size:
                raise RuntimeError(f"egress download: {n} bytes of {size}")
            proxied.append(int(n) / 1e6 / float(secs))
        stop_session(d, "bench-egress")
    finally:
        d.stop()
        srv.shutdown()
        shutil.rmtree(bundle, ignore_errors=True)
    for label, v in (("direct on the host (urllib, no proxy)", direct),
                     ("through a session's egress (urllib in the guest)", proxied)):
        v = sorted(v)
        print(f"  {label:<52} median {v[len(v) // 2]:8.1f} MB/s  (min {v[0]:.1f}, max {v[-1]:.1f})",
              flush=True)


def pool_ready(d, want=1, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        pools = d.call("GetInfo", {}, service="enclave.v1.Enclave").get("pools", [])
        if pools and pools[0].get("ready", 0) >= want:
            return pools[0]
        time.sleep(0.05)
    raise RuntimeError(f"the warm pool did not fill in {timeout} s")


def bench_fast_start(args, table):
    """Cold against pooled StartSession, each followed by its first exec, in
    two daemons started side by side from the same image."""
    print(f"fast start: cold boot against a warm pool (--pool 1), {args.boots} starts each:", flush=True)
    cold = Daemon(args.enclave, args.image_home, ["--pool", "0"])
    try:
        cold.start()
        boots, firsts = [], []
        for i in range(args.boots):
            sid = f"bench-cold-{i}"
            boots.append(start_session(cold, sid))
            t0 = time.perf_counter()
            check_exec(cold.call("ExecuteTool", exec_body(sid, "python")), "first exec")
            firsts.append(ms_since(t0))
            stop_session(cold, sid)
        table.add("StartSession to READY, cold boot", boots)
        table.add("first ExecuteTool python 'pass' after a cold boot", firsts)
    finally:
        cold.stop()
    d = Daemon(args.enclave, args.image_home, ["--pool", "1"])
    try:
        d.start()
        pool_ready(d)
        time.sleep(IDLE_SETTLE_S)  # let the idle guest settle (see IDLE_SETTLE_S)
        idle = vmm_mems(d)
        claims, firsts = [], []
        for i in range(args.boots):
            pool_ready(d)  # a claim, not a cold boot: wait for the refill
            sid = f"bench-pooled-{i}"
            claims.append(start_session(d, sid))
            t0 = time.perf_counter()
            check_exec(d.call("ExecuteTool", exec_body(sid, "python")), "first exec")
            firsts.append(ms_since(t0))
            stop_session(d, sid)
        table.add("StartSession to READY, pooled (claims a warm VM)", claims)
        table.add("first ExecuteTool python 'pass' after a pooled start", firsts)
        bench_forkserver(d, args, table)
        print(idle_vm_line("idle VM (the VMM of a ready pool VM)", idle), flush=True)
    finally:
        d.stop()
    bench_restore(args, table)


def snapshot_meta(d, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snaps = os.path.join(d.home, "snapshots")
        for name in os.listdir(snaps) if os.path.isdir(snaps) else []:
            meta = os.path.join(snaps, name, "meta.json")
            if os.path.exists(meta):
                with open(meta) as f:
                    return json.load(f)
        time.sleep(0.1)
    raise RuntimeError(f"no snapshot was saved in {timeout} s:\n" + d.read_log()[-2000:])


def bench_restore(args, table):
    """Restored StartSession (--restore on, no pool), in the same run as the
    cold and pooled rows above."""
    d = Daemon(args.enclave, args.image_home, ["--pool", "0", "--restore", "on"])
    try:
        d.start()
        meta = snapshot_meta(d)
        for line in d.read_log().splitlines():
            if " ready: " in line and "snapshot" in line:
                print("  " + line.split(" info: ", 1)[-1], flush=True)
        restores, firsts, idle = [], [], []
        for i in range(args.boots):
            sid = f"bench-restored-{i}"
            restores.append(start_session(d, sid))
            if i == 0:
                time.sleep(IDLE_SETTLE_S)  # as for the pool VM above
                idle = vmm_mems(d)
            t0 = time.perf_counter()
            check_exec(d.call("ExecuteTool", exec_body(sid, "python")), "first exec")
            firsts.append(ms_since(t0))
            stop_session(d, sid)
        log = d.read_log()
        n = log.count("restored from the snapshot")
        table.add("StartSession to READY, restored (snapshot)", restores)
        table.add("first ExecuteTool python 'pass' after a restore", firsts)
        print(f"  ({n} of {args.boots} starts restored; snapshot {meta['size'] / 1048576:.1f} MiB)", flush=True)
        print(idle_vm_line("idle VM (the VMM of a restored VM)", idle), flush=True)
    finally:
        d.stop()


def bench_forkserver(d, args, table, code_rows=True):
    """The python tool with and without the guest's pre-started Python. The
    fork server forks the next call's worker once a call has ended, so each
    sample waits a moment first (an agent thinks between calls); the fresh
    path is `/usr/bin/python3 -c` (tool exec), which the fork server never
    serves. Each program says whether json was imported before it ran: only
    in the fork server's workers."""
    sid = "bench-forkserver"
    start_session(d, sid)
    code = "import sys; print('json' in sys.modules)"
    warm, cold, served = [], [], 0
    for _ in range(args.samples):
        time.sleep(args.think)
        t0 = time.perf_counter()
        r = d.call("ExecuteTool", {"sessionId": sid, "toolName": "python", "input": code, "timeoutSeconds": 30})
        ms = ms_since(t0)
        check_exec(r, "python via the fork server")
        if r.get("output") == "True\n":
            warm.append(ms)
            served += 1
        time.sleep(args.think)
        t0 = time.perf_counter()
        r = d.call("ExecuteTool", exec_body_argv(sid, ["/usr/bin/python3", "-c", code]))
        cold.append(ms_since(t0))
        check_exec(r, "fresh python3")
    table.add("python tool round trip, pre-started Python (fork server)", warm)
    table.add("python tool round trip, fresh python3 (no fork server)", cold)
    print(f"  ({served} of {args.samples} python calls found the fork server ready after "
          f"{args.think:.0f} s; the others started a fresh python3)", flush=True)
    stop_session(d, sid)
    if not code_rows:
        return
    # RunCode: the first cell of a new context pays for its interpreter. A
    # context forked from the pre-started Python says json was imported.
    forked, fresh = [], []
    for s in range(max(1, args.samples // 4)):
        sid = f"bench-context-{s}"
        start_session(d, sid)
        for i in range(6):  # the guest keeps at most 8 contexts
            time.sleep(args.think)
            t0 = time.perf_counter()
            ev = connect_stream(d, "RunCode", {"sessionId": sid, "contextId": f"c{i}",
                                               "code": "import sys; print('json' in sys.modules)"})
            ms = ms_since(t0)
            out = "".join(m.get("stdout", "") for m in ev)
            (forked if out == "True\n" else fresh).append(ms)
        stop_session(d, sid)
    table.add("RunCode first cell of a new context, forked interpreter", forked)
    table.add("RunCode first cell of a new context, fresh python3", fresh)


def vmm_mem(pid):
    """(VmRSS, Pss, RssFile, Uss) of one VMM process in MiB. PSS splits each
    page shared with other processes (QEMU's binary and libraries, mapped
    by every VMM) among them; USS counts only the pages of this process
    alone: the memory one more VM really costs lies between the two."""
    rss = vm_rss_kb(pid) / 1024.0
    pss = rss_file = uss = 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024.0
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    uss += int(line.split()[1]) / 1024.0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssFile:"):
                    rss_file = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return rss, pss, rss_file, uss


def vmm_mems(d):
    return [vmm_mem(p) for p in vmm_pids(d.home)]


def idle_vm_line(label, mems):
    """One idle-VM memory row: VmRSS, PSS and USS (medians over the VMMs in
    mems) and how many such VMs fit in 8 GiB, by VmRSS and by PSS."""
    mems = [m for m in mems if m[0] > 0]
    if not mems:
        return f"  {label:<52} no VMM found"
    rss = percentile([m[0] for m in mems], 50)
    pss = percentile([m[1] for m in mems], 50)
    uss = percentile([m[3] for m in mems], 50)
    return (f"  {label:<52} VmRSS {rss:6.1f} MiB, PSS {pss:6.1f}, USS {uss:6.1f}"
            f"  -> {int(8192 // rss)} idle VMs in 8 GiB by VmRSS, {int(8192 // pss)} by PSS")


def image_has(image_home, name):
    link = os.path.join(image_home, "cache", "named", name) if name else os.path.join(image_home, "cache", "current")
    try:
        with open(os.path.join(os.path.realpath(link), "manifest.json")) as f:
            return {a["role"]: a["size"] for a in json.load(f)["artifacts"]}
    except (OSError, ValueError, KeyError):
        return None


def bench_rootfs(args, table):
    """The shared read-only root filesystem (rootfs.erofs on a virtio-blk
    disk, the default image) against the same system in an initramfs (the
    variant built with --initramfs-only), in one daemon, alternating: cold
    StartSession, the first exec after it, and the memory of idle VMs of
    each kind running side by side. Then the erofs image again with the
    disk's cache mode none (O_DIRECT) instead of writeback."""
    legacy = args.legacy_image
    cur, old = image_has(args.image_home, None), image_has(args.image_home, legacy)
    if not cur or "rootfs" not in cur:
        print("shared root filesystem: the default image has no rootfs.erofs; rows skipped", flush=True)
        return
    if not old or "rootfs" in old:
        print(f"shared root filesystem: no initramfs-only variant '{legacy}' (build it with "
              f"`enclave image build --name {legacy} --initramfs-only`); rows skipped", flush=True)
        return
    print(f"shared root filesystem: erofs disk (initramfs {cur['initramfs'] / (1 << 20):.1f} MiB + rootfs "
          f"{cur['rootfs'] / (1 << 20):.1f} MiB) against the initramfs image ({old['initramfs'] / (1 << 20):.1f} "
          f"MiB), {args.boots} cold starts each, alternating:", flush=True)
    kinds = (("initramfs", legacy), ("erofs", ""))
    for cache in ("writeback", "none"):
        d = Daemon(args.enclave, args.image_home, ["--pool", "0"], env={"ENCLAVE_ROOTFS_CACHE": cache})
        try:
            d.start()
            boots = {k: [] for k, _ in kinds}
            firsts = {k: [] for k, _ in kinds}
            todo = kinds if cache == "writeback" else kinds[1:]
            for i in range(args.boots):
                for kind, image in todo:
                    sid = f"bench-{kind}-{i}"
                    t0 = time.perf_counter()
                    resp = d.call("StartSession", {"sessionId": sid, "image": image}, service="enclave.v1.Enclave")
                    wait_ready(d, sid, resp)
                    boots[kind].append(ms_since(t0))
                    t0 = time.perf_counter()
                    check_exec(d.call("ExecuteTool", exec_body(sid, "python")), "first exec")
                    firsts[kind].append(ms_since(t0))
                    stop_session(d, sid)
            for kind, _ in todo:
                label = kind if kind == "initramfs" else f"erofs, cache={cache}"
                table.add(f"StartSession to READY, {label}", boots[kind])
                table.add(f"first ExecuteTool after it, {label}", firsts[kind])
            # Idle VMs of each kind side by side: VmRSS, and PSS (pages
            # shared between the VMM processes are split among them).
            n = max(1, args.idle // 2)
            pids = {}
            for kind, image in todo:
                for i in range(n):
                    sid = f"bench-idle-{kind}-{i}"
                    resp = d.call("StartSession", {"sessionId": sid, "image": image}, service="enclave.v1.Enclave")
                    wait_ready(d, sid, resp)
                    check_exec(d.call("ExecuteTool", exec_body(sid, "python")), "exec")
            time.sleep(IDLE_SETTLE_S)  # let the guests settle
            for kind, image in todo:
                mem = []
                for i in range(n):
                    sid = f"bench-idle-{kind}-{i}"
                    for pid in vmm_pids(os.path.join(d.home, "run", "vms", sid)):
                        mem.append(vmm_mem(pid))
                pids[kind] = mem
                if mem:
                    rss = percentile([m[0] for m in mem], 50)
                    pss = percentile([m[1] for m in mem], 50)
                    rfile = percentile([m[2] for m in mem], 50)
                    uss = percentile([m[3] for m in mem], 50)
                    label = kind if kind == "initramfs" else f"erofs, cache={cache}"
                    print(f"  idle VM after one exec, {label:<22} ({len(mem)} running): VmRSS {rss:6.1f} MiB, "
                          f"PSS {pss:6.1f}, USS {uss:6.1f}, file-backed {rfile:5.1f} -> {int(8192 // rss)} "
                          f"VMs in 8 GiB by VmRSS, {int(8192 // pss)} by PSS", flush=True)
            for kind, _ in todo:
                for i in range(n):
                    stop_session(d, f"bench-idle-{kind}-{i}")
        finally:
            d.stop()


def exec_body_argv(sid, argv):
    return {"sessionId": sid, "toolName": "exec", "input": json.dumps(argv), "timeoutSeconds": 30}


def fmt_vmm(mems):
    if not mems:
        return "none found"
    rss = [m[0] for m in mems]
    pss = [m[1] for m in mems]
    return (f"{len(rss)} process(es), {sum(rss):.1f} total, {percentile(rss, 50):.1f} median each"
            f" (PSS {sum(pss):.1f} total, {percentile(pss, 50):.1f} median)")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def mem_total_mb():
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return 0


def image_desc(image_home):
    """The default image (cache/current): its name and its large files."""
    path = os.path.realpath(os.path.join(image_home, "cache", "current"))
    if not os.path.isdir(path):
        return "none"
    parts = []
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if os.path.isfile(full) and os.path.getsize(full) > 1 << 20:
            parts.append(f"{entry} {os.path.getsize(full) / (1 << 20):.1f} MiB")
    return f"{os.path.basename(path)}: " + ", ".join(parts)


if __name__ == "__main__":
    main()
