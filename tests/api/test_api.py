"""The API listener end to end: tools/api-testd driven with curl (Connect JSON
and binary proto, errors, limits, hostile bytes) and with a real gRPC client
(python3-grpcio), on 127.0.0.1 and on a Unix socket."""
import json
import os
import socket
import subprocess
import tempfile
import threading

import grpc
import pytest

SVC = "/agent.v1.AgentService/"


def curl(url, *args, data=None, content_type="application/json", unix=None):
    """Returns (status, content_type, body bytes)."""
    cmd = ["curl", "-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code} %{content_type}"]
    if unix:
        cmd += ["--unix-socket", unix]
    if data is not None:
        cmd += ["-H", "Content-Type: " + content_type, "--data-binary", "@-"]
    cmd += list(args) + [url]
    out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    body, _, tail = out.rpartition(b"\n")
    status, _, ctype = tail.decode().partition(" ")
    return int(status), ctype, body


def connect(testd, method, obj, *args):
    status, ctype, body = curl(testd.url + SVC + method, *args, data=json.dumps(obj).encode())
    return status, ctype, json.loads(body) if body else None


def raw(address, data, timeout=10):
    """Sends bytes on a fresh connection; returns everything until the server closes."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


# ---------------------------------------------------------------- Connect (curl)

def test_ping(testd):
    status, ctype, body = curl(testd.url + "/ping")
    assert (status, body) == (200, b"pong")
    assert ctype.startswith("text/plain")


def test_connect_json_start_session(testd):
    status, ctype, body = connect(testd, "StartSession", {"session_id": "s-1", "vcpu": 2},
                                  "-H", "Connect-Protocol-Version: 1")
    assert status == 200 and ctype == "application/json"
    assert body == {"sessionId": "s-1", "status": "READY", "socketPath": "/tmp/s-1.sock"}


def test_connect_json_async_handler_and_int64(testd):
    status, _, body = connect(testd, "ExecuteTool", {"sessionId": "s", "toolName": "python",
                                                     "input": "print(1)"})
    assert status == 200
    assert body["output"] == "print(1)"
    assert body["exitCode"] == 8
    # int64 travels as a string: 2^53 + 1 survives.
    assert body["syscallLogs"][0]["timestamp"] == "9007199254740993"


def test_connect_binary_proto(testd, agent_pb):
    pb, _ = agent_pb
    req = pb.StartRequest(session_id="bin", vcpu=1, memory_mb=256).SerializeToString()
    status, ctype, body = curl(testd.url + SVC + "StartSession", data=req,
                               content_type="application/proto")
    assert status == 200 and ctype == "application/proto"
    resp = pb.SessionResponse.FromString(body)
    assert (resp.session_id, resp.status) == ("bin", "READY")


@pytest.mark.parametrize("method,body,status,code,text", [
    ("StopSession", {"sessionId": "missing"}, 404, "not_found", "does not exist"),
    ("StartSession", {"sessionId": ""}, 400, "invalid_argument", "session_id is required"),
    ("StartSession", {"sessionId": "x", "cpus": 2}, 400, "invalid_argument", "cpus"),
    ("StartSession", {"vcpu": "two"}, 400, "invalid_argument", "vcpu"),
    ("StartSession", {"vcpu": 2 ** 31}, 400, "invalid_argument", "out of range"),
    ("StartSession", [], 400, "invalid_argument", "expected an object"),
    ("ApplyPolicy", {}, 501, "unimplemented", "ApplyPolicy"),
    ("NoSuchMethod", {}, 404, "unimplemented", "NoSuchMethod"),
    ("ExecuteTool", {"toolName": "fail"}, 500, "internal", "100% \u2713"),
])
def test_connect_errors(testd, method, body, status, code, text):
    got_status, ctype, got = connect(testd, method, body)
    assert got_status == status
    assert ctype == "application/json"
    assert got["code"] == code
    assert text in got["message"]


def test_connect_malformed_json(testd):
    status, _, body = curl(testd.url + SVC + "StartSession", data=b'{"sessionId": ')
    assert status == 400 and json.loads(body)["code"] == "invalid_argument"


def test_connect_unsupported_content_type(testd):
    status, _, _ = curl(testd.url + SVC + "StartSession", data=b"{}", content_type="text/xml")
    assert status == 415


def test_connect_wrong_http_method(testd):
    status, _, _ = curl(testd.url + SVC + "StartSession")
    assert status == 405


def test_connect_timeout_ms(testd):
    status, _, body = connect(testd, "ExecuteTool", {"toolName": "sleep", "timeoutSeconds": 5},
                              "-H", "Connect-Timeout-Ms: 100")
    assert status == 504 and body["code"] == "deadline_exceeded"
    # The server is still fine afterwards.
    assert curl(testd.url + "/ping")[2] == b"pong"


def test_oversize_body(make_testd):
    d = make_testd("--max-request-bytes", "1024")
    big = json.dumps({"sessionId": "x" * 2000}).encode()
    status, _, body = curl(d.url + SVC + "StartSession", data=big)
    assert status == 429 and json.loads(body)["code"] == "resource_exhausted"
    ok = json.dumps({"sessionId": "x" * 900}).encode()
    assert curl(d.url + SVC + "StartSession", data=ok)[0] == 200


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02\x03garbage\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(64)),
    b"GET /ping HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST " + SVC.encode() + b"StartSession HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    os.urandom(4096),
])
def test_garbage_bytes_answered_and_closed(testd, garbage):
    reply = raw(testd.address, garbage)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4") or reply.startswith(b"HTTP/1.1 5")
    assert curl(testd.url + "/ping")[2] == b"pong"


def test_slow_headers_time_out(make_testd):
    d = make_testd("--header-timeout-ms", "300")
    host, port = d.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 408")


def test_pipelined_requests_in_order(testd):
    exec_body = json.dumps({"input": "first"}).encode()
    reqs = (b"POST " + SVC.encode() + b"ExecuteTool HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(exec_body)
            + exec_body + b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    reply = raw(testd.address, reqs)
    first = reply.find(b'"output":"first"')
    second = reply.find(b"pong")
    assert 0 < first < second


def test_many_connections(testd):
    host, port = testd.address.rsplit(":", 1)
    socks = [socket.create_connection((host, int(port)), timeout=20) for _ in range(150)]
    try:
        for s in socks:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            data = b""
            while not data.endswith(b"pong"):
                chunk = s.recv(4096)
                assert chunk
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
    finally:
        for s in socks:
            s.close()


def test_connection_limit(make_testd):
    d = make_testd("--max-connections", "4")
    host, port = d.address.rsplit(":", 1)
    socks = [socket.create_connection((host, int(port)), timeout=20) for _ in range(4)]
    try:
        for s in socks:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).endswith(b"pong")
        extra = socket.create_connection((host, int(port)), timeout=20)
        try:
            extra.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(4096) == b""
        except ConnectionResetError:
            pass
        finally:
            extra.close()
    finally:
        for s in socks:
            s.close()


def test_refuses_non_loopback():
    from conftest import TESTD
    proc = subprocess.run([TESTD, "--listen", "0.0.0.0:0"], capture_output=True, text=True,
                          timeout=20)
    assert proc.returncode != 0
    assert "non-loopback" in proc.stderr


def test_unix_socket(make_testd, agent_pb):
    pb, rpc = agent_pb
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "api.sock")
        make_testd("--socket", path)
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert curl("http://x/ping", unix=path)[2] == b"pong"
        with grpc.insecure_channel("unix:" + path) as ch:
            resp = rpc.AgentServiceStub(ch).StartSession(pb.StartRequest(session_id="u"),
                                                         timeout=10)
            assert resp.status == "READY"


# ---------------------------------------------------------------- gRPC (grpcio)

@pytest.fixture
def stub(testd, agent_pb):
    pb, rpc = agent_pb
    with grpc.insecure_channel(testd.address) as ch:
        yield pb, rpc.AgentServiceStub(ch), ch


def test_grpc_start_session(stub):
    pb, st, _ = stub
    resp = st.StartSession(pb.StartRequest(session_id="g1", vcpu=2, memory_mb=512), timeout=10)
    assert (resp.session_id, resp.status, resp.socket_path) == ("g1", "READY", "/tmp/g1.sock")


def test_grpc_async_handler(stub):
    pb, st, _ = stub
    resp = st.ExecuteTool(pb.ToolRequest(session_id="g1", tool_name="python", input="abc"),
                          timeout=10)
    assert (resp.output, resp.exit_code) == ("abc", 3)
    assert resp.syscall_logs[0].timestamp == 9007199254740993


@pytest.mark.parametrize("call,code,text", [
    (lambda pb, st: st.StopSession(pb.StopRequest(session_id="missing"), timeout=10),
     grpc.StatusCode.NOT_FOUND, "does not exist"),
    (lambda pb, st: st.ApplyPolicy(pb.ApplyPolicyRequest(), timeout=10),
     grpc.StatusCode.UNIMPLEMENTED, "ApplyPolicy"),
    (lambda pb, st: st.ExecuteTool(pb.ToolRequest(tool_name="fail"), timeout=10),
     grpc.StatusCode.INTERNAL, "100% \u2713"),
    (lambda pb, st: st.StartSession(pb.StartRequest(), timeout=10),
     grpc.StatusCode.INVALID_ARGUMENT, "session_id"),
])
def test_grpc_errors(stub, call, code, text):
    pb, st, _ = stub
    with pytest.raises(grpc.RpcError) as e:
        call(pb, st)
    assert e.value.code() == code
    assert text in e.value.details()


def test_grpc_deadline(stub):
    pb, st, _ = stub
    with pytest.raises(grpc.RpcError) as e:
        st.ExecuteTool(pb.ToolRequest(tool_name="sleep", timeout_seconds=5), timeout=0.2)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_grpc_unknown_method(stub):
    _, _, ch = stub
    call = ch.unary_unary(SVC + "NoSuchMethod", request_serializer=lambda x: x,
                          response_deserializer=lambda x: x)
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_grpc_garbage_message(stub):
    _, _, ch = stub
    call = ch.unary_unary(SVC + "StartSession", request_serializer=lambda x: x,
                          response_deserializer=lambda x: x)
    with pytest.raises(grpc.RpcError) as e:
        call(b"\xff\xff\xff\xff", timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_grpc_many_concurrent_calls(stub):
    pb, st, _ = stub
    futures = [st.ExecuteTool.future(pb.ToolRequest(input="x" * i), timeout=20)
               for i in range(200)]
    assert [f.result().exit_code for f in futures] == list(range(200))


def test_grpc_large_response(stub):
    pb, st, _ = stub
    resp = st.GetAuditLogs(pb.GetAuditLogsRequest(session_id="s", since_timestamp=2 ** 40,
                                                  limit=1000), timeout=10)
    assert len(resp.logs) == 1000
    assert resp.logs[999].timestamp == 2 ** 40 + 999


def test_grpc_compressed_request_refused(testd, agent_pb):
    pb, rpc = agent_pb
    with grpc.insecure_channel(testd.address, compression=grpc.Compression.Gzip) as ch:
        with pytest.raises(grpc.RpcError) as e:
            rpc.AgentServiceStub(ch).StartSession(pb.StartRequest(session_id="z" * 1000),
                                                  timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "compress" in e.value.details()


def test_grpc_oversize_request(make_testd, agent_pb):
    pb, rpc = agent_pb
    d = make_testd("--max-request-bytes", "1024")
    with grpc.insecure_channel(d.address) as ch:
        st = rpc.AgentServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            st.StartSession(pb.StartRequest(session_id="x" * 5000), timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The channel is still usable.
        assert st.StartSession(pb.StartRequest(session_id="ok"), timeout=10).status == "READY"


def test_grpc_and_connect_on_one_port_at_once(testd, agent_pb):
    pb, rpc = agent_pb
    errors = []

    def grpc_side():
        try:
            with grpc.insecure_channel(testd.address) as ch:
                st = rpc.AgentServiceStub(ch)
                for i in range(30):
                    assert st.StartSession(pb.StartRequest(session_id="g%d" % i),
                                           timeout=10).status == "READY"
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=grpc_side)
    t.start()
    for i in range(30):
        assert connect(testd, "StartSession", {"sessionId": "c%d" % i})[0] == 200
    t.join()
    assert not errors


def test_h2_garbage_after_preface(testd):
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    reply = raw(testd.address, preface + b"\x00\x00\x04\x09\x00\x00\x00\x00\x01garbage!" * 4)
    # A GOAWAY frame (type 7) comes back before the close, after our SETTINGS.
    assert b"\x07" in reply
    assert curl(testd.url + "/ping")[2] == b"pong"


# ---------------------------------------------------------------- HTTP/2 memory ceiling
# Raw HTTP/2 frames (no client library would leave a request half sent on
# purpose): HPACK literals without indexing, so no table is needed.

def _h2_frame(ftype, flags, stream, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) +
            stream.to_bytes(4, "big") + payload)


def _hpack_literal(name, value):
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def _h2_open(address):
    host, port = address.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=20)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _h2_frame(0x4, 0, 0))
    return s


def _h2_headers(s, stream, end_stream=False):
    block = b"".join(_hpack_literal(n, v) for n, v in [
        (b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"127.0.0.1"),
        (b":path", b"/agent.v1.AgentService/StartSession"),
        (b"content-type", b"application/grpc"), (b"te", b"trailers")])
    s.sendall(_h2_frame(0x1, 0x4 | (0x1 if end_stream else 0), stream, block))


def _h2_data(s, stream, n, end_stream=False):
    """A gRPC message prefix announcing n - 5 bytes, then that many bytes."""
    body = b"\x00" + (n - 5).to_bytes(4, "big") + b"\x00" * (n - 5)
    for off in range(0, len(body), 16384):
        last = off + 16384 >= len(body)
        s.sendall(_h2_frame(0x0, 0x1 if (last and end_stream) else 0, stream,
                            body[off:off + 16384]))


def _h2_read_until(s, done):
    """Reads frames, as (type, flags, stream, payload), until done(frames);
    the socket's timeout ends a wait for something that never comes."""
    frames, buf = [], b""
    while not done(frames):
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            chunk = s.recv(65536)
            assert chunk, "the server closed the connection"
            buf += chunk
        n = int.from_bytes(buf[:3], "big")
        frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff,
                       buf[9:9 + n]))
        buf = buf[9 + n:]
    return frames


def _h2_sync(s):
    """Sends a PING and reads frames until its ACK: the server has handled
    everything sent before it (though frames it queued may follow the ACK).
    Returns the frames read before the ACK."""
    s.sendall(_h2_frame(0x6, 0, 0, b"syncsync"))
    frames = _h2_read_until(s, lambda fs: fs and fs[-1][0] == 0x6 and fs[-1][1] & 0x1
                            and fs[-1][3] == b"syncsync")
    return frames[:-1]


def _refused(frames, stream):
    return any(t == 0x3 and sid == stream and p == (7).to_bytes(4, "big")
               for t, _, sid, p in frames)


def _answered(frames, stream):
    return any(t == 0x1 and sid == stream for t, _, sid, _ in frames)


def test_h2_memory_ceiling_across_connections(make_testd):
    """Two connections each hold a half-sent 60000-byte request: with a
    ceiling of 120000 bytes for the whole server, a third connection's new
    stream is refused (RST_STREAM REFUSED_STREAM) and data beyond the ceiling
    is answered with an error at once; once a request is finished and its
    bytes freed, new streams are accepted again."""
    d = make_testd("--max-request-bytes", "65536", "--max-buffered-bytes", "120000")
    a, b, c = _h2_open(d.address), _h2_open(d.address), _h2_open(d.address)
    try:
        for s in (a, b):
            _h2_headers(s, 1)
            _h2_data(s, 1, 60000)
            assert not _answered(_h2_sync(s), 1)  # held, waiting for the rest
        # The server is full: a new stream on another connection is refused.
        _h2_headers(c, 1)
        _h2_read_until(c, lambda fs: _refused(fs, 1))
        # Finishing a request frees its bytes: new streams are served again.
        a.sendall(_h2_frame(0x0, 0x1, 1))
        _h2_read_until(a, lambda fs: _answered(fs, 1))
        _h2_headers(c, 3)
        _h2_data(c, 3, 1000)
        frames = _h2_sync(c)
        assert not _refused(frames, 3), frames
        # Data that would take the server past its ceiling gets an answer at
        # once (an error), not a place in memory: the request is not over.
        _h2_data(c, 3, 60000)
        _h2_read_until(c, lambda fs: _answered(fs, 3))
    finally:
        for s in (a, b, c):
            s.close()
