#!/usr/bin/python3
"""Writes the seed corpora of the guest protocol fuzz harnesses:
tests/guest/fuzz-seeds/request (src/guest/request_fuzz.c),
tests/guest/fuzz-seeds/egress (src/guest/egress_fuzz.c) and
tests/wire/fuzz-seeds/frame (src/wire/frame_fuzz.c, whose first input byte
picks the decoder's maximum and the feed size). Run from the repository root
with /usr/bin/python3 (python3-protobuf, python3-grpc-tools)."""
import os
import struct
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYNC = b"\xff\xff\xff\xffENCLSYNC"
FUZZ_KEY = b"enclave-fuzz-key-0123456789abcde"


def protocol():
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="enclave-seeds-")
    if protoc.main(["protoc", "-I" + os.path.join(REPO, "proto"), "--python_out=" + out,
                    os.path.join(REPO, "proto/guest/v1/guest.proto")]) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from guest.v1 import guest_pb2
    return guest_pb2


def frame(msg):
    body = msg.SerializeToString()
    return struct.pack(">I", len(body)) + body


def main():
    pb = protocol()
    # The harness's key (src/guest/request_fuzz.c): every request seed starts
    # with the HelloRequest the init wants first, as the host sends it.
    hello = frame(pb.Frame(id=100, hello_request=pb.HelloRequest(key=FUZZ_KEY)))
    exec_full = pb.Frame(id=7, exec_request=pb.ExecRequest(
        argv=["/usr/bin/python3", "-c", "print(6*7)"],
        env=[pb.EnvVar(name="LANG", value="C.UTF-8"), pb.EnvVar(name="PATH", value="/bin")],
        cwd="/workspace", stdin=b"input\n", timeout_ms=5000, max_output_bytes=4096, stream_output=True,
        limits=pb.Limits(max_processes=64, max_file_size=1 << 20, max_open_files=128, max_address_space=1 << 30)))
    seeds = {
        "health": frame(pb.Frame(id=1, health_request=pb.HealthRequest())),
        "exec_minimal": frame(pb.Frame(id=2, exec_request=pb.ExecRequest(argv=["true"]))),
        "exec_full": frame(exec_full),
        "exec_bad_env": frame(pb.Frame(id=3, exec_request=pb.ExecRequest(
            argv=["true"], env=[pb.EnvVar(name="A=B", value="x")]))),
        # Streamed output is paced by the host's credit: its cap is far over
        # the 3 MiB a buffered reply may carry.
        "exec_stream_large_output": frame(pb.Frame(id=13, exec_request=pb.ExecRequest(
            argv=["true"], stream_output=True, max_output_bytes=1 << 30, stream_window=1 << 20))),
        "exec_relative_cwd": frame(pb.Frame(id=4, exec_request=pb.ExecRequest(argv=["true"], cwd="tmp"))),
        "cancel": frame(pb.Frame(id=5, cancel_request=pb.CancelRequest(target_id=7))),
        "shutdown": frame(pb.Frame(id=6, shutdown_request=pb.ShutdownRequest(poweroff=True))),
        "reply_as_request": frame(pb.Frame(id=8, exec_response=pb.ExecResponse(exit_code=1, stdout=b"x"))),
        "pipelined": b"".join(frame(pb.Frame(id=i, health_request=pb.HealthRequest())) for i in range(1, 5))
                     + frame(exec_full),
        "sync_then_frames": SYNC + hello + frame(exec_full) + SYNC + hello
                            + frame(pb.Frame(id=9, health_request=pb.HealthRequest())),
        "too_large_then_sync": b"\x7f\x00\x00\x00junkjunk" + SYNC + hello + frame(exec_full),
        "hello_wrong_key": frame(pb.Frame(id=11, hello_request=pb.HelloRequest(key=b"x" * 32)))
                           + frame(exec_full),
        "hello_short_key": frame(pb.Frame(id=12, hello_request=pb.HelloRequest(key=FUZZ_KEY[:31]))),
        "no_hello": frame(exec_full),
        "sync_without_hello": hello + SYNC + frame(exec_full),
        "garbage_body": b"\x00\x00\x00\x08" + b"\xff" * 8 + frame(pb.Frame(id=10, health_request=pb.HealthRequest())),
    }
    req_dir = os.path.join(REPO, "tests/guest/fuzz-seeds/request")
    frame_dir = os.path.join(REPO, "tests/wire/fuzz-seeds/frame")
    os.makedirs(req_dir, exist_ok=True)
    os.makedirs(frame_dir, exist_ok=True)
    unauthenticated = {"hello_wrong_key", "hello_short_key", "no_hello", "sync_without_hello"}
    for name, data in seeds.items():
        if name not in unauthenticated:
            data = hello + data
        with open(os.path.join(req_dir, name), "wb") as f:
            f.write(data)
        # frame_fuzz's first byte: 0x00 is the default maximum, fed one byte
        # at a time; 0x71 is a 64-byte maximum, fed 8 bytes at a time.
        for prefix in (b"\x00", b"\x71"):
            with open(os.path.join(frame_dir, "%s_%02x" % (name, prefix[0])), "wb") as f:
                f.write(prefix + data)
    print("%d seeds each in %s and %s" % (len(seeds), req_dir, frame_dir))
    egress_seeds()


def egress_seeds():
    """egress_fuzz: byte 0 even is the head parser (byte 1 the split point,
    then what a workload sends); odd is a script for the whole proxy (see the
    harness): three setup bytes, then (op, arg, ...) steps."""
    heads = {
        "connect": b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n\x16\x03\x01",
        "get": b"GET http://example.com:8080/a?b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-A\r\n"
               b"X-A: 1\r\nProxy-Authorization: y\r\n\r\n",
        "chunked": b"POST http://h/p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                   b"GET http://other/ HTTP/1.1\r\n\r\n",
        "length": b"PUT http://[::1]:81/ HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcdextra",
        "origin_form": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "tls": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    }
    # Proxy scripts: (op & 0x3f) % 12 is the step (0 connect, 1 send script bytes, 2 send
    # a plausible head, 3 half-close, 4 close, 5 read, 6 decision, 7 data,
    # 8 credit, 9 close from the host, 10 cancel or a second EgressRequest);
    # op & 0x80 is a flag of the step, op & 0x40 a wrong request id; an arg
    # with 0x80 names a stream the init opened.
    setup = b"\x01\x01\x10\x40"
    scripts = {
        "proxy_connect": setup + bytes([0, 0, 2, 0, 11, 0, 0x86, 0x80, 0, 7, 0x80, 10, 8, 0x80, 5,
                                        5, 0, 0x89, 0x80, 3, 0, 9, 0x80, 10, 1]),
        "proxy_plain": setup + bytes([0, 1, 2, 1, 11, 0, 0x86, 0x80, 0, 5, 1, 0x87, 0x80, 250, 4, 1, 10, 2]),
        "proxy_refused": setup + bytes([0, 2, 2, 2, 11, 0, 6, 0x80, 137, 5, 2, 4, 2, 0x8a, 3]),
        "proxy_garbage": setup + bytes([0, 3, 1, 3, 8]) + b"\x00\xffGET \r\n" + bytes([11, 0, 5, 3, 10, 4]),
        "proxy_many": setup + bytes([0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 2, 0, 2, 1, 2, 2, 2, 3, 2, 4, 11, 0,
                                     0x86, 0x81, 0, 0x86, 0x82, 0, 9, 0x81, 4, 0, 4, 1, 10, 5]),
    }
    out = os.path.join(REPO, "tests/guest/fuzz-seeds/egress")
    os.makedirs(out, exist_ok=True)
    for name, data in heads.items():
        for split in (0, 10):
            with open(os.path.join(out, "head_%s_%d" % (name, split)), "wb") as f:
                f.write(b"\x00" + bytes([split]) + data)
    for name, data in scripts.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (2 * len(heads) + len(scripts), out))


if __name__ == "__main__":
    main()
