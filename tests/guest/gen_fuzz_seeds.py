#!/usr/bin/python3
"""Writes the seed corpora of the guest protocol fuzz harnesses:
tests/guest/fuzz-seeds/request (src/guest/request_fuzz.c) and
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


if __name__ == "__main__":
    main()
