"""Streaming exec (enclave.v1.Enclave/Exec) against a real daemon and real VMs,
through gRPC (python3-grpcio, HTTP/2) and Connect streaming (HTTP/1.1,
application/connect+json). Times are printed, never asserted: only the order
of events is."""
import base64
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import ConnectError, Daemon, vmm_pids

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SESSION = "stream-main"

LINE_SLEEP_LINE = ("import sys, time\n"
                   "print('first', flush=True)\n"
                   "time.sleep(1)\n"
                   "print('second', flush=True)\n")


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
def sd():
    d = Daemon(["--max-input", "256K"]).start()
    d.start_session(sessionId=SESSION)
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()


@pytest.fixture(scope="module")
def stub(sd, pb):
    ch = sd.grpc_channel()
    grpc.channel_ready_future(ch).result(timeout=30)
    yield pb[1].EnclaveStub(ch)
    ch.close()


def connect_events(d, body, **kw):
    """[(t, kind, value)] from a Connect stream; bytes decoded."""
    out = []
    for t, msg in d.stream("Exec", body, **kw):
        if "end" in msg:
            out.append((t, "end", msg["end"]))
        elif "exit" in msg:
            out.append((t, "exit", msg["exit"]))
        else:
            (k, v), = msg.items()
            out.append((t, k, base64.b64decode(v)))
    return out


def grpc_events(stub, pb, **req):
    out = []
    for ev in stub.Exec(pb[0].ExecRequest(**req), timeout=300):
        kind = ev.WhichOneof("event")
        out.append((time.monotonic(), kind, ev.exit if kind == "exit" else getattr(ev, kind)))
    return out


def show(events, t0):
    for t, kind, value in events:
        print(f"  +{t - t0:7.3f} s  {kind:6} {value!r:.120}")


# ------------------------------------------------------------------ ordering


def test_first_chunk_arrives_before_the_exit_grpc(stub, pb):
    t0 = time.monotonic()
    ev = grpc_events(stub, pb, session_id=SESSION, argv=["python3", "-c", LINE_SLEEP_LINE])
    show(ev, t0)
    kinds = [k for _, k, _ in ev]
    assert kinds[-1] == "exit" and kinds.count("exit") == 1
    out = b"".join(v for _, k, v in ev if k == "stdout")
    assert out == b"first\nsecond\n"
    # The line printed before the sleep came in its own chunk, before the
    # second line and before the exit event.
    first = next(i for i, (_, k, v) in enumerate(ev) if k == "stdout")
    assert ev[first][2] == b"first\n"
    assert ev[first][0] < ev[-1][0]
    assert ev[-1][2].exit_code == 0 and not ev[-1][2].truncated


def test_first_chunk_arrives_before_the_exit_connect(sd):
    t0 = time.monotonic()
    ev = connect_events(sd, {"sessionId": SESSION, "argv": ["python3", "-c", LINE_SLEEP_LINE]})
    show(ev, t0)
    kinds = [k for _, k, _ in ev]
    assert kinds[-2:] == ["exit", "end"] and ev[-1][2] == {}
    first = kinds.index("stdout")
    assert ev[first][2] == b"first\n"
    assert first < kinds.index("exit") and ev[first][0] < ev[-2][0]
    assert b"".join(v for _, k, v in ev if k == "stdout") == b"first\nsecond\n"


def test_stdin_stderr_and_exit_code(stub, pb, sd):
    code = "import sys\nd = sys.stdin.read()\nprint(d.upper(), end='')\nprint('oops', file=sys.stderr)\nsys.exit(3)"
    ev = grpc_events(stub, pb, session_id=SESSION, argv=["python3", "-c", code],
                     stdin=b"given up front\n")
    assert b"".join(v for _, k, v in ev if k == "stdout") == b"GIVEN UP FRONT\n"
    assert b"".join(v for _, k, v in ev if k == "stderr") == b"oops\n"
    assert ev[-1][2].exit_code == 3
    ev = connect_events(sd, {"sessionId": SESSION, "argv": ["python3", "-c", code],
                             "stdin": base64.b64encode(b"over connect\n").decode()})
    assert b"".join(v for _, k, v in ev if k == "stdout") == b"OVER CONNECT\n"
    assert ev[-2][2]["exitCode"] == 3


def test_timeout_says_so_in_the_exit_event(stub, pb):
    ev = grpc_events(stub, pb, session_id=SESSION, argv=["python3", "-c", "import time; time.sleep(30)"],
                     timeout_seconds=2)
    exit_ = ev[-1][2]
    assert exit_.timed_out and exit_.signal == 9 and exit_.timeout_seconds == 2


# ------------------------------------------------------------------ policy and errors


def test_denied_exec_is_permission_denied_with_reasons(stub, pb, sd):
    with pytest.raises(grpc.RpcError) as e:
        grpc_events(stub, pb, session_id=SESSION, argv=["sh", "-c", "id"])
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only python3 may run" in e.value.details()
    ev = connect_events(sd, {"sessionId": SESSION, "argv": ["sh", "-c", "id"]})
    assert [k for _, k, _ in ev] == ["end"]
    err = ev[0][2]["error"]
    assert err["code"] == "permission_denied" and "only python3 may run" in err["message"]
    # The decision is in the audit log, as for ExecuteTool (action "exec").
    decisions = [r for r in sd.audit(SESSION) if r["name"] == "POLICY:DECISION"]
    assert any(json.loads(r["args"]).get("action") == "exec" and r["status"] == "deny" and
               "argv[0] is sh" in r["action"] for r in decisions), decisions[-3:]


def test_unknown_session_is_not_found(stub, pb, sd):
    with pytest.raises(grpc.RpcError) as e:
        grpc_events(stub, pb, session_id="no-such", argv=["python3", "-c", "1"])
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    ev = connect_events(sd, {"sessionId": "no-such", "argv": ["python3", "-c", "1"]})
    assert ev[0][2]["error"]["code"] == "not_found"


def test_connect_streaming_protocol_errors(sd):
    # The unary content type on a streaming method: 415, naming the right ones.
    status, body = sd.raw("/enclave.v1.Enclave/Exec", b"{}")
    assert status == 415
    # Not one envelope: an error, and the daemon still serves.
    for bad in (b"", b"\x00\x00\x00", b"\x00\x00\x00\x00\x09{}", b"\x01\x00\x00\x00\x02{}",
                b"\x00\x00\x00\x00\x02{}\x00\x00\x00\x00\x02{}", b"\x00\xff\xff\xff\xff"):
        status, data = sd.raw("/enclave.v1.Enclave/Exec", bad, content_type="application/connect+json")
        doc = json.loads(data)
        assert status != 200 and doc["code"] in ("invalid_argument", "unimplemented",
                                                 "resource_exhausted"), (bad, status, doc)
    ev = connect_events(sd, {"sessionId": SESSION, "argv": ["python3", "-c", "print(1)"]})
    assert ev[-2][2].get("exitCode", 0) == 0


def test_client_going_away_abandons_the_exec(sd):
    """A client that hangs up mid-stream: the exec is killed and audited as
    abandoned; the session keeps serving."""
    body = json.dumps({"sessionId": SESSION, "argv": ["python3", "-c",
                       "import time\nprint('x', flush=True)\ntime.sleep(60)"]}).encode()
    s = socket.create_connection((sd.host, sd.port_number))
    s.sendall(b"POST /enclave.v1.Enclave/Exec HTTP/1.1\r\nHost: %s\r\n"
              b"Authorization: Bearer %s\r\n"
              b"Content-Type: application/connect+json\r\nContent-Length: %d\r\n\r\n"
              % (sd.addr.encode(), sd.token.encode(), len(body) + 5)
              + struct.pack(">BI", 0, len(body)) + body)
    got = b""
    while b'"stdout"' not in got:
        got += s.recv(4096)
    s.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        execs = [json.loads(r["args"]) for r in sd.audit(SESSION) if r["name"] == "TOOL:EXEC"]
        if any(e.get("abandoned") for e in execs):
            break
        time.sleep(0.5)
    assert any(e.get("abandoned") for e in execs), execs[-3:]
    ev = connect_events(sd, {"sessionId": SESSION, "argv": ["python3", "-c", "print('still here')"]})
    assert b"".join(v for _, k, v in ev if k == "stdout") == b"still here\n"


# ------------------------------------------------------------------ backpressure

BIG = ("import sys\nb = b'x' * 65535 + b'\\n'\n"
       "for i in range(800):\n    sys.stdout.buffer.write(b)\n")  # 50 MiB


@pytest.fixture(scope="module")
def big():
    """A daemon whose policy lets a command print 64 MiB and whose stream cap
    is 32 MiB, so a 50 MiB program is capped by the daemon's stream cap."""
    bundle = tempfile.mkdtemp(prefix="enclave-policy-")
    shutil.copytree(ROOT / "policy" / "enclave", os.path.join(bundle, "enclave"))
    os.unlink(os.path.join(bundle, "enclave", "constitution_test.rego"))
    data = json.loads((ROOT / "policy" / "data.json").read_text())
    data["constitution"]["max_output_bytes"] = 64 << 20
    with open(os.path.join(bundle, "data.json"), "w") as f:
        json.dump(data, f)
    d = Daemon(["--policy", bundle, "--max-stream-output", "32M"]).start()
    d.start_session(sessionId="big")
    yield d
    d.stop()
    d.cleanup()
    shutil.rmtree(bundle, ignore_errors=True)


def watch_rss(d, stop, samples):
    while not stop.is_set():
        samples.append(d.rss_kb())
        time.sleep(0.2)


def test_slow_grpc_reader_keeps_the_daemon_bounded(big, pb):
    ch = big.grpc_channel()
    stub = pb[1].EnclaveStub(ch)
    base = big.rss_kb()
    samples, stop = [], threading.Event()
    th = threading.Thread(target=watch_rss, args=(big, stop, samples))
    th.start()
    try:
        it = stub.Exec(pb[0].ExecRequest(session_id="big", argv=["python3", "-c", BIG],
                                         timeout_seconds=600), timeout=600)
        first = next(it)
        time.sleep(8)  # read nothing for a while: the guest must pause, not the daemon buffer
        idle_peak = max(samples)
        n, last = len(first.stdout), None
        for ev in it:
            if ev.WhichOneof("event") == "exit":
                last = ev.exit
            else:
                n += len(ev.stdout) + len(ev.stderr)
    finally:
        stop.set()
        th.join()
        ch.close()
    peak = max(samples)
    print(f"daemon VmRSS: {base} KiB before, {idle_peak} KiB peak while the client read nothing, "
          f"{peak} KiB peak overall; {n} bytes streamed")
    assert last is not None and last.truncated and last.truncated_reason == "output_cap"
    assert n == 32 << 20 and last.stdout_bytes == 32 << 20 and last.max_output_bytes == 32 << 20
    # Buffering the output would take at least 32 MiB; the bounds allow ~2.5 MiB.
    assert peak - base < 16 << 10


def test_slow_connect_reader_keeps_the_daemon_bounded(big):
    base = big.rss_kb()
    samples, stop = [], threading.Event()
    th = threading.Thread(target=watch_rss, args=(big, stop, samples))
    th.start()
    n, last = 0, None
    try:
        stream = big.stream("Exec", {"sessionId": "big", "argv": ["python3", "-c", BIG],
                                     "timeoutSeconds": 600}, timeout=600, rcvbuf=65536)
        t, msg = next(stream)
        time.sleep(8)
        idle_peak = max(samples)
        for t, msg in stream:
            if "stdout" in msg:
                n += len(base64.b64decode(msg["stdout"]))
            elif "exit" in msg:
                last = msg["exit"]
            elif "end" in msg:
                assert msg["end"] == {}
    finally:
        stop.set()
        th.join()
    peak = max(samples)
    print(f"daemon VmRSS: {base} KiB before, {idle_peak} KiB peak while the client read nothing, "
          f"{peak} KiB peak overall; {n} bytes after the first chunk")
    assert last is not None and last["truncated"] and last["truncatedReason"] == "output_cap"
    assert int(last["stdoutBytes"]) == 32 << 20
    assert peak - base < 16 << 10


def gated(tag):
    """A program that prints a line, then waits until the test creates
    /tmp/go-TAG in the guest (which the test does only after it has received
    that line), then prints another. Without streaming it cannot finish."""
    return ("import os, sys, time\n"
            "print('early', flush=True)\n"
            "for i in range(600):\n"
            f"    if os.path.exists('/tmp/go-{tag}'): break\n"
            "    time.sleep(0.1)\n"
            "else:\n"
            "    sys.exit(9)\n"
            "print('late')\n")


def release(d, tag):
    r = d.python(SESSION, f"open('/tmp/go-{tag}', 'w').close()")
    assert r.get("exitCode", 0) == 0, r


def test_output_streams_before_the_command_ends_grpc(stub, pb, sd):
    it = stub.Exec(pb[0].ExecRequest(session_id=SESSION, argv=["python3", "-c", gated("g")]),
                   timeout=300)
    first = next(it)
    assert first.stdout == b"early\n"
    release(sd, "g")
    rest = list(it)
    assert b"".join(e.stdout for e in rest) == b"late\n"
    assert rest[-1].exit.exit_code == 0


def test_output_streams_before_the_command_ends_connect(sd):
    stream = sd.stream("Exec", {"sessionId": SESSION, "argv": ["python3", "-c", gated("c")]})
    t, msg = next(stream)
    assert base64.b64decode(msg["stdout"]) == b"early\n"
    release(sd, "c")
    rest = [m for _, m in stream]
    assert b"".join(base64.b64decode(m["stdout"]) for m in rest if "stdout" in m) == b"late\n"
    assert rest[-1] == {"end": {}} and rest[-2]["exit"].get("exitCode", 0) == 0


def test_cli_prints_output_as_it_arrives(sd):
    """`enclave session exec` prints the first line while the command still runs."""
    p = subprocess.Popen([os.environ.get("ENCLAVE_BIN", "build/enclave"), "session", "exec",
                          SESSION, "--", "python3", "-c", gated("cli")],
                         env=dict(sd.env, ENCLAVE_ADDR=sd.addr), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        first = p.stdout.readline()
        assert first == b"early\n"
        release(sd, "cli")
        rest, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert rest == b"late\n", err
    assert p.returncode == 0


# ------------------------------------------------------------------ interactive stdin (gRPC bidi)

ECHO_UPPER = ("import sys\ntotal = 0\nfor line in sys.stdin:\n"
              "    if len(line) < 100:\n        print(line.strip().upper(), flush=True)\n"
              "    else:\n        total += len(line)\nprint('total', total)\n")


def test_interactive_stdin_grpc(stub, pb):
    """ExecInteractive: each line typed comes back before the next is sent;
    then 4 MB of input in 200 kB messages (more than the guest may hold at
    once: flow control paces it), then the end of input ends the program."""
    import queue
    echoes = queue.Queue()

    def inputs():
        yield pb[0].ExecInput(start=pb[0].ExecRequest(session_id=SESSION,
                                                      argv=["python3", "-c", ECHO_UPPER]))
        for word in ("alpha", "beta", "gamma"):
            yield pb[0].ExecInput(stdin=(word + "\n").encode())
            assert echoes.get(timeout=120) == word.upper().encode()
        for _ in range(20):
            yield pb[0].ExecInput(stdin=b"x" * 199999 + b"\n")
        yield pb[0].ExecInput(close_stdin=True)

    out, exit_ = b"", None
    for ev in stub.ExecInteractive(inputs(), timeout=300):
        kind = ev.WhichOneof("event")
        if kind == "stdout":
            out += ev.stdout
            while b"\n" in out and not out.startswith(b"total"):
                line, _, out = out.partition(b"\n")
                echoes.put(line)
        elif kind == "exit":
            exit_ = ev.exit
    assert out == b"total 4000000\n"
    assert exit_ is not None and exit_.exit_code == 0


def test_interactive_stdin_errors(stub, pb, sd):
    # The first message must start the program.
    with pytest.raises(grpc.RpcError) as e:
        list(stub.ExecInteractive(iter([pb[0].ExecInput(stdin=b"x")]), timeout=60))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The policy decides as for Exec.
    with pytest.raises(grpc.RpcError) as e:
        list(stub.ExecInteractive(iter([pb[0].ExecInput(
            start=pb[0].ExecRequest(session_id=SESSION, argv=["sh"]))]), timeout=60))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The client's end of input closes the program's stdin.
    evs = list(stub.ExecInteractive(iter([pb[0].ExecInput(
        start=pb[0].ExecRequest(session_id=SESSION, argv=["python3", "-c", ECHO_UPPER],
                                stdin=b"up front\n"))]), timeout=120))
    assert b"".join(e.stdout for e in evs) == b"UP FRONT\ntotal 0\n"
    # Bidirectional streaming needs HTTP/2: over Connect it is unimplemented.
    status, data = sd.raw("/enclave.v1.Enclave/ExecInteractive", b"\x00\x00\x00\x00\x02{}",
                          content_type="application/connect+json")
    assert status == 501 and json.loads(data)["code"] == "unimplemented"
