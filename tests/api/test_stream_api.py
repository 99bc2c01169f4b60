"""The API listener's streaming, driven against tools/api-testd: server
streaming over gRPC (python3-grpcio) and Connect streaming (HTTP/1.1, JSON and
proto envelopes), client streaming and bidirectional calls over gRPC with
flow control, streamed request bodies on a prefix route (PUT, paused by the
handler) and streamed responses (GET). Memory is measured (VmRSS of the
server) and printed; times are never asserted."""
import hashlib
import http.client
import json
import os
import socket
import struct
import subprocess
import threading
import time

import grpc
import pytest

COUNT = "/test.v1.Stream/Count"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler:
    """Samples a process's VmRSS in the background."""

    def __init__(self, pid):
        self.pid, self.samples, self.stop_ev = pid, [rss_kb(pid)], threading.Event()
        self.th = threading.Thread(target=self.run)
        self.th.start()

    def run(self):
        while not self.stop_ev.is_set():
            self.samples.append(rss_kb(self.pid))
            time.sleep(0.05)

    def stop(self):
        self.stop_ev.set()
        self.th.join()
        return self.samples[0], max(self.samples)


@pytest.fixture(scope="module")
def channel(testd):
    ch = grpc.insecure_channel(testd.address)
    grpc.channel_ready_future(ch).result(timeout=10)
    yield ch
    ch.close()


def host_port(testd):
    host, port = testd.address.rsplit(":", 1)
    return host, int(port)


def connect_stream(testd, path, body, content_type="application/connect+json", rcvbuf=None,
                   before_read=None):
    """Posts one enveloped message; returns (status, headers, [(flags, payload)])."""
    host, port = host_port(testd)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.connect()
    if rcvbuf:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    conn.request("POST", path, struct.pack(">BI", 0, len(body)) + body,
                 headers={"Content-Type": content_type})
    resp = conn.getresponse()
    if before_read:
        before_read()
    out = []
    if resp.status == 200:
        while True:
            head = resp.read(5)
            if len(head) < 5:
                break
            flags, n = struct.unpack(">BI", head)
            out.append((flags, resp.read(n)))
            if flags & 2:
                break
    else:
        out.append((None, resp.read()))
    conn.close()
    return resp.status, dict(resp.getheaders()), out


# ------------------------------------------------------------------ server streaming


def test_grpc_server_streaming_with_a_slow_reader(testd, channel, agent_pb):
    pb = agent_pb[0]
    count = channel.unary_stream(COUNT, request_serializer=pb.GetAuditLogsRequest.SerializeToString,
                                 response_deserializer=pb.ToolResponse.FromString)
    sampler = Sampler(testd.proc.pid)
    it = count(pb.GetAuditLogsRequest(limit=400, since_timestamp=64 << 10), timeout=60)
    first = next(it)
    time.sleep(2)  # read nothing: the handler must wait for on_drained
    rest = list(it)
    base, peak = sampler.stop()
    msgs = [first] + rest
    print(f"api-testd VmRSS {base} KiB before, {peak} KiB peak; 25 MiB streamed; {msgs[-1].error}")
    assert [m.exit_code for m in msgs[:-1]] == list(range(400))
    assert all(len(m.output) == 64 << 10 for m in msgs[:-1])
    stats = dict(kv.split("=") for kv in msgs[-1].error.split())
    assert msgs[-1].exit_code == -1 and int(stats["blocked"]) >= 1
    # The call's buffer (1 MiB) plus one message, never the 25 MiB.
    assert int(stats["max_pending"]) <= (1 << 20) + (64 << 10) + 64
    assert peak - base < 16 << 10


def test_grpc_server_streaming_error_after_messages(channel, agent_pb):
    pb = agent_pb[0]
    count = channel.unary_stream(COUNT, request_serializer=pb.GetAuditLogsRequest.SerializeToString,
                                 response_deserializer=pb.ToolResponse.FromString)
    got = []
    with pytest.raises(grpc.RpcError) as e:
        for m in count(pb.GetAuditLogsRequest(session_id="fail", limit=3, since_timestamp=10)):
            got.append(m.exit_code)
    assert got == [0, 1, 2]
    assert e.value.code() == grpc.StatusCode.INTERNAL and "after 3 messages" in e.value.details()


def test_connect_server_streaming_json(testd):
    status, headers, msgs = connect_stream(testd, COUNT, json.dumps({"limit": 3, "sinceTimestamp": 2}).encode())
    assert status == 200 and headers["Content-Type"] == "application/connect+json"
    assert [f for f, _ in msgs] == [0, 0, 0, 0, 2]
    docs = [json.loads(p) for _, p in msgs]
    assert docs[0] == {"output": "xx"} and docs[1] == {"output": "xx", "exitCode": 1}
    assert docs[3]["exitCode"] == -1 and docs[4] == {}


def test_connect_server_streaming_proto_and_error(testd, agent_pb):
    pb = agent_pb[0]
    req = pb.GetAuditLogsRequest(session_id="fail", limit=2, since_timestamp=1).SerializeToString()
    status, headers, msgs = connect_stream(testd, COUNT, req, content_type="application/connect+proto")
    assert status == 200 and headers["Content-Type"] == "application/connect+proto"
    assert [f for f, _ in msgs] == [0, 0, 2]
    assert pb.ToolResponse.FromString(msgs[1][1]).exit_code == 1
    end = json.loads(msgs[2][1])
    assert end["error"]["code"] == "internal" and "as asked" in end["error"]["message"]


def test_connect_slow_reader_is_bounded(testd):
    sampler = Sampler(testd.proc.pid)
    status, _, msgs = connect_stream(testd, COUNT,
                                     json.dumps({"limit": 400, "sinceTimestamp": 65536}).encode(),
                                     rcvbuf=65536, before_read=lambda: time.sleep(2))
    base, peak = sampler.stop()
    print(f"api-testd VmRSS {base} KiB before, {peak} KiB peak")
    assert status == 200 and len(msgs) == 402
    stats = dict(kv.split("=") for kv in json.loads(msgs[-2][1])["error"].split())
    assert int(stats["blocked"]) >= 1
    assert peak - base < 16 << 10


@pytest.mark.parametrize("body,code", [
    (b"", "invalid_argument"),                           # no envelope
    (b"\x00\x00\x00", "invalid_argument"),               # a truncated prefix
    (b"\x00\x00\x00\x00\x05{}", "invalid_argument"),     # a truncated message
    (b"\x01\x00\x00\x00\x02{}", "unimplemented"),        # compressed
    (b"\x80\x00\x00\x00\x02{}", "invalid_argument"),     # unknown flags
    (b"\x00\x00\x00\x00\x02{}\x00\x00\x00\x00\x02{}", "invalid_argument"),  # two messages
    (b"\x00\xff\xff\xff\xff", "resource_exhausted"),     # over the limit
])
def test_connect_streaming_bad_envelopes(testd, body, code):
    host, port = host_port(testd)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", COUNT, body, headers={"Content-Type": "application/connect+json"})
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    conn.close()
    assert resp.status != 200 and doc["code"] == code, doc


def test_connect_streaming_content_types(testd):
    host, port = host_port(testd)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    # A streaming method with the unary content type, and the reverse.
    conn.request("POST", COUNT, b"{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 415 and "connect+json" in resp.getheader("Accept-Post")
    conn.request("POST", "/agent.v1.AgentService/StartSession", b"\x00\x00\x00\x00\x02{}",
                 headers={"Content-Type": "application/connect+json"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 415
    conn.close()
    # Client streaming is gRPC only.
    status, _, msgs = connect_stream(testd, "/test.v1.Stream/Sum", b"{}")
    assert status == 501 or json.loads(msgs[-1][1])["code"] == "unimplemented"


# ------------------------------------------------------------------ client streaming, bidi


def test_grpc_client_streaming(channel, agent_pb):
    pb = agent_pb[0]
    total = channel.stream_unary("/test.v1.Stream/Sum",
                                 request_serializer=pb.ToolRequest.SerializeToString,
                                 response_deserializer=pb.ToolResponse.FromString)
    chunks = [pb.ToolRequest(input="y" * (1 << 20)) for _ in range(40)]
    r = total(iter(chunks), timeout=60)
    assert r.exit_code == 40 and r.output == str(40 << 20)
    assert total(iter([]), timeout=10).exit_code == 0


def test_grpc_client_streaming_paused_receive(testd, channel, agent_pb):
    """While the handler has paused receiving, it gets no message; the client
    is held back by HTTP/2 flow control, and the server stays bounded."""
    pb = agent_pb[0]
    total = channel.stream_unary("/test.v1.Stream/Sum",
                                 request_serializer=pb.ToolRequest.SerializeToString,
                                 response_deserializer=pb.ToolResponse.FromString)
    chunks = [pb.ToolRequest(tool_name="pause", input="z" * (256 << 10))] + \
             [pb.ToolRequest(input="z" * (256 << 10)) for _ in range(9)]
    sampler = Sampler(testd.proc.pid)
    r = total(iter(chunks), timeout=60)
    base, peak = sampler.stop()
    print(f"api-testd VmRSS {base} KiB before, {peak} KiB peak")
    assert r.exit_code == 10 and r.output == str(10 * (256 << 10))
    assert r.error == "while_paused=0"


def test_grpc_bidi_echo_interleaved(channel, agent_pb):
    pb = agent_pb[0]
    echo = channel.stream_stream("/test.v1.Stream/Echo",
                                 request_serializer=pb.ToolRequest.SerializeToString,
                                 response_deserializer=pb.ToolResponse.FromString)
    import queue
    q = queue.Queue()

    def requests():
        for i in range(5):
            yield pb.ToolRequest(input=f"msg {i}")
            assert q.get(timeout=10) == i  # the echo came back before the next is sent

    got = []
    for i, r in enumerate(echo(requests(), timeout=30)):
        got.append(r.output)
        q.put(i)
    assert got == [f"msg {i}" for i in range(5)]


def test_grpc_client_streaming_bad_message(channel):
    total = channel.stream_unary("/test.v1.Stream/Sum", request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as e:
        total(iter([b"\xff\xff\xff"]), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------------------ plain routes


def put(testd, path, body_iter, length=None, headers=None):
    host, port = host_port(testd)
    conn = http.client.HTTPConnection(host, port, timeout=120)
    h = dict(headers or {})
    if length is not None:
        h["Content-Length"] = str(length)
    else:
        h["Transfer-Encoding"] = "chunked"
    conn.putrequest("PUT", path)
    for k, v in h.items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        for chunk in body_iter:
            conn.send(chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if length is None:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def pattern(total, chunk=1 << 20):
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n


@pytest.mark.parametrize("chunked", [False, True])
def test_streamed_upload_is_bounded_and_paused(testd, chunked):
    size = 256 << 20
    h = hashlib.sha256()
    for c in pattern(size):
        h.update(c)
    sampler = Sampler(testd.proc.pid)
    status, data = put(testd, "/v1/sessions/s1/files/workspace/big.bin", pattern(size),
                       length=None if chunked else size)
    base, peak = sampler.stop()
    print(f"api-testd VmRSS {base} KiB before, {peak} KiB peak for a 256 MiB upload")
    assert status == 200, data
    doc = json.loads(data)
    assert doc["path"] == "/v1/sessions/s1/files/workspace/big.bin"
    assert doc["bytes"] == size and doc["sha256"] == h.hexdigest()
    assert doc["max_chunk"] <= 64 << 10 and doc["pauses"] >= 60 and doc["while_paused"] == 0
    assert peak - base < 32 << 10


def test_upload_refused_before_the_body(testd):
    status, data = put(testd, "/v1/sessions/s1/files/deny", pattern(8 << 20), length=8 << 20)
    assert status == 403
    # The server still serves.
    status, data = put(testd, "/v1/sessions/s1/files/small", [b"hello"], length=5)
    assert status == 200 and json.loads(data)["bytes"] == 5


def test_upload_over_the_limit(testd):
    host, port = host_port(testd)
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"PUT /v1/sessions/s/files/x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                  % (3 << 30))
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413 ")


def test_empty_upload_and_expect_continue(testd):
    status, data = put(testd, "/v1/sessions/s/files/empty", [], length=0)
    assert status == 200 and json.loads(data)["bytes"] == 0
    host, port = host_port(testd)
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"PUT /v1/sessions/s/files/e HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"abc")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200 ") and b'"bytes":3' in reply


def test_upload_cut_short_is_aborted(testd):
    host, port = host_port(testd)
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"PUT /v1/sessions/s/files/cut HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"
                  + b"x" * 1000)
    # The server is fine afterwards.
    status, data = put(testd, "/v1/sessions/s/files/after", [b"ok"], length=2)
    assert status == 200


def test_prefix_routes(testd):
    host, port = host_port(testd)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/v1/sessions/s/files/x")  # PUT only there
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405
    conn.request("GET", "/v1/sessionsX")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 404
    conn.close()


def test_streamed_download_slow_reader(testd):
    size = 128 << 20
    host, port = host_port(testd)
    sampler = Sampler(testd.proc.pid)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.connect()
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    conn.request("GET", f"/v1/blobs/{size}")
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == size
    time.sleep(2)
    h, n = hashlib.sha256(), 0
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    conn.close()
    base, peak = sampler.stop()
    print(f"api-testd VmRSS {base} KiB before, {peak} KiB peak for a 128 MiB download")
    expect = hashlib.sha256()
    block = bytes(i % 251 for i in range(251 * 4096))
    left = size
    while left > 0:
        take = min(left, len(block))
        expect.update(block[:take])
        left -= take
    assert n == size and h.hexdigest() == expect.hexdigest()
    assert peak - base < 16 << 10
