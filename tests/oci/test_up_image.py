"""`enclave up --image REF` on an empty ENCLAVE_HOME: pulls, verifies and
installs the image from a real registry on 127.0.0.1, records it in the
daemon's own audit log, and boots sessions from it. Without --image, or with
an image no trusted key signed, the daemon does not start and says what to do.

The boot test pushes the guest image `enclave image build` made for the
end-to-end tests ($ENCLAVE_E2E_HOME, default build/e2e-home); it is skipped
when that image has not been built."""
import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ENCLAVE, ROOT, make_local_image

E2E_HOME = os.environ.get("ENCLAVE_E2E_HOME", os.path.join(ROOT, "build", "e2e-home"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HOMES = {}  # daemon address -> its ENCLAVE_HOME, where its API token is


def start_up(home, *args, timeout=300):
    """Runs `enclave up`; returns (proc, addr) once /ping answers, or the
    finished process when it exits first."""
    addr = "127.0.0.1:%d" % free_port()
    log = open(os.path.join(home, "up.log"), "wb")
    allow_root = ["--allow-root"] if os.geteuid() == 0 else []  # refused as root without it
    proc = subprocess.Popen([ENCLAVE, "up", "--listen", addr, *allow_root, *args],
                            env=dict(os.environ, ENCLAVE_HOME=home), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    HOMES[addr] = home
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return proc, None
        try:
            with urllib.request.urlopen("http://%s/ping" % addr, timeout=2) as r:
                if r.read() == b"pong":
                    return proc, addr
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError("enclave up did not start: " + read_log(home))


def read_log(home):
    with open(os.path.join(home, "up.log"), "rb") as f:
        return f.read().decode(errors="replace")


def call(addr, method, body, timeout=300):
    req = urllib.request.Request("http://%s/agent.v1.AgentService/%s" % (addr, method),
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with open(os.path.join(HOMES[addr], "run", "api-token")) as f:
        req.add_header("Authorization", "Bearer " + f.read().strip())
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_up_without_image_says_what_to_run(enclave):
    proc, addr = start_up(enclave.home, timeout=60)
    assert addr is None, "the daemon started with no guest image"
    assert proc.returncode != 0
    log = read_log(enclave.home)
    assert "enclave image build" in log and "enclave image install REF" in log, log
    assert enclave.current() is None


def test_up_image_refuses_an_unsigned_image(registry, enclave, tmp_path, repo):
    folder = str(tmp_path / "img")
    make_local_image(folder, seed=os.urandom(8))
    ref = "%s/%s:unsigned" % (registry.host, repo)
    enclave.run("push", "--from", folder, ref)
    # A key is trusted, but it never signed this image.
    enclave.run("keygen", password="pw")
    os.makedirs(os.path.join(enclave.home, "trust"))
    os.rename(os.path.join(enclave.cwd, "cosign.pub"),
              os.path.join(enclave.home, "trust", "signer.pub"))
    proc, addr = start_up(enclave.home, "--image", ref, timeout=120)
    assert addr is None, "the daemon started from an unsigned image"
    log = read_log(enclave.home)
    assert "--image " + ref in log and "is not signed" in log, log
    assert enclave.current() is None, "an unsigned image was installed"


def test_up_image_with_a_policy_it_cannot_load_installs_nothing(registry, enclave, tmp_path,
                                                               repo):
    """--policy is read before --image is pulled: a policy folder that does
    not exist stops the daemon with nothing downloaded or installed."""
    folder = str(tmp_path / "img")
    make_local_image(folder, seed=os.urandom(8))
    ref = "%s/%s:signed" % (registry.host, repo)
    enclave.run("push", "--from", folder, ref)
    enclave.run("keygen", password="pw")
    enclave.run("sign", "--key", "cosign.key", ref, password="pw")
    os.makedirs(os.path.join(enclave.home, "trust"))
    os.rename(os.path.join(enclave.cwd, "cosign.pub"),
              os.path.join(enclave.home, "trust", "signer.pub"))
    missing = str(tmp_path / "no-policy")
    proc, addr = start_up(enclave.home, "--image", ref, "--policy", missing, timeout=120)
    assert addr is None, "the daemon started without its policy"
    log = read_log(enclave.home)
    assert missing in log, log
    assert enclave.current() is None, "the image was installed before the policy was read"
    assert enclave.blobs() == []
    assert "IMAGE:VERIFIED" not in [r["kind"] for r in enclave.audit_records()]


@pytest.mark.skipif(not os.path.isdir(os.path.join(E2E_HOME, "cache", "current")),
                    reason="no built guest image (run tests/e2e/run or enclave image build)")
def test_up_image_pulls_verifies_installs_and_boots(registry, enclave, repo):
    ref = "%s/%s:guest" % (registry.host, repo)
    built = os.path.realpath(os.path.join(E2E_HOME, "cache", "current"))
    enclave.run("keygen", password="pw")
    enclave.run("push", "--from", built, ref, timeout=600)
    enclave.run("sign", "--key", "cosign.key", ref, password="pw")
    os.makedirs(os.path.join(enclave.home, "trust"))
    os.rename(os.path.join(enclave.cwd, "cosign.pub"),
              os.path.join(enclave.home, "trust", "signer.pub"))
    assert enclave.current() is None

    proc, addr = start_up(enclave.home, "--image", ref)
    assert addr is not None, "enclave up --image failed: " + read_log(enclave.home)
    try:
        assert enclave.current() is not None
        m = json.load(open(os.path.join(enclave.home, "cache", "current", "manifest.json")))
        assert m["source"].startswith("oci:") and repo in m["source"]
        # The shared root filesystem travelled as its own layer, checked
        # against its digest, and is what the session boots from.
        with open(os.path.join(built, "manifest.json")) as f:
            want = {a["role"]: a["sha256"] for a in json.load(f)["artifacts"]}
        got = {a["role"]: a for a in m["artifacts"]}
        assert {r: a["sha256"] for r, a in got.items()} == want
        if "rootfs" in want:
            assert got["rootfs"]["media_type"] == "application/vnd.enclave.rootfs"
            path = os.path.join(enclave.home, "cache", "current", got["rootfs"]["path"])
            assert hashlib.sha256(open(path, "rb").read()).hexdigest() == want["rootfs"]
        s = call(addr, "StartSession", {"sessionId": "from-registry"})
        assert s["status"] == "READY"
        out = call(addr, "ExecuteTool", {"sessionId": "from-registry", "toolName": "python",
                                         "input": "print(2 ** 10)"})
        assert out["output"].strip() == "1024"
        if "rootfs" in want:
            out = call(addr, "ExecuteTool", {"sessionId": "from-registry", "toolName": "python",
                                             "input": "print([l.split()[:3] for l in open('/proc/mounts')"
                                                      " if l.split()[1] == '/'])"})
            assert out["output"].strip() == "[['/dev/vda', '/', 'erofs']]", out
        call(addr, "StopSession", {"sessionId": "from-registry"})
    finally:
        stop(proc)
    # The install is in the daemon's log, before the daemon said it started.
    recs = enclave.audit_records()
    kinds = [r["kind"] for r in recs]
    assert "IMAGE:VERIFIED" in kinds and "DAEMON:START" in kinds, kinds
    assert kinds.index("IMAGE:VERIFIED") < kinds.index("DAEMON:START")
    verified = recs[kinds.index("IMAGE:VERIFIED")]
    assert verified["details"]["signer"].endswith("trust/signer.pub")
    p = subprocess.run([ENCLAVE, "audit", "verify"], env=dict(os.environ, ENCLAVE_HOME=enclave.home),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr

    # A second start finds the image installed and does not pull again.
    proc, addr = start_up(enclave.home, "--image", ref)
    assert addr is not None, read_log(enclave.home)
    stop(proc)
    kinds = [r["kind"] for r in enclave.audit_records()]
    assert kinds.count("IMAGE:VERIFIED") == 1
