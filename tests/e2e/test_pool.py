"""Warm pools (enclave up --pool): a StartSession of the pool's image and size
claims a booted, idle VM after the same policy decision as a cold start; the
claim is audited; a VM serves one session and is destroyed with it; other
sizes boot cold; GetInfo and `enclave session ls` show the pools."""
import json
import os
import pathlib
import shutil
import tempfile
import time

import pytest

from conftest import ConnectError, Daemon, vmm_pids

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pools(d):
    return d.call("GetInfo", {}, service="enclave.v1.Enclave").get("pools", [])


def wait_ready(d, want=1, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = pools(d)
        if p and p[0].get("ready", 0) >= want:
            return p[0]
        time.sleep(0.2)
    raise AssertionError(f"the pool did not get {want} ready VM(s): {pools(d)}\n{d.read_log()[-3000:]}")


def start_record(d, sid):
    recs = [r for r in d.audit(sid) if r["name"] == "SESSION:START"]
    assert len(recs) == 1, recs
    return details(recs[0])


def details(rec):
    return json.loads(rec["args"])


def sh(d, sid, code):
    r = d.python(sid, code)
    assert r.get("exitCode", 0) == 0, r
    return r["output"]


@pytest.fixture(scope="module")
def pooled():
    d = Daemon(["--pool", "1"]).start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a pool VMM behind"
    d.cleanup()


def test_pool_shown_and_filled(pooled):
    p = wait_ready(pooled)
    assert p["size"] == 1 and p.get("image", "") == "" and p["memoryMb"] == 512 and p["vcpu"] == 1
    out = pooled.cli("session", "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    pool_lines = [l for l in lines if l.startswith("default ")]
    assert pool_lines and pool_lines[0].split()[3] == "1", out.stdout  # READY column
    # No session exists yet: a pool VM is not a session.
    assert pooled.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", []) == []
    # Its boot is logged, not audited as a session.
    assert not any(r["name"] == "SESSION:START" for r in pooled.audit())


def test_claim_is_fresh_and_never_reused(pooled):
    wait_ready(pooled)
    pooled.start_session(sessionId="pa")
    a = start_record(pooled, "pa")
    assert a["pooled"] is True and a["vm"].startswith("pool+"), a
    listed = pooled.call("ListSessions", {}, service="enclave.v1.Enclave")["sessions"]
    assert [s.get("pooled") for s in listed if s["sessionId"] == "pa"] == [True]
    # The VM has never run anything: nothing under /workspace or /tmp, no
    # process of uid 1000 but this one (the guest's pre-started Python runs
    # as root and runs no workload code itself).
    out = sh(pooled, "pa", "import os\n"
             "print(sorted(os.listdir('/workspace')), sorted(os.listdir('/tmp')))\n"
             "me = os.getpid()\n"
             "def uid(p):\n"
             "    try:\n"
             "        return open('/proc/' + p + '/status').read().split('Uid:')[1].split()[0]\n"
             "    except OSError:\n"
             "        return None\n"
             "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != me and uid(p) == '1000']\n"
             "print(others)\n"
             "open('/tmp/left-behind', 'w').write('a')\n"
             "print(open('/proc/sys/kernel/random/boot_id').read().strip())\n")
    listing, others, boot_a = out.splitlines()
    assert listing == "[] []", out
    assert others == "[]", out
    pid_a = a["pid"]
    pooled.stop_session("pa")
    # Its VMM is gone, not back in the pool.
    deadline = time.time() + 30
    while time.time() < deadline and os.path.exists(f"/proc/{pid_a}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid_a}")

    p = wait_ready(pooled)
    assert p["claimed"] == "1" or p["claimed"] == 1, p
    pooled.start_session(sessionId="pb")
    b = start_record(pooled, "pb")
    assert b["pooled"] is True and b["vm"] != a["vm"] and b["pid"] != pid_a, (a, b)
    out = sh(pooled, "pb", "import os\nprint(os.path.exists('/tmp/left-behind'))\n"
             "print(open('/proc/sys/kernel/random/boot_id').read().strip())\n")
    exists, boot_b = out.splitlines()
    assert exists == "False"
    assert boot_b != boot_a
    ready = [r for r in pooled.audit("pb") if r["name"] == "SESSION:READY"]
    assert len(ready) == 1
    pooled.stop_session("pb")


def test_other_size_boots_cold(pooled):
    wait_ready(pooled)
    pooled.start_session(sessionId="pc", memoryMb=384)
    c = start_record(pooled, "pc")
    assert c["pooled"] is False and "vm" not in c, c
    assert pools(pooled)[0]["ready"] == 1  # the pool VM is still there
    assert sh(pooled, "pc", "print(1)") == "1\n"
    pooled.stop_session("pc")


def test_claim_is_decided_by_the_policy():
    """The policy still decides session.start at claim time: a start it
    denies does not get (or spend) the ready VM, and the denial is recorded."""
    bundle = tempfile.mkdtemp(prefix="enclave-policy-")
    shutil.copytree(ROOT / "policy" / "enclave", os.path.join(bundle, "enclave"))
    os.unlink(os.path.join(bundle, "enclave", "constitution_test.rego"))
    data = json.loads((ROOT / "policy" / "data.json").read_text())
    data["constitution"]["allowed_images"] = ["only-this-one"]
    with open(os.path.join(bundle, "data.json"), "w") as f:
        json.dump(data, f)
    d = Daemon(["--policy", bundle, "--pool", "default=1"]).start()
    try:
        wait_ready(d)
        with pytest.raises(ConnectError) as e:
            d.start_session(sessionId="denied")
        assert "not one of the allowed images" in str(e.value)
        p = pools(d)[0]
        assert p["ready"] == 1 and int(p.get("claimed", 0)) == 0, p
        assert d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", []) == []
        decisions = [r for r in d.audit("denied") if r["name"] == "POLICY:DECISION" and
                     details(r)["action"] == "session.start"]
        assert [r["status"] for r in decisions] == ["deny"], decisions
        assert not any(r["name"] == "SESSION:START" for r in d.audit("denied"))
    finally:
        d.stop()
        assert vmm_pids(d.home) == []
        d.cleanup()
        shutil.rmtree(bundle, ignore_errors=True)


def test_bad_pool_flags_refused():
    for bad, why in [("-1", "--pool size"), ("65", "--pool size"), ("x=1", None),
                     (".x=1", "image name"), ("default:2=1", "VCPUSxMEM_MB"),
                     ("default:0x512=1", "vCPUs"), ("default:1x64=1", "memory"), ("=1", "image name"),
                     ("default=1,", "--pool size")]:
        d = Daemon(["--pool", bad])
        p = d.cli("up", "--listen", d.addr, "--pool", bad, timeout=30)
        if why is None:
            d.cleanup()
            continue  # a valid flag for an image that does not exist: checked below
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert why.encode() in p.stderr, (bad, p.stderr)
        d.cleanup()
    d = Daemon(["--pool", "no-such-image=1"])
    try:
        with pytest.raises(RuntimeError) as e:
            d.start()
        assert "no-such-image" in str(e.value)
    finally:
        d.cleanup()


def test_default_pool_is_chosen_and_said():
    """Without --pool the daemon sizes the pool from the machine and says so."""
    d = Daemon()
    d.extra_args = [a for a in d.extra_args if a not in ("--pool", "0")]
    try:
        d.start()
        log = d.read_log()
        assert "warm pool:" in log, log
        said = [l for l in log.splitlines() if "warm pool:" in l][0]
        n = sum(p["size"] for p in pools(d))
        assert ("none" in said) == (n == 0), (said, pools(d))
    finally:
        d.cleanup()
