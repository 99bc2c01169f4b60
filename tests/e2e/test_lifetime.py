"""Session lifetimes against a real daemon and real VMs: a maximum lifetime
(TTL) and an idle timeout stop a session, and the audit log records the stop
with its reason; ListSessions shows age, idle time and deadline. Through gRPC
(python3-grpcio) and Connect."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from conftest import ConnectError, Daemon, vmm_pids

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

ROOT = pathlib.Path(__file__).resolve().parents[2]


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
def ld():
    d = Daemon().start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM process behind"
    d.cleanup()


def sessions(d):
    return {s["sessionId"]: s for s in
            d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])}


def wait_gone(d, sid, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if sid not in sessions(d):
            return
        time.sleep(0.5)
    raise AssertionError(f"session {sid} is still there after {timeout} s")


def stop_reasons(d, sid):
    return [json.loads(r["args"]).get("reason") for r in d.audit(sid) if r["name"] == "SESSION:STOP"]


def test_ttl_expiry_stops_the_session_grpc(ld, pb):
    ch = ld.grpc_channel()
    stub = pb[1].EnclaveStub(ch)
    r = stub.StartSession(pb[0].StartSessionRequest(session_id="ttl-grpc", max_lifetime_s=4,
                                                    idle_timeout_s=-1), timeout=300)
    ch.close()
    assert r.status == "READY" and r.max_lifetime_s == 4 and r.idle_timeout_s == 0
    assert r.deadline_unix_ns > 0
    wait_gone(ld, "ttl-grpc")
    assert stop_reasons(ld, "ttl-grpc") == ["max_lifetime"]
    assert vmm_pids(os.path.join(ld.home, "run", "vms", "ttl-grpc")) == []


def test_idle_expiry_waits_for_a_running_exec_connect(ld):
    r = ld.start_session(sessionId="idle-connect", idleTimeoutS=4, maxLifetimeS=-1)
    assert r["status"] == "READY"
    # A command that runs longer than the idle timeout: the session is busy,
    # not idle, and the command finishes.
    out = ld.python("idle-connect", "import time\ntime.sleep(7)\nprint('done')", timeout=60)
    assert out.get("exitCode", 0) == 0 and out["output"] == "done\n"
    assert "idle-connect" in sessions(ld)
    wait_gone(ld, "idle-connect")
    assert stop_reasons(ld, "idle-connect") == ["idle_timeout"]


def test_list_shows_age_idle_and_deadline(ld, pb):
    ld.call("StartSession", {"sessionId": "listed", "maxLifetimeS": 600, "idleTimeoutS": 300},
            service="enclave.v1.Enclave")
    s = sessions(ld)["listed"]
    print(s)
    assert int(s["ageMs"]) >= 0 and int(s["idleMs"]) >= 0
    assert s["idleTimeoutS"] == 300 and s["maxLifetimeS"] == 600
    assert int(s["createdUnixNs"]) + 600 * 10**9 < int(s["deadlineUnixNs"]) <= time.time_ns() + 600 * 10**9
    ch = ld.grpc_channel()
    stub = pb[1].EnclaveStub(ch)
    listed = {x.session_id: x for x in stub.ListSessions(pb[0].ListSessionsRequest()).sessions}
    ch.close()
    assert listed["listed"].deadline_unix_ns == int(s["deadlineUnixNs"])
    p = ld.cli("session", "ls")
    assert p.returncode == 0
    line = next(l for l in p.stdout.decode().splitlines() if l.startswith("listed "))
    assert "/300s" in line and "T" in line.split()[-1], line
    ld.stop_session("listed")
    assert stop_reasons(ld, "listed") == ["requested"]


def test_bad_limits_are_refused(ld):
    for body in ({"sessionId": "bad-1", "idleTimeoutS": -2}, {"sessionId": "bad-2", "maxLifetimeS": -5}):
        with pytest.raises(ConnectError) as e:
            ld.start_session(**body)
        assert e.value.code == "invalid_argument"
    assert "bad-1" not in sessions(ld) and "bad-2" not in sessions(ld)


def test_cli_session_start_ttl(ld):
    p = ld.cli("session", "start", "--id", "cli-ttl", "--ttl", "5s", "--idle-timeout", "none")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"cli-ttl\n"
    s = sessions(ld)["cli-ttl"]
    assert s["maxLifetimeS"] == 5 and s.get("idleTimeoutS", 0) == 0
    wait_gone(ld, "cli-ttl")
    assert stop_reasons(ld, "cli-ttl") == ["max_lifetime"]
    p = ld.cli("session", "start", "--ttl", "soon")
    assert p.returncode == 2 and b"--ttl" in p.stderr


def test_daemon_defaults_apply(fresh_daemon):
    d = fresh_daemon(["--session-idle-timeout", "3s", "--session-max-lifetime", "1h"]).start()
    r = d.call("StartSession", {"sessionId": "defaults"}, service="enclave.v1.Enclave")
    assert r["idleTimeoutS"] == 3 and r["maxLifetimeS"] == 3600
    wait_gone(d, "defaults")
    assert stop_reasons(d, "defaults") == ["idle_timeout"]
    # The daemon's log says why, too.
    assert "idle_timeout of 3 s reached" in d.read_log()
    d.stop()
    assert vmm_pids(d.home) == []
