"""Image variants: `enclave image build --name numpy --package python3-numpy`
builds a second image next to the default one (the package comes from the
Debian archive), `image status` lists both, and a session started with that
image (CLI --image, Connect and gRPC StartSession) can import numpy while a
default session cannot."""
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import ENCLAVE, IMAGE_HOME, ConnectError, Daemon, vmm_pids

ROOT = pathlib.Path(__file__).resolve().parents[2]
VARIANT = "numpy"


@pytest.fixture(scope="module")
def variant():
    env = dict(os.environ, ENCLAVE_HOME=IMAGE_HOME)
    r = subprocess.run([ENCLAVE, "image", "build", "--name", VARIANT, "--package", "python3-numpy", "--quiet"],
                       env=env, capture_output=True, timeout=1800)
    if r.returncode != 0 and b"apt" in r.stderr and b"download" in r.stderr:
        pytest.skip("the Debian archive cannot be reached: " + r.stderr.decode(errors="replace")[-300:])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return VARIANT


@pytest.fixture(scope="module")
def vd(variant):
    d = Daemon().start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == []
    d.cleanup()


def test_status_lists_every_image(variant):
    env = dict(os.environ, ENCLAVE_HOME=IMAGE_HOME)
    r = subprocess.run([ENCLAVE, "image", "status", "--no-verify"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert any(l.startswith("(current)") for l in lines)
    assert any(l.startswith(VARIANT + " ") for l in lines)
    r = subprocess.run([ENCLAVE, "image", "status", "--name", VARIANT], env=env, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert b"packages:" in r.stdout


def test_variant_session_imports_numpy(vd):
    r = vd.cli("session", "start", "--id", "np-cli", "--image", VARIANT, "--mem", "1024")
    assert r.returncode == 0, r.stderr
    try:
        out = vd.python("np-cli", "import numpy; print(numpy.arange(4).sum())", timeout=300)
        assert "output" in out, out
        assert out["output"].strip() == "6"
        ev = [m for _, m in vd.stream("RunCode", {"sessionId": "np-cli", "code": "import numpy as np\nnp.ones(3).sum()",
                                                  "timeoutSeconds": 300})]
        assert [m["text"] for m in ev if "text" in m] == ["3.0"]
    finally:
        vd.stop_session("np-cli")
    # the default image has no numpy
    vd.start_session(sessionId="np-default")
    try:
        out = vd.python("np-default", "import importlib.util; print(importlib.util.find_spec('numpy') is None)")
        assert out["output"].strip() == "True"
    finally:
        vd.stop_session("np-default")


def test_constitution_may_restrict_images(variant, tmp_path):
    """The policy sees request.image: a constitution that allows only the
    default image refuses the variant (and still boots the default)."""
    import json
    import shutil
    policy = tmp_path / "policy"
    shutil.copytree(ROOT / "policy", policy)
    data = json.loads((policy / "data.json").read_text())
    data["constitution"]["allowed_images"] = [""]
    (policy / "data.json").write_text(json.dumps(data))
    d = Daemon(["--policy", str(policy)]).start()
    try:
        with pytest.raises(ConnectError) as e:
            d.call("StartSession", {"sessionId": "np-refused", "image": VARIANT}, service="enclave.v1.Enclave")
        assert e.value.code == "permission_denied" and "allowed images" in e.value.message
        r = d.call("StartSession", {"sessionId": "np-allowed"}, service="enclave.v1.Enclave")
        assert r["status"] == "READY"
        d.stop_session("np-allowed")
    finally:
        d.stop()
        assert vmm_pids(d.home) == []
        d.cleanup()


def test_variant_through_grpc_and_unknown_image(vd, tmp_path_factory):
    pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    import grpc
    out = tmp_path_factory.mktemp("stubs")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"), "--python_out", str(out),
                    "--grpc_python_out", str(out), "enclave/v1/enclave.proto"], check=True)
    sys.path.insert(0, str(out))
    try:
        from enclave.v1 import enclave_pb2, enclave_pb2_grpc
    finally:
        sys.path.remove(str(out))
    ch = vd.grpc_channel()
    stub = enclave_pb2_grpc.EnclaveStub(ch)
    r = stub.StartSession(enclave_pb2.StartSessionRequest(session_id="np-grpc", image=VARIANT, memory_mb=1024),
                          timeout=300)
    try:
        assert r.status == "READY"
        ev = list(stub.RunCode(enclave_pb2.RunCodeRequest(session_id="np-grpc", code="import numpy\nnumpy.__name__",
                                                         timeout_seconds=300),
                               timeout=400))
        assert [e.text for e in ev if e.WhichOneof("event") == "text"] == ["'numpy'"]
    finally:
        vd.stop_session("np-grpc")
    with pytest.raises(grpc.RpcError) as e:
        stub.StartSession(enclave_pb2.StartSessionRequest(session_id="np-none", image="no-such-image"), timeout=60)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ConnectError) as ce:
        vd.call("StartSession", {"sessionId": "np-bad", "image": "../x"}, service="enclave.v1.Enclave")
    assert ce.value.code == "invalid_argument"
    ch.close()
