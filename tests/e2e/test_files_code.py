"""Files of a session and the stateful Python interpreter (RunCode) against a
real daemon and real VMs: plain HTTP (PUT/GET /v1/sessions/{id}/files/...),
Connect (unary and server streaming, application/connect+json) and gRPC
(python3-grpcio). Sizes, rates and memory are printed; only the memory bound
and the content are asserted, never a time."""
import hashlib
import json
import pathlib
import resource
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ConnectError, Daemon, vmm_pids

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SESSION = "files-main"
BIG = 200 << 20
CHUNK = 1 << 20
# The daemon never holds a whole file: its RSS may move by its buffers
# (a few MiB per transfer), not by the file.
RSS_SLACK_KB = 64 << 10


def pattern_chunks(total, seed=b"enclave"):
    """total bytes of a deterministic, incompressible stream, 1 MiB at a time."""
    block = hashlib.sha256(seed).digest() * (CHUNK // 32)
    for i in range(0, total, CHUNK):
        n = min(CHUNK, total - i)
        head = i.to_bytes(8, "big")
        yield (head + block[8:])[:n]


def sha_of(total, seed=b"enclave"):
    h = hashlib.sha256()
    for c in pattern_chunks(total, seed):
        h.update(c)
    return h.hexdigest()


class RssWatch:
    """Samples the daemon's RSS in a thread while a transfer runs."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.peak = self.start = daemon.rss_kb()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, self.daemon.rss_kb())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    out = tmp_path_factory.mktemp("grpc-stubs")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"),
                    "--python_out", str(out), "--grpc_python_out", str(out),
                    "enclave/v1/enclave.proto"], check=True)
    sys.path.insert(0, str(out))
    try:
        from enclave.v1 import enclave_pb2, enclave_pb2_grpc
    finally:
        sys.path.remove(str(out))
    return enclave_pb2, enclave_pb2_grpc


@pytest.fixture(scope="module")
def fd():
    d = Daemon().start()
    d.start_session(sessionId=SESSION, memoryMb=1024)
    yield d
    if d.proc.poll() is not None:
        print("the daemon had exited:", d.read_log()[-4000:])
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()


@pytest.fixture(scope="module")
def stub(fd, pb):
    ch = fd.grpc_channel()
    grpc.channel_ready_future(ch).result(timeout=30)
    yield pb[1].EnclaveStub(ch)
    ch.close()


def connect(fd, method, body):
    return fd.call(method, body, service="enclave.v1.Enclave")


def workload(fd, code):
    """Runs Python in the session as the workload (uid 1000)."""
    return fd.python(SESSION, code)


# ------------------------------------------------------------ files over HTTP


def test_http_200mib_round_trip_flat_rss(fd):
    expect = sha_of(BIG)
    with RssWatch(fd) as w:
        t0 = time.monotonic()
        status, doc = fd.put_file(SESSION, "/workspace/big.bin", pattern_chunks(BIG), BIG)
        up_s = time.monotonic() - t0
    assert status == 201, doc
    assert doc["bytes"] == BIG and doc["sha256"] == expect
    print(f"\nHTTP upload: {BIG >> 20} MiB in {up_s:.1f} s ({BIG / up_s / 1e6:.1f} MB/s); "
          f"daemon RSS {w.start} KiB -> peak {w.peak} KiB")
    assert w.peak - w.start < RSS_SLACK_KB

    h = hashlib.sha256()
    got = [0]

    def sink(chunk):
        h.update(chunk)
        got[0] += len(chunk)

    with RssWatch(fd) as w:
        t0 = time.monotonic()
        status, headers, _ = fd.get_file(SESSION, "/workspace/big.bin", sink)
        down_s = time.monotonic() - t0
    assert status == 200
    assert int(headers["content-length"]) == BIG
    assert got[0] == BIG and h.hexdigest() == expect
    print(f"HTTP download: {BIG >> 20} MiB in {down_s:.1f} s ({BIG / down_s / 1e6:.1f} MB/s); "
          f"daemon RSS {w.start} KiB -> peak {w.peak} KiB")
    assert w.peak - w.start < RSS_SLACK_KB

    # the audit log has the digest of both (the read's record is written when
    # the guest's final reply arrives, which may be just after the last byte)
    for _ in range(300):
        records = [r for r in fd.audit(SESSION) if r.get("name") in ("FILE:WRITE", "FILE:READ")]
        if sum(expect in json.dumps(r) for r in records) >= 2:
            break
        time.sleep(0.1)
    assert sum(expect in json.dumps(r) for r in records) >= 2, records

    # a listing for a folder
    status, _, body = fd.get_file(SESSION, "/workspace")
    assert status == 200
    listing = json.loads(body)
    big = [e for e in listing["entries"] if e["name"] == "big.bin"]
    assert big and big[0]["size"] == BIG and big[0]["type"] == "file"
    connect(fd, "RemoveFile", {"sessionId": SESSION, "path": "/workspace/big.bin"})


def test_grpc_200mib_round_trip_flat_rss(fd, stub, pb):
    enc = pb[0]
    expect = sha_of(BIG, b"grpc")

    def requests():
        yield enc.UploadFileRequest(session_id=SESSION, path="/workspace/g.bin")
        for c in pattern_chunks(BIG, b"grpc"):
            yield enc.UploadFileRequest(data=c)

    with RssWatch(fd) as w:
        t0 = time.monotonic()
        r = stub.UploadFile(requests(), timeout=900)
        up_s = time.monotonic() - t0
    assert r.bytes == BIG and r.sha256 == expect
    print(f"\ngRPC upload: {BIG / up_s / 1e6:.1f} MB/s; daemon RSS {w.start} -> peak {w.peak} KiB")
    assert w.peak - w.start < RSS_SLACK_KB

    h = hashlib.sha256()
    n = 0
    last = None
    with RssWatch(fd) as w:
        t0 = time.monotonic()
        for m in stub.DownloadFile(enc.DownloadFileRequest(session_id=SESSION, path="/workspace/g.bin"), timeout=900):
            h.update(m.data)
            n += len(m.data)
            if m.done:
                last = m
        down_s = time.monotonic() - t0
    assert n == BIG and h.hexdigest() == expect
    assert last is not None and last.sha256 == expect and last.bytes == BIG
    print(f"gRPC download: {BIG / down_s / 1e6:.1f} MB/s; daemon RSS {w.start} -> peak {w.peak} KiB")
    assert w.peak - w.start < RSS_SLACK_KB
    stub.RemoveFile(enc.RemoveFileRequest(session_id=SESSION, path="/workspace/g.bin"), timeout=60)


def test_small_files_connect_and_grpc(fd, stub, pb):
    enc = pb[0]
    # mkdir, upload, stat, list, download, remove over Connect + HTTP
    d = connect(fd, "MakeDirectory", {"sessionId": SESSION, "path": "/workspace/a/b", "parents": True})
    assert d["info"]["type"] == "directory"
    status, doc = fd.put_file(SESSION, "/workspace/a/b/hello.txt", [b"hello\n"], 6)
    assert status == 201 and doc["bytes"] == 6
    st = connect(fd, "StatFile", {"sessionId": SESSION, "path": "/workspace/a/b/hello.txt"})
    assert st["info"]["size"] == "6" or st["info"]["size"] == 6
    ls = connect(fd, "ListFiles", {"sessionId": SESSION, "path": "/workspace/a/b"})
    assert [e["name"] for e in ls["entries"]] == ["hello.txt"]
    # the workload sees it, owned by uid 1000
    out = fd.python(SESSION, "import os; p='/workspace/a/b/hello.txt'; print(open(p).read().strip(), os.stat(p).st_uid)")
    assert out["output"].strip() == "hello 1000"
    # Connect streaming download
    msgs = [m for _, m in fd.stream("DownloadFile", {"sessionId": SESSION, "path": "/workspace/a/b/hello.txt"})]
    assert msgs[-1].get("end") == {} or "error" not in msgs[-1].get("end", {})
    import base64
    data = b"".join(base64.b64decode(m.get("data", "")) for m in msgs if "end" not in m)
    assert data == b"hello\n"
    assert any(m.get("done") for m in msgs)
    # gRPC unary ones
    ls = stub.ListFiles(enc.ListFilesRequest(session_id=SESSION, path="/workspace/a"), timeout=60)
    assert [e.name for e in ls.entries] == ["b"]
    with pytest.raises(ConnectError) as e:
        connect(fd, "RemoveFile", {"sessionId": SESSION, "path": "/workspace/a"})
    assert e.value.code == "already_exists"
    stub.RemoveFile(enc.RemoveFileRequest(session_id=SESSION, path="/workspace/a", recursive=True), timeout=60)
    with pytest.raises(grpc.RpcError) as ge:
        stub.StatFile(enc.StatFileRequest(session_id=SESSION, path="/workspace/a"), timeout=60)
    assert ge.value.code() == grpc.StatusCode.NOT_FOUND


def test_planted_symlinks_and_outside_paths_refused(fd, stub, pb):
    enc = pb[0]
    workload(fd, "import os\n"
                 "os.symlink('/etc/passwd', '/workspace/pw')\n"
                 "os.symlink('/etc', '/workspace/etc')\n"
                 "os.symlink('/proc/self/root', '/workspace/root')\n")
    for path in ("/workspace/pw", "/workspace/etc/passwd", "/workspace/root/etc/passwd"):
        status, _, body = fd.get_file(SESSION, path)
        assert status == 403, (path, body)
        with pytest.raises(grpc.RpcError) as e:
            list(stub.DownloadFile(enc.DownloadFileRequest(session_id=SESSION, path=path), timeout=60))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # writing through a planted link: refused, and nothing lands outside
    status, doc = fd.put_file(SESSION, "/workspace/etc/enclave-escape", [b"x"], 1)
    assert status == 403, doc
    status, doc = fd.put_file(SESSION, "/workspace/pw", [b"x"], 1)
    assert status == 403, doc
    out = fd.python(SESSION, "import os; print(os.path.exists('/etc/enclave-escape'), open('/etc/passwd').read().count('root'))")
    assert out["output"].split()[0] == "False"
    # paths outside /workspace and /tmp
    status, _, body = fd.get_file(SESSION, "/etc/passwd")
    assert status == 403, body
    status, doc = fd.put_file(SESSION, "/etc/evil", [b"x"], 1)
    assert status == 403, doc
    status, _, body = fd.get_file(SESSION, "/workspace/../etc/passwd")
    assert status in (403, 400, 404), body
    with pytest.raises(ConnectError) as e:
        connect(fd, "ListFiles", {"sessionId": SESSION, "path": "/proc"})
    assert e.value.code == "permission_denied"


def test_denied_file_write_read_only_session(fd, stub, pb):
    enc = pb[0]
    sid = "files-ro"
    fd.start_session(sessionId=sid)
    try:
        # the first exec declares the intent; the session is held to it
        fd.call("ExecuteTool", {"sessionId": sid, "toolName": "python", "input": "print(1)",
                                "contextJson": '{"intent": {"action_category": "read_only_analysis"}}'})
        status, doc = fd.put_file(sid, "/workspace/a.txt", [b"x"], 1)
        assert status == 403 and "read_only_analysis" in doc.get("message", ""), doc
        with pytest.raises(grpc.RpcError) as e:
            stub.UploadFile(iter([enc.UploadFileRequest(session_id=sid, path="/workspace/a.txt", data=b"x")]), timeout=60)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # nothing was written
        out = fd.python(sid, "import os; print(os.path.exists('/workspace/a.txt'))")
        assert out["output"].strip() == "False"
        # code that writes is refused for this session too
        ev = [m for _, m in fd.stream("RunCode", {"sessionId": sid, "code": "open('/workspace/b', 'w').write('x')"})]
        assert len(ev) == 1 and ev[0]["end"]["error"]["code"] == "permission_denied", ev
        with pytest.raises(grpc.RpcError) as e:
            list(stub.RunCode(enc.RunCodeRequest(session_id=sid, code="import os; os.remove('x')"), timeout=60))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # code that only reads runs
        ev = [m for _, m in fd.stream("RunCode", {"sessionId": sid, "code": "sum(range(4))"})]
        assert [m["text"] for m in ev if "text" in m] == ["6"]
    finally:
        fd.stop_session(sid)


# ------------------------------------------------------------ RunCode


def run_connect(fd, code, **kw):
    events = [m for _, m in fd.stream("RunCode", dict({"sessionId": SESSION, "code": code}, **kw))]
    end = events[-1]["end"]
    assert "error" not in end, end
    return events[:-1]


def run_grpc(stub, enc, code, **kw):
    return list(stub.RunCode(enc.RunCodeRequest(session_id=SESSION, code=code, **kw), timeout=120))


def test_state_kept_across_cells(fd, stub, pb):
    enc = pb[0]
    run_connect(fd, "x = 41")
    ev = run_connect(fd, "x + 1")
    assert [e["text"] for e in ev if "text" in e] == ["42"]
    assert ev[-1]["done"]["executionCount"] >= 2
    # the same interpreter through gRPC
    ev = run_grpc(stub, enc, "x * 2")
    assert [e.text for e in ev if e.WhichOneof("event") == "text"] == ["82"]
    ev = run_grpc(stub, enc, "print('out'); import sys; print('err', file=sys.stderr)")
    assert "".join(e.stdout for e in ev if e.WhichOneof("event") == "stdout") == "out\n"
    assert "".join(e.stderr for e in ev if e.WhichOneof("event") == "stderr") == "err\n"
    # another context has its own names
    ev = run_connect(fd, "x", contextId="other")
    assert any(e.get("error", {}).get("name") == "NameError" for e in ev)


def test_rich_result_and_error(fd, stub, pb):
    enc = pb[0]
    code = ("class Table:\n"
            "    def _repr_html_(self):\n"
            "        return '<table><tr><td>7</td></tr></table>'\n"
            "    def __repr__(self):\n"
            "        return 'Table()'\n"
            "Table()")
    ev = run_grpc(stub, enc, code)
    assert [e.text for e in ev if e.WhichOneof("event") == "text"] == ["Table()"]
    html = [e.data for e in ev if e.WhichOneof("event") == "data" and e.data.mime_type == "text/html"]
    assert html and html[0].data == b"<table><tr><td>7</td></tr></table>"
    ev = run_connect(fd, code)
    assert any(e.get("data", {}).get("mimeType") == "text/html" for e in ev)

    ev = run_connect(fd, "def f():\n    return {}['missing']\nf()")
    err = [e["error"] for e in ev if "error" in e]
    assert err and err[0]["name"] == "KeyError" and "'missing'" in err[0]["value"]
    assert "return {}['missing']" in err[0]["traceback"]
    assert ev[-1]["done"]["error"] is True
    ev = run_grpc(stub, enc, "1/0")
    assert [e.error.name for e in ev if e.WhichOneof("event") == "error"] == ["ZeroDivisionError"]


def test_interrupt_and_restart(fd, stub, pb):
    enc = pb[0]
    run_connect(fd, "kept = 'yes'")
    ev = run_connect(fd, "while True:\n    pass", timeoutSeconds=2)
    done = ev[-1]["done"]
    assert done.get("timedOut") and done.get("interrupted") and not done.get("restarted")
    assert any(e.get("error", {}).get("name") == "KeyboardInterrupt" for e in ev)
    ev = run_connect(fd, "kept")
    assert [e["text"] for e in ev if "text" in e] == ["'yes'"]
    # a cell that ignores SIGINT: the context is killed and restarted, and the reply says so
    ev = run_grpc(stub, enc, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                             "while True:\n    time.sleep(0.1)", timeout_seconds=2)
    done = ev[-1].done
    assert done.timed_out and done.restarted
    ev = run_connect(fd, "kept")
    assert any(e.get("error", {}).get("name") == "NameError" for e in ev)
    ev = run_connect(fd, "1 + 1")
    assert [e["text"] for e in ev if "text" in e] == ["2"]


def test_cli_cp_ls_code(fd, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"from the host\n")
    r = fd.cli("session", "cp", str(src), f"{SESSION}:/workspace/cli.txt")
    assert r.returncode == 0, r.stderr
    r = fd.cli("session", "cp", f"{SESSION}:/workspace/cli.txt", "-")
    assert r.returncode == 0 and r.stdout == b"from the host\n", r.stderr
    r = fd.cli("session", "cp", "-", f"{SESSION}:/tmp/stdin.txt", input=b"piped\n")
    assert r.returncode == 0, r.stderr
    dst = tmp_path / "out.txt"
    r = fd.cli("session", "cp", f"{SESSION}:/tmp/stdin.txt", str(dst))
    assert r.returncode == 0 and dst.read_bytes() == b"piped\n", r.stderr
    r = fd.cli("session", "ls-files", SESSION, "/workspace")
    assert r.returncode == 0 and b"cli.txt" in r.stdout, r.stderr
    r = fd.cli("session", "cp", f"{SESSION}:/etc/passwd", "-")
    assert r.returncode != 0 and r.stdout == b""
    r = fd.cli("session", "code", SESSION, "y = 41")
    assert r.returncode == 0, r.stderr
    r = fd.cli("session", "code", SESSION, "y + 1")
    assert r.returncode == 0 and r.stdout == b"42\n", (r.stdout, r.stderr)
    r = fd.cli("session", "code", SESSION, "1/0")
    assert r.returncode != 0 and b"ZeroDivisionError" in r.stderr


def test_cli_cp_download_fails_cleanly(fd, tmp_path):
    """A download that fails, refused or half way through, leaves the file
    that was there whole and no temporary beside it; one that completes
    replaces it, mode 0644."""
    up = tmp_path / "up"
    up.mkdir()
    (up / "big.bin").write_bytes(b"x" * (1 << 20))
    r = fd.cli("session", "cp", str(up / "big.bin"), f"{SESSION}:/workspace/big.bin")
    assert r.returncode == 0, r.stderr
    down = tmp_path / "down"
    down.mkdir()
    dst = down / "out.bin"
    dst.write_bytes(b"old\n")

    def small_files():  # writes past 64 KiB fail with EFBIG (SIGXFSZ ignored)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    r = fd.cli("session", "cp", f"{SESSION}:/workspace/big.bin", str(dst), preexec_fn=small_files)
    assert r.returncode != 0 and str(dst).encode() in r.stderr, r.stderr
    assert dst.read_bytes() == b"old\n"
    assert [p.name for p in down.iterdir()] == ["out.bin"]
    r = fd.cli("session", "cp", f"{SESSION}:/etc/passwd", str(dst))
    assert r.returncode != 0
    assert dst.read_bytes() == b"old\n"
    fresh = down / "fresh.bin"
    r = fd.cli("session", "cp", f"{SESSION}:/workspace/nothing-here", str(fresh))
    assert r.returncode != 0
    assert [p.name for p in down.iterdir()] == ["out.bin"]
    dst.chmod(0o600)
    r = fd.cli("session", "cp", f"{SESSION}:/workspace/big.bin", str(dst))
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == b"x" * (1 << 20)
    assert dst.stat().st_mode & 0o7777 == 0o644
    assert [p.name for p in down.iterdir()] == ["out.bin"]
