"""The shared read-only root filesystem: the default image boots from its
rootfs.erofs disk (the initramfs holds only enclave-init and its modules),
the root is read-only to the workload and to the guest kernel itself, the
writable places are sized tmpfs, an image built the old way (the whole
system in the initramfs) still boots, and a broken disk stops the boot with
the init's own reason on the console, within the boot timeout."""
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import ENCLAVE, IMAGE_HOME, ConnectError, Daemon, vmm_pids

LEGACY = "legacy-initramfs"


def current_image():
    folder = os.path.realpath(os.path.join(IMAGE_HOME, "cache", "current"))
    with open(os.path.join(folder, "manifest.json")) as f:
        return folder, json.load(f)


@pytest.fixture(scope="module")
def rd():
    d = Daemon(["--boot-timeout", "60"]).start()
    yield d
    d.stop()
    assert vmm_pids(d.home) == []
    d.cleanup()


PROBE = r"""
import errno, json, os
out = {"uid": os.getuid()}
mounts = {}
for line in open("/proc/mounts"):
    dev, where, fstype, opts = line.split()[:4]
    mounts[where] = (dev, fstype, opts.split(","))
out["root"] = mounts.get("/")
out["workspace"] = mounts.get("/workspace")
out["tmp"] = mounts.get("/tmp")
out["disk_ro"] = open("/sys/block/vda/ro").read().strip()
out["writes"] = {}
for p in ["/usr/lib/x", "/etc/passwd", "/x", "/init", "/workspace/ok", "/tmp/ok"]:
    try:
        with open(p, "a") as f:
            f.write("x")
        out["writes"][p] = "ok"
    except OSError as e:
        out["writes"][p] = errno.errorcode[e.errno]
out["initramfs_visible"] = [p for p in ["/.enclave-rootfs", "/init", "/lib/modules/enclave", "/sysroot"]
                            if os.path.lexists(p)]
st = os.statvfs("/workspace")
out["workspace_bytes"] = st.f_blocks * st.f_frsize
out["mem_kb"] = int([l for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0].split()[1])
print(json.dumps(out))
"""


def test_default_image_has_a_rootfs_disk_and_a_small_initramfs():
    folder, m = current_image()
    roles = {a["role"]: a for a in m["artifacts"]}
    assert roles["rootfs"]["media_type"] == "application/vnd.enclave.rootfs"
    assert roles["rootfs"]["path"] == "rootfs.erofs"
    with open(os.path.join(folder, "rootfs.erofs"), "rb") as f:
        f.seek(1024)
        assert f.read(4) == bytes.fromhex("e2e1f5e0")  # the erofs magic, little-endian
    # enclave-init and the modules only: a few MB, not the ~48 MB system
    assert roles["initramfs"]["size"] < 8 << 20
    assert roles["rootfs"]["size"] > 20 << 20


def test_session_runs_on_the_read_only_root(rd):
    s = rd.start_session(sessionId="ro-main", vcpu=1, memoryMb=256)
    assert s["status"] == "READY"
    r = rd.python("ro-main", PROBE)
    assert r.get("exitCode", 0) == 0, r
    out = json.loads(r["output"])
    assert out["uid"] == 1000
    dev, fstype, opts = out["root"]
    assert (dev, fstype) == ("/dev/vda", "erofs") and "ro" in opts
    # The disk itself is read-only (QEMU readonly=on): not even the guest's
    # root could write to it or remount it read-write.
    assert out["disk_ro"] == "1"
    w = out["writes"]
    for p in ["/usr/lib/x", "/etc/passwd", "/x"]:
        assert w[p] == "EROFS", w
    assert w["/workspace/ok"] == "ok" and w["/tmp/ok"] == "ok"
    # The initramfs it booted from is out of sight.
    assert out["initramfs_visible"] == []
    assert out["workspace"][1] == "tmpfs" and out["tmp"][1] == "tmpfs"
    # /workspace is a quarter of the session's memory (256 MiB) by default.
    assert out["workspace_bytes"] == (256 // 4) << 20
    assert rd.stop_session("ro-main") == {"success": True}


def test_workspace_is_bounded(rd):
    rd.start_session(sessionId="ro-full", vcpu=1, memoryMb=256)
    r = rd.python("ro-full", r"""
import errno, os
limit = os.statvfs("/workspace").f_blocks * os.statvfs("/workspace").f_frsize
written = 0
chunk = b"x" * (1 << 20)
try:
    with open("/workspace/fill", "wb") as f:
        while written < 4 * limit:
            f.write(chunk)
            f.flush()
            written += len(chunk)
    print("no limit", written)
except OSError as e:
    print(errno.errorcode[e.errno], written <= limit, limit)
""", timeout=120)
    assert r["output"].startswith("ENOSPC True"), r
    # the session still works, and /tmp is a separate budget
    r = rd.python("ro-full", "open('/tmp/after', 'w').write('ok'); print(open('/tmp/after').read())")
    assert r["output"] == "ok\n", r
    assert rd.stop_session("ro-full") == {"success": True}


CHANNEL = r"""
import json, os
ports = {}
for name in os.listdir("/sys/class/virtio-ports"):
    p = "/sys/class/virtio-ports/" + name
    ports[open(p + "/name").read().strip()] = os.path.realpath(p)
print(json.dumps(ports))
"""


def channel_path(d, sid):
    r = d.python(sid, CHANNEL)
    assert r.get("exitCode", 0) == 0, r
    return json.loads(r["output"])["org.enclave.rpc"]


def test_channel_is_on_pci_for_an_image_that_loads_virtio_pci(rd):
    """The image's kernel command line says its guest loads virtio_pci, so
    QEMU attaches the virtio-serial channel over PCI (its receive queues
    hold 128 buffers each there, 1024 on virtio-mmio); ENCLAVE_CHANNEL_PCI=0
    keeps it on virtio-mmio, which works as before."""
    _, m = current_image()
    assert "enclave.channel=pci" in m["kernel_cmdline"].split()
    rd.start_session(sessionId="ro-pci", vcpu=1, memoryMb=256)
    path = channel_path(rd, "ro-pci")
    assert "/pci" in path and "/platform/" not in path, path
    assert rd.stop_session("ro-pci") == {"success": True}
    mmio = Daemon(["--boot-timeout", "60"], env={"ENCLAVE_CHANNEL_PCI": "0"}).start()
    try:
        mmio.start_session(sessionId="ro-mmio", vcpu=1, memoryMb=256)
        path = channel_path(mmio, "ro-mmio")
        assert "/platform/" in path and "/pci" not in path, path  # virtio-mmio (LNRO0005)
        assert mmio.stop_session("ro-mmio") == {"success": True}
    finally:
        mmio.stop()
        mmio.cleanup()


MEMINFO = r"""
import json
m = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
print(json.dumps({k: m[k] for k in ("Cached", "Mapped", "Shmem", "SReclaimable")}))
"""

READ_ALL = r"""
import os
total = 0
for top, dirs, files in os.walk("/usr/lib/python3.11"):
    for name in files:
        try:
            with open(os.path.join(top, name), "rb") as f:
                total += len(f.read())
        except OSError:
            pass
print(total)
""" + MEMINFO


def test_idle_guest_gives_back_its_caches(rd):
    """Once the guest has been idle a moment after an exec, PID 1 drops its
    clean page cache, dentries and inodes (they come back from the read-only
    root); with lockdown the kernel builds no tracefs tree either, so little
    reclaimable slab is left. Polled every 8 s: each exec starts the idle
    wait again."""
    rd.start_session(sessionId="ro-trim", vcpu=1, memoryMb=256)
    r = rd.python("ro-trim", READ_ALL, timeout=120)
    assert r.get("exitCode", 0) == 0, r
    lines = r["output"].split("\n")
    read_kb = int(lines[0]) // 1024
    busy = json.loads(lines[1])
    assert read_kb > 16 << 10, r  # the standard library: about 21 MiB
    # Everything just read is in the page cache now.
    assert busy["Cached"] - busy["Shmem"] > read_kb // 2, busy
    idle = None
    for _ in range(8):
        time.sleep(8)
        r = rd.python("ro-trim", MEMINFO)
        assert r.get("exitCode", 0) == 0, r
        idle = json.loads(r["output"])
        if busy["Cached"] - idle["Cached"] > read_kb // 2:
            break
    # What is left is about what the running python3 maps and read.
    assert busy["Cached"] - idle["Cached"] > read_kb // 2, (busy, idle)
    assert idle["SReclaimable"] < 4 << 10, (busy, idle)
    assert rd.stop_session("ro-trim") == {"success": True}


@pytest.fixture(scope="module")
def legacy():
    """An image built the old way: the whole system in the initramfs, no
    rootfs.erofs (`enclave image build --initramfs-only`)."""
    env = dict(os.environ, ENCLAVE_HOME=IMAGE_HOME)
    r = subprocess.run([ENCLAVE, "image", "build", "--name", LEGACY, "--initramfs-only", "--quiet"],
                       env=env, capture_output=True, timeout=1800)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    folder = os.path.realpath(os.path.join(IMAGE_HOME, "cache", "named", LEGACY))
    with open(os.path.join(folder, "manifest.json")) as f:
        m = json.load(f)
    assert [a["role"] for a in m["artifacts"]] == ["kernel", "initramfs"]
    return LEGACY


def test_initramfs_only_image_still_boots(rd, legacy):
    s = rd.call("StartSession", {"sessionId": "ro-legacy", "image": legacy, "memoryMb": 256},
                service="enclave.v1.Enclave")
    assert s["status"] == "READY"
    r = rd.python("ro-legacy", PROBE.replace('open("/sys/block/vda/ro").read().strip()', '"-"'))
    assert r.get("exitCode", 0) == 0, r
    out = json.loads(r["output"])
    # no disk: the system is the unpacked initramfs, still read-only for uid 1000
    assert out["root"] is None or out["root"][1] in ("rootfs", "tmpfs", "ramfs"), out["root"]
    assert out["writes"]["/usr/lib/x"] == "EACCES" and out["writes"]["/workspace/ok"] == "ok"
    assert rd.stop_session("ro-legacy") == {"success": True}


def broken_image(name, damage):
    """A variant whose rootfs.erofs is damaged by damage(bytes) -> bytes, with
    a manifest that matches the damaged file: an image that passes the
    host's digest check but whose disk the guest must refuse."""
    folder, m = current_image()
    cache = os.path.join(IMAGE_HOME, "cache")
    dest = os.path.join(cache, "images", name)
    shutil.rmtree(dest, ignore_errors=True)
    os.mkdir(dest)
    m.pop("build_inputs", None)
    for a in m["artifacts"]:
        src = os.path.join(folder, a["path"])
        if a["role"] == "rootfs":
            with open(src, "rb") as f:
                data = damage(f.read())
            with open(os.path.join(dest, a["path"]), "wb") as f:
                f.write(data)
            a["size"] = len(data)
            a["sha256"] = hashlib.sha256(data).hexdigest()
        else:
            os.link(src, os.path.join(dest, a["path"]))
    with open(os.path.join(dest, "manifest.json"), "w") as f:
        json.dump(m, f)
    os.makedirs(os.path.join(cache, "named"), exist_ok=True)
    link = os.path.join(cache, "named", name)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(f"../images/{name}", link)
    return dest, link


def test_broken_rootfs_fails_the_boot_with_the_inits_reason(tmp_path):
    made = [broken_image(f"broken-trunc-{os.getpid()}", lambda b: b[:len(b) // 2]),
            broken_image(f"broken-magic-{os.getpid()}", lambda b: b[:1024] + b"\0" * 4 + b[1028:])]
    d = Daemon(["--boot-timeout", "40"]).start()
    results = {}

    def start(name):
        try:
            results[name] = d.call("StartSession", {"sessionId": name, "image": name, "memoryMb": 256},
                                   service="enclave.v1.Enclave", timeout=120)
        except ConnectError as e:
            results[name] = e

    try:
        names = [os.path.basename(dest) for dest, _ in made]
        threads = [threading.Thread(target=start, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
        trunc, magic = (results.get(n) for n in names)
        assert isinstance(trunc, ConnectError), trunc
        assert trunc.code == "deadline_exceeded"
        assert "refusing to serve" in trunc.message and "truncated" in trunc.message, trunc.message
        assert isinstance(magic, ConnectError), magic
        assert "refusing to serve" in magic.message and "not an erofs image" in magic.message, magic.message
        # nothing is left running once the failed VMs are reaped
        deadline = time.time() + 20
        while time.time() < deadline and vmm_pids(d.home):
            time.sleep(0.2)
        assert vmm_pids(d.home) == []
    finally:
        d.stop()
        assert vmm_pids(d.home) == []
        d.cleanup()
        for dest, link in made:
            os.unlink(link)
            shutil.rmtree(dest)
