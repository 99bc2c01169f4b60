"""The agent.v1 and enclave.v1 services through a real gRPC client (python3-grpcio,
HTTP/2) against a real daemon booting real VMs. Stubs are generated at test time
from proto/ with grpc_tools.protoc, so they always match the tree."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from conftest import vmm_pids

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SESSION = "grpc-main"


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """A namespace holding agent_pb2, agent_pb2_grpc, enclave_pb2, enclave_pb2_grpc."""
    out = tmp_path_factory.mktemp("grpc-stubs")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"),
                    "--python_out", str(out), "--grpc_python_out", str(out),
                    "agent/v1/agent.proto", "enclave/v1/enclave.proto"], check=True)
    sys.path.insert(0, str(out))
    try:
        from agent.v1 import agent_pb2, agent_pb2_grpc
        from enclave.v1 import enclave_pb2, enclave_pb2_grpc
    finally:
        sys.path.remove(str(out))

    class PB:
        pass
    ns = PB()
    ns.agent, ns.agent_grpc = agent_pb2, agent_pb2_grpc
    ns.enclave, ns.enclave_grpc = enclave_pb2, enclave_pb2_grpc
    return ns


@pytest.fixture(scope="module")
def channel(daemon):
    # The daemon is started with --max-input 256K; the client may send more so
    # that the server's limits are what is tested.
    ch = daemon.grpc_channel(options=[("grpc.max_send_message_length", 8 << 20),
                                      ("grpc.max_receive_message_length", 8 << 20)])
    grpc.channel_ready_future(ch).result(timeout=30)
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def agent(channel, pb):
    return pb.agent_grpc.AgentServiceStub(channel)


@pytest.fixture(scope="module")
def enclave(channel, pb):
    return pb.enclave_grpc.EnclaveStub(channel)


@pytest.fixture(scope="module")
def sid(agent, pb):
    """One session started and stopped over gRPC, shared by the module."""
    r = agent.StartSession(pb.agent.StartRequest(session_id=SESSION), timeout=300)
    assert r.session_id == SESSION
    assert r.status == "READY"
    yield r.session_id
    try:
        agent.StopSession(pb.agent.StopRequest(session_id=SESSION), timeout=60)
    except grpc.RpcError:
        pass


def python(agent, pb, session_id, code, timeout_seconds=0, deadline=120):
    return agent.ExecuteTool(pb.agent.ToolRequest(session_id=session_id, tool_name="python",
                                                  input=code, timeout_seconds=timeout_seconds),
                             timeout=deadline)


def rpc_error(fn, *args, **kw):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def session_entry(enclave, pb, session_id):
    for s in enclave.ListSessions(pb.enclave.ListSessionsRequest(), timeout=30).sessions:
        if s.session_id == session_id:
            return s
    return None


def test_execute_python_and_exec(agent, pb, sid):
    r = python(agent, pb, sid, "import os, sys\nprint(6*7, os.getuid())\nprint('e', file=sys.stderr)\nsys.exit(3)")
    assert r.output == "42 1000\n"
    assert r.error == "e\n"
    assert r.exit_code == 3
    assert len(r.syscall_logs) == 1
    log = r.syscall_logs[0]
    assert log.name == "exec" and log.session_id in ("", sid)
    meta = json.loads(log.metadata_json)
    assert meta["exit_code"] == 3 and meta["timed_out"] is False
    r = agent.ExecuteTool(pb.agent.ToolRequest(
        session_id=sid, tool_name="exec",
        input=json.dumps({"argv": ["python3", "-c", "import sys; print(sys.stdin.read()[::-1], sys.argv[1:])", "a b"],
                          "stdin": "olleh"})), timeout=120)
    assert r.output == "hello ['a b']\n"
    assert r.exit_code == 0


def test_exec_timeout_is_exit_124(agent, pb, sid):
    r = python(agent, pb, sid, "print('x', flush=True)\nwhile True: pass", timeout_seconds=2)
    assert r.exit_code == 124
    assert r.output == "x\n"
    assert "timed out after 2 s" in r.error


def test_list_sessions_and_info(agent, enclave, pb, sid):
    info = enclave.GetInfo(pb.enclave.GetInfoRequest(), timeout=30)
    assert info.accel in ("kvm", "tcg")
    assert info.version
    assert info.sessions >= 1
    s = session_entry(enclave, pb, sid)
    assert s is not None
    assert s.status == "READY"
    assert s.vcpu == info.default_vcpu and s.memory_mb == info.default_memory_mb
    assert s.kvm == (info.accel == "kvm")
    assert s.created_unix_ns > 0
    # A second session shows up, with the size it asked for, and goes away.
    r = agent.StartSession(pb.agent.StartRequest(session_id="grpc-list", vcpu=2, memory_mb=384), timeout=300)
    assert r.status == "READY"
    try:
        other = session_entry(enclave, pb, "grpc-list")
        assert other is not None and (other.vcpu, other.memory_mb) == (2, 384)
        assert enclave.GetInfo(pb.enclave.GetInfoRequest(), timeout=30).sessions == info.sessions + 1
    finally:
        assert agent.StopSession(pb.agent.StopRequest(session_id="grpc-list"), timeout=60).success
    assert session_entry(enclave, pb, "grpc-list") is None
    assert session_entry(enclave, pb, sid) is not None


def test_start_stop_leaves_no_vmm(agent, pb, daemon):
    r = agent.StartSession(pb.agent.StartRequest(session_id="grpc-stop"), timeout=300)
    assert r.status == "READY"
    marker = os.path.join(daemon.home, "run", "vms", "grpc-stop")
    assert len(vmm_pids(marker)) == 1
    assert python(agent, pb, "grpc-stop", "print('up')").output == "up\n"
    assert agent.StopSession(pb.agent.StopRequest(session_id="grpc-stop"), timeout=60).success is True
    assert vmm_pids(marker) == []
    e = rpc_error(python, agent, pb, "grpc-stop", "print(1)")
    assert e.code() == grpc.StatusCode.NOT_FOUND


def test_start_session_without_id_gets_one(agent, pb):
    r = agent.StartSession(pb.agent.StartRequest(), timeout=300)
    assert r.session_id and r.status == "READY"
    assert agent.StopSession(pb.agent.StopRequest(session_id=r.session_id), timeout=60).success


def test_error_codes(agent, pb, sid):
    e = rpc_error(python, agent, pb, "no-such-session", "print(1)")
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = rpc_error(agent.StopSession, pb.agent.StopRequest(session_id="no-such-session"), timeout=30)
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = rpc_error(agent.ExecuteTool, pb.agent.ToolRequest(session_id=sid, tool_name="bash", input="ls"), timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "python, exec" in e.details()
    e = rpc_error(agent.ExecuteTool, pb.agent.ToolRequest(session_id=sid, tool_name="exec", input="[1, 2]"),
                  timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    e = rpc_error(python, agent, pb, sid, "print(1)", timeout_seconds=-1)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    e = rpc_error(agent.StartSession, pb.agent.StartRequest(session_id="../../etc"), timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    e = rpc_error(agent.StartSession, pb.agent.StartRequest(vcpu=64), timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    e = rpc_error(agent.StartSession, pb.agent.StartRequest(session_id=sid), timeout=30)
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    # Still serving, same session.
    assert python(agent, pb, sid, "print('alive')").output == "alive\n"


def test_oversize_input_is_resource_exhausted(agent, pb, sid):
    # Over the daemon's --max-input (256K), under the API's message limit.
    e = rpc_error(python, agent, pb, sid, "#" * (300 * 1024))
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    e = rpc_error(agent.ExecuteTool, pb.agent.ToolRequest(
        session_id=sid, tool_name="exec", input=json.dumps({"argv": ["true"], "stdin": "s" * (300 * 1024)})),
        timeout=30)
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Over the API's message limit: refused by the listener.
    e = rpc_error(python, agent, pb, sid, "#" * (6 << 20))
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Just under the input limit still runs.
    code = "x = 1\n" * 40000 + "print(x)\n"
    assert len(code) < 256 * 1024
    assert python(agent, pb, sid, code).output == "1\n"


def test_deadline_shorter_than_exec(agent, enclave, pb, sid):
    e = rpc_error(python, agent, pb, sid, "import time\ntime.sleep(4)\nprint('late')", deadline=1.0)
    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The daemon keeps serving on the same channel and the same session while
    # the abandoned command finishes in the VM.
    assert python(agent, pb, sid, "print('next')").output == "next\n"
    assert enclave.GetInfo(pb.enclave.GetInfoRequest(), timeout=30).accel in ("kvm", "tcg")
    # The abandoned command is not leaked: the session's running count drops
    # back to zero once it ends (bounded wait, not a timing assertion).
    end = time.time() + 60
    while time.time() < end:
        s = session_entry(enclave, pb, sid)
        if s.execs_running == 0:
            break
        time.sleep(0.2)
    assert session_entry(enclave, pb, sid).execs_running == 0
    assert python(agent, pb, sid, "print('still')").output == "still\n"


def test_two_concurrent_calls_on_one_session_one_channel(agent, pb, sid):
    # Each program waits for the other's file: if the daemon ran them one after
    # the other, the first would never see the second's file and would exit 1.
    prog = """
import os, sys, time
me, other = sys.argv[1], sys.argv[2]
open(f'/workspace/rv-{me}', 'w').close()
end = time.monotonic() + 60
while not os.path.exists(f'/workspace/rv-{other}'):
    if time.monotonic() > end:
        print('alone')
        sys.exit(1)
    time.sleep(0.02)
print('met', me)
"""
    def call(me, other):
        return agent.ExecuteTool.future(pb.agent.ToolRequest(
            session_id=sid, tool_name="exec", input=json.dumps(["python3", "-c", prog, me, other])), timeout=180)
    fa, fb = call("a", "b"), call("b", "a")
    ra, rb = fa.result(), fb.result()
    assert (ra.exit_code, ra.output) == (0, "met a\n"), ra
    assert (rb.exit_code, rb.output) == (0, "met b\n"), rb
    python(agent, pb, sid, "import os\nfor f in ('a', 'b'): os.unlink(f'/workspace/rv-{f}')")


def raw_call(channel, path):
    return channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def test_unknown_method_is_unimplemented(channel, pb):
    for path in ("/agent.v1.AgentService/NoSuchMethod", "/no.such.v1.Service/StartSession"):
        e = rpc_error(raw_call(channel, path), pb.agent.StopRequest(session_id="x").SerializeToString(), timeout=30)
        assert e.code() == grpc.StatusCode.UNIMPLEMENTED, path


def test_malformed_protobuf_is_invalid_argument(channel, agent, pb, sid):
    call = raw_call(channel, "/agent.v1.AgentService/ExecuteTool")
    for body in (b"\xff\xff\xff",              # a field number of 0 and a truncated varint
                 b"\x0a\x05ab",                 # a string longer than the message
                 b"\x0a\x03abc\x12\xff\xff\xff\xff\x0f",  # a 4 GiB length
                 b"\x0a" + b"\x80" * 11):       # a varint longer than 10 bytes
        e = rpc_error(call, body, timeout=30)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, body
    # The same channel still works.
    assert python(agent, pb, sid, "print('ok')").output == "ok\n"


def test_connect_and_grpc_see_the_same_session(daemon, agent, pb, sid):
    # Work done over gRPC is visible over Connect, and the other way round.
    python(agent, pb, sid, "open('/workspace/via-grpc', 'w').write('g')")
    r = daemon.python(sid, "print(open('/workspace/via-grpc').read())\nopen('/workspace/via-connect', 'w').write('c')")
    assert r["output"] == "g\n"
    assert python(agent, pb, sid, "print(open('/workspace/via-connect').read())").output == "c\n"
