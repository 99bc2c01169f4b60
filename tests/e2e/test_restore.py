"""Snapshot restore (enclave up --restore on): one VM of the default image and
size is saved once enclave-init serves; later sessions of that image and size
restore it. Each restored VM gets its own channel key, fresh RNG entropy and
the time; the snapshot is bound to the image and rebuilt when it changes; a
snapshot that does not restore falls back to a cold boot with a logged
reason."""
import glob
import hashlib
import json
import os
import shutil
import time

import pytest

from conftest import IMAGE_HOME, Daemon, vmm_pids

PROBE = ("import os, time\n"
         "print(os.urandom(16).hex())\n"
         "print(open('/proc/sys/kernel/random/boot_id').read().strip())\n"
         "print(time.time())\n")


def wait_snapshot(d, timeout=300, not_identity=None):
    """The snapshot folder and its meta.json once the daemon has saved it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for meta in glob.glob(os.path.join(d.home, "snapshots", "*", "meta.json")):
            folder = os.path.dirname(meta)
            if os.path.basename(folder) == not_identity:
                continue
            with open(meta) as f:
                return folder, json.load(f)
        if d.proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("no snapshot was saved:\n" + d.read_log()[-4000:])


def ready_record(d, sid):
    recs = [json.loads(r["args"]) for r in d.audit(sid) if r["name"] == "SESSION:READY"]
    assert len(recs) == 1, recs
    return recs[0]


def probe(d, sid):
    r = d.python(sid, PROBE)
    assert r.get("exitCode", 0) == 0, r
    rnd, boot_id, t = r["output"].split()
    return rnd, boot_id, float(t)


def channel_key(d, sid):
    with open(os.path.join(d.home, "run", "vms", sid, "channel.key"), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def restoring():
    d = Daemon(["--restore", "on"]).start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == [], "daemon shutdown left a VMM behind"
    d.cleanup()


def test_restored_sessions_run_code_and_share_nothing(restoring):
    d = restoring
    folder, meta = wait_snapshot(d)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(folder, "state")).st_mode & 0o777 == 0o600
    assert os.path.getsize(os.path.join(folder, "state")) == meta["size"]
    seen = []
    for sid in ("ra", "rb"):
        s = d.start_session(sessionId=sid)
        assert s["status"] == "READY", s
        rec = ready_record(d, sid)
        assert rec["restored"] is True, (rec, [l for l in d.read_log().splitlines() if "restor" in l][-5:])
        rnd, boot_id, t = probe(d, sid)
        # The guest's clock was set from the host's at the resume.
        assert abs(t - time.time()) < 120, (t, time.time())
        seen.append((rnd, boot_id, channel_key(d, sid)))
    listed = d.call("ListSessions", {}, service="enclave.v1.Enclave")["sessions"]
    assert sorted(x["sessionId"] for x in listed if x.get("restored")) == ["ra", "rb"], listed
    info = d.call("GetInfo", {}, service="enclave.v1.Enclave")["snapshot"]
    assert info["state"] == "ready" and info["identity"] == os.path.basename(folder), info
    assert int(info["restores"]) == 2 and int(info.get("fallbacks", 0)) == 0, info
    assert int(info["sizeBytes"]) == meta["size"] and info["memoryMb"] == 512, info
    (r1, b1, k1), (r2, b2, k2) = seen
    assert r1 != r2, "two restored VMs produced the same random bytes"
    assert b1 != b2, "two restored VMs have the same boot id"
    snapshot_key = bytes.fromhex(meta["key"])
    assert len(k1) == len(k2) == 32
    assert k1 != k2 and snapshot_key not in (k1, k2), "a restored VM kept a shared channel key"
    # A session that is not the snapshot's size boots cold.
    s = d.start_session(sessionId="rc", memoryMb=384)
    assert s["status"] == "READY"
    assert ready_record(d, "rc")["restored"] is False
    for sid in ("ra", "rb", "rc"):
        d.stop_session(sid)
    assert "restored from the snapshot" in d.read_log()


def test_corrupted_snapshot_boots_cold_and_is_rebuilt(restoring):
    d = restoring
    folder, meta = wait_snapshot(d)
    # (A restore of the test before may have fallen back too: counted from here.)
    before = int(d.call("GetInfo", {}, service="enclave.v1.Enclave")["snapshot"].get("fallbacks", 0))
    state = os.path.join(folder, "state")
    with open(state, "r+b") as f:
        f.write(os.urandom(4096))  # same size: only QEMU can tell
    s = d.start_session(sessionId="rcold")
    assert s["status"] == "READY", s
    assert ready_record(d, "rcold")["restored"] is False
    r = d.python("rcold", "print(6*7)")
    assert r["output"] == "42\n", r
    log = d.read_log()
    assert "restoring the snapshot failed" in log and "booting it cold" in log, log[-3000:]
    info = d.call("GetInfo", {}, service="enclave.v1.Enclave")["snapshot"]
    assert int(info["fallbacks"]) == before + 1, info
    d.stop_session("rcold")
    # It is built again, and the next session restores the new one.
    deadline = time.time() + 300
    meta2 = None
    while time.time() < deadline and meta2 is None:
        try:
            with open(os.path.join(folder, "meta.json")) as f:
                m = json.load(f)
            if m["key"] != meta["key"]:
                meta2 = m
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    assert meta2 is not None, d.read_log()[-3000:]
    s = d.start_session(sessionId="rnew")
    assert ready_record(d, "rnew")["restored"] is True
    d.stop_session("rnew")


def private_home_image(home):
    """A copy of the current image in home's own cache (to change it)."""
    src = os.path.realpath(os.path.join(IMAGE_HOME, "cache", "current"))
    name = os.path.basename(src)
    dst = os.path.join(home, "cache", "images", name)
    os.unlink(os.path.join(home, "cache"))  # the shared cache link
    os.makedirs(os.path.dirname(dst))
    shutil.copytree(src, dst)
    os.symlink(os.path.join("images", name), os.path.join(home, "cache", "current"))
    return dst


def append_zeros(image_dir, n):
    """Changes the initramfs (zeros after the last archive, which the kernel
    skips) and its digest in the manifest: another image as far as any
    digest goes."""
    path = os.path.join(image_dir, "initramfs.cpio")
    with open(path, "ab") as f:
        f.write(b"\0" * n)
    with open(path, "rb") as f:
        data = f.read()
    mpath = os.path.join(image_dir, "manifest.json")
    with open(mpath) as f:
        m = json.load(f)
    for a in m["artifacts"]:
        if a["role"] == "initramfs":
            a["size"] = len(data)
            a["sha256"] = hashlib.sha256(data).hexdigest()
    with open(mpath, "w") as f:
        json.dump(m, f, indent=2)


def test_changing_the_image_invalidates_the_snapshot(fresh_daemon):
    d = fresh_daemon(["--restore", "on"])
    image = private_home_image(d.home)
    d.start()
    folder, _ = wait_snapshot(d)
    first = os.path.basename(folder)
    d.stop()
    append_zeros(image, 512)
    d.start()
    folder2, _ = wait_snapshot(d, not_identity=first)
    assert os.path.basename(folder2) != first
    assert not os.path.exists(folder), "the snapshot of the old image is still there"
    assert "removing" in d.read_log()
    s = d.start_session(sessionId="after-change")
    assert ready_record(d, "after-change")["restored"] is True
    r = d.python("after-change", "print(6*7)")
    assert r["output"] == "42\n"
    d.stop_session("after-change")
    # A record that does not describe its state file is not trusted: the
    # snapshot is built again, with the reason in the log.
    d.stop()
    with open(os.path.join(folder2, "meta.json"), "w") as f:
        f.write('{"identity": "not this one"')
    d.start()
    deadline = time.time() + 300
    while time.time() < deadline and "does not describe" not in d.read_log():
        time.sleep(0.2)
    assert "does not describe" in d.read_log()
    _, meta3 = wait_snapshot(d)
    assert meta3["identity"] == os.path.basename(folder2)


def test_pool_refills_restore_the_snapshot(fresh_daemon):
    """With a pool and a snapshot, a refill restores instead of booting; the
    claimed VM is fresh and its own (restored, pooled, own key)."""
    d = fresh_daemon(["--pool", "1", "--restore", "on"]).start()
    _, meta = wait_snapshot(d)

    def pool_ready():
        deadline = time.time() + 300
        while time.time() < deadline:
            p = d.call("GetInfo", {}, service="enclave.v1.Enclave").get("pools", [])
            if p and p[0].get("ready", 0) >= 1:
                return
            time.sleep(0.2)
        raise AssertionError("the pool did not refill:\n" + d.read_log()[-3000:])

    for sid in ("pa", "pb", "pc"):
        pool_ready()
        s = d.start_session(sessionId=sid)
        assert s["status"] == "READY"
        r = d.python(sid, "print(6*7)")
        assert r["output"] == "42\n", r
        d.stop_session(sid)
    log = d.read_log()
    refills = [l for l in log.splitlines() if "pool VM pool+" in l and " ready in " in l]
    assert any("restored from the snapshot" in l for l in refills), refills
    info = d.call("GetInfo", {}, service="enclave.v1.Enclave")["snapshot"]
    assert int(info["restores"]) >= 1, info
