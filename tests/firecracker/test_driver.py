"""The Firecracker driver against Firecracker's published API.

A real `enclave up --vmm firecracker` runs with ENCLAVE_FIRECRACKER pointing at
fake_firecracker.py, which checks every API request against firecracker.yaml
and hands the hybrid-vsock stream to the real enclave-init (test mode) through
a broker that plays the VM. The daemon confines the stand-in as it confines
Firecracker (the VMM's user, Landlock, a file size cap; or the jailer, with
ENCLAVE_JAILER pointing at fake_jailer.py), and the stand-in reports what it
found. No real Firecracker VM runs here: these machines have no usable KVM.
"""
import glob
import importlib.util
import json
import os
import pwd
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FAKE = os.path.join(HERE, "fake_firecracker.py")
JAILER = os.path.join(HERE, "fake_jailer.py")
FSIZE_CAP = 4 << 20


def vmm_user():
    """The user the daemon runs VMMs as when it runs as root."""
    for name in ("enclave-vmm", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None

_spec = importlib.util.spec_from_file_location("e2e_support", os.path.join(REPO, "tests", "e2e", "conftest.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

# What the driver must send before InstanceStart, in this order (the drive
# only for an image with a root filesystem disk, as the default image has).
CONFIG_CALLS = ["/logger", "/metrics", "/boot-source", "/machine-config", "/vsock"]
ROOTFS_CALL = "/drives/rootfs"


def image_manifest(name=None):
    link = os.path.join(e2e.IMAGE_HOME, "cache", "named", name) if name else \
        os.path.join(e2e.IMAGE_HOME, "cache", "current")
    folder = os.path.realpath(link)
    with open(os.path.join(folder, "manifest.json")) as f:
        return folder, json.load(f)


@pytest.fixture
def noroot_image():
    """An image variant of the default image's kernel and initramfs without
    its rootfs artifact: what an image built before the shared root looks
    like to the driver (the fake never boots the kernel, so the initramfs
    need not hold the whole system here)."""
    folder, m = image_manifest()
    name = f"fc-noroot-{os.getpid()}"
    cache = os.path.join(e2e.IMAGE_HOME, "cache")
    dest = os.path.join(cache, "images", name)
    os.mkdir(dest)
    m["artifacts"] = [a for a in m["artifacts"] if a["role"] != "rootfs"]
    m.pop("build_inputs", None)
    for a in m["artifacts"]:
        os.link(os.path.join(folder, a["path"]), os.path.join(dest, a["path"]))
    with open(os.path.join(dest, "manifest.json"), "w") as f:
        json.dump(m, f)
    os.makedirs(os.path.join(cache, "named"), exist_ok=True)
    os.symlink(f"../images/{name}", os.path.join(cache, "named", name))
    yield name
    os.unlink(os.path.join(cache, "named", name))
    for entry in os.listdir(dest):
        os.unlink(os.path.join(dest, entry))
    os.rmdir(dest)


def start_fake_api(sock, vm_id):
    """fake_firecracker.py serving its API on sock, once it accepts
    connections (it says so on its standard output after it listens; loading
    the spec before that takes seconds on a busy machine)."""
    p = subprocess.Popen(["/usr/bin/python3", FAKE, "--api-sock", sock, "--id", vm_id],
                         stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([p.stdout], [], [], 120)
    line = p.stdout.readline() if ready else ""
    if "API on" not in line:
        p.kill()
        p.wait()
        raise AssertionError(f"the fake firecracker did not start: {line!r}")
    return p


def fake_pids(marker):
    """PIDs of fake firecracker processes mentioning marker on their command
    line or working in it (a jailed one works in its chroot)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        # (Under the fake jailer the stand-in runs as /dev/fd/N, in its chroot.)
        if ("fake_firecracker.py" in cmd or "/dev/fd/" in cmd) and "--api-sock" in cmd and (
                marker in cmd or cwd == marker or cwd.startswith(marker + "/")):
            pids.append(int(entry))
    return pids


def wait_gone(marker, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline and fake_pids(marker):
        time.sleep(0.05)
    return fake_pids(marker)


class FcDaemon(e2e.Daemon):
    def __init__(self, env=None, extra_args=()):
        self.records = None
        super().__init__(["--vmm", "firecracker", *extra_args], env=None)
        self.records = os.path.join(self.home, "fc-records")
        os.mkdir(self.records)
        # The broker (the "VM": it runs the guests as root) listens in a
        # folder every user can reach, next to a file every user may read:
        # the VMM's Landlock rule set is what must keep it from the latter.
        self.broker_dir = tempfile.mkdtemp(prefix="fcb-")
        os.chmod(self.broker_dir, 0o755)
        self.probe = os.path.join(self.broker_dir, "probe")
        with open(self.probe, "w") as f:
            f.write("not for the VMM\n")
        os.chmod(self.probe, 0o644)
        sock = os.path.join(self.broker_dir, "broker.sock")
        self.broker = subprocess.Popen(
            ["/usr/bin/python3", FAKE, "--broker", sock, "--record", self.records,
             "--init", os.path.join(e2e.BUILD, "enclave-init")])
        # (It loads the spec first: seconds on a busy machine.)
        deadline = time.time() + 120
        while not os.path.exists(sock) and time.time() < deadline and self.broker.poll() is None:
            time.sleep(0.05)
        assert os.path.exists(sock), "the fake firecracker broker did not start"
        self.env.update({
            "ENCLAVE_FIRECRACKER": FAKE,
            "FAKE_FC_RECORD": self.records,
            "FAKE_FC_BROKER": sock,
            "FAKE_FC_PROBE": self.probe,
        })
        if env:
            self.env.update(env)

    def cleanup(self):
        super().cleanup()
        self.broker.kill()
        self.broker.wait()
        shutil.rmtree(self.broker_dir, ignore_errors=True)

    def record(self, sid):
        with open(os.path.join(self.records, sid + ".json")) as f:
            return json.load(f)

    def run_dir(self, sid):
        return os.path.join(self.home, "run", "vms", sid)

    def python(self, sid, code):
        # The host's python3, run by enclave-init as uid 1000 (the policy allows python3 only).
        body = json.dumps({"argv": ["/usr/bin/python3", "-c", code], "cwd": "/tmp"})
        return self.call("ExecuteTool", {"sessionId": sid, "toolName": "exec", "input": body})


@pytest.fixture
def fc():
    made = []

    def factory(**kw):
        d = FcDaemon(**kw).start()
        made.append(d)
        return d

    yield factory
    for d in made:
        d.stop()
        left = wait_gone(d.home)
        d.cleanup()
        assert left == [], "a fake firecracker outlived its daemon"


def test_session_runs_a_command_and_requests_match_the_spec(fc):
    d = fc()
    s = d.start_session(sessionId="fc-main", vcpu=2, memoryMb=256)
    assert s["status"] == "READY"
    sid = s["sessionId"]
    r = d.python(sid, "import os; print(os.getuid()); print('hello from the guest')")
    assert r["output"] == "1000\nhello from the guest\n", r
    assert r.get("exitCode", 0) == 0

    rec = d.record(sid)
    reqs = rec["requests"]
    # Every request was accepted by a server that validates against firecracker.yaml.
    assert [q["status"] for q in reqs] == [204] * len(reqs), reqs
    folder, manifest = image_manifest()
    rootfs = [a for a in manifest["artifacts"] if a["role"] == "rootfs"]
    assert rootfs, "the default image has a root filesystem disk"
    assert [q["path"] for q in reqs] == CONFIG_CALLS + [ROOTFS_CALL, "/actions"]
    assert all(q["method"] == "PUT" for q in reqs)
    assert reqs[-1]["body"] == {"action_type": "InstanceStart"}
    body = {q["path"]: q["body"] for q in reqs}
    assert body["/machine-config"] == {"vcpu_count": 2, "mem_size_mib": 256, "smt": False}
    # The shared root filesystem: the image's own file (not a copy: a
    # descriptor the daemon opened, fd 4 after the kernel), read-only, not the
    # root device (enclave-init mounts it; no root= is added).
    assert body[ROOTFS_CALL] == {"drive_id": "rootfs", "path_on_host": "/proc/self/fd/4",
                                 "is_root_device": False, "is_read_only": True}
    assert os.path.exists(os.path.join(folder, rootfs[0]["path"]))
    run_dir = d.run_dir(sid)
    # Every path is relative to Firecracker's working directory, the run
    # folder (its user may not search the folders above it), and the kernel
    # is a descriptor the daemon opened for it.
    assert rec["process"]["cwd"] == run_dir
    assert body["/vsock"] == {"guest_cid": 3, "uds_path": "vsock.sock"}
    boot = body["/boot-source"]
    assert boot["kernel_image_path"] == "/proc/self/fd/3"
    # The channel key: a per-VM initramfs in the VM's own folder (the image's
    # archive plus one holding the key), readable by the daemon's user and
    # the VMM's group only, and the key file next to it; the fake checked the
    # key entry at InstanceStart and its guest served only a host that proved it.
    assert boot["initrd_path"] == "initrd.cpio"
    initrd = os.path.join(run_dir, "initrd.cpio")
    key_path = os.path.join(run_dir, "channel.key")
    assert os.stat(initrd).st_mode & 0o7 == 0 and os.path.getsize(key_path) == 32
    assert os.stat(key_path).st_mode & 0o7 == 0
    with open(key_path, "rb") as f:
        key = f.read()
    with open(initrd, "rb") as f:
        tail = f.read()[-1024:]
    assert b".enclave-key\0" in tail and key in tail  # the small archive at the end
    assert key.hex() not in json.dumps(reqs) and key.hex() not in boot["boot_args"]
    args = boot["boot_args"].split()
    assert "rdinit=/init" in args and "reboot=k" in args and "console=ttyS0" in args
    assert "nomodule" not in args  # the guest loads its virtio modules
    assert body["/logger"]["log_path"] == "firecracker.log"
    assert body["/metrics"]["metrics_path"] == "metrics.json"
    # No network interface, ever.
    assert not any("network" in q["path"] for q in reqs)
    assert rec["id"] == "fc-main" and rec["api_sock"] == "api.sock"

    assert d.stop_session(sid) == {"success": True}
    assert wait_gone(run_dir) == []
    rec = d.record(sid)
    assert rec["requests"][-1]["body"] == {"action_type": "SendCtrlAltDel"}
    assert rec["requests"][-1]["status"] == 204
    assert rec["exited"] == "SendCtrlAltDel"


@pytest.mark.skipif(os.geteuid() != 0, reason="the VMM changes users only when the daemon is root")
def test_firecracker_runs_as_the_vmm_user_under_landlock(fc):
    """As QEMU: the VMM's user and group (no root group), no_new_privs, a
    Landlock rule set that keeps it from a file its user could read, and the
    4 MiB file size cap, hard and soft."""
    user = vmm_user()
    d = fc()
    sid = d.start_session(sessionId="fc-confined")["sessionId"]
    try:
        run_dir = d.run_dir(sid)
        proc = d.record(sid)["process"]
        assert proc["uid"] == [user.pw_uid] * 3, proc
        assert proc["gid"] == [user.pw_gid] * 3, proc
        assert 0 not in proc["groups"], proc
        assert proc["no_new_privs"] == 1
        assert proc["fsize"] == [FSIZE_CAP, FSIZE_CAP]
        assert proc["cwd"] == run_dir
        # Landlock: the probe is world-readable in a world-searchable folder...
        control = subprocess.run(
            ["/usr/bin/python3", "-c", f"print(open({d.probe!r}).read(), end='')"],
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True, timeout=30)
        assert control.stdout == b"not for the VMM\n", control
        # ...and the VMM, as that same user, could not open it.
        assert proc["probe"] == "EACCES", proc
        # Firecracker's log (its logger, opened as the VMM's user) has the report.
        with open(os.path.join(run_dir, "firecracker.log")) as f:
            assert json.loads(f.readline())["process"]["uid"] == [user.pw_uid] * 3
        # The run folder is handed over as for QEMU: the daemon's, the VMM's
        # group, sticky; the VMM still cannot read the daemon's secrets.
        st = os.stat(run_dir)
        assert st.st_uid == 0 and st.st_gid == user.pw_gid and st.st_mode & 0o7777 == 0o1770
        r = d.python(sid, "print('still served')")
        assert r["output"] == "still served\n"
    finally:
        d.stop_session(sid)


@pytest.mark.skipif(os.geteuid() != 0, reason="the jailer runs as root")
def test_jailer_gets_the_documented_arguments_and_layout(fc):
    user = vmm_user()
    d = fc(env={"ENCLAVE_JAILER": JAILER})
    s = d.start_session(sessionId="fc-jailed", vcpu=1, memoryMb=256)
    assert s["status"] == "READY"
    sid = s["sessionId"]
    run_dir = d.run_dir(sid)
    chroot = os.path.join(run_dir, "fake_firecracker.py", sid, "root")
    try:
        with open(os.path.join(d.records, sid + ".jailer.json")) as f:
            jail = json.load(f)
        assert jail["argv"] == [
            "--id", sid, "--exec-file", FAKE,
            "--uid", str(user.pw_uid), "--gid", str(user.pw_gid),
            "--chroot-base-dir", run_dir,
            "--cgroup-version", "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1",
            "--parent-cgroup", "enclave",
            "--cgroup", ("memory.max=" if os.path.exists("/sys/fs/cgroup/cgroup.controllers")
                         else "memory.limit_in_bytes=") + str((256 + 256) << 20),
            "--resource-limit", f"fsize={FSIZE_CAP}", "--resource-limit", "no-file=1024",
            "--", "--api-sock", "api.sock"]
        # Started as root, with root's supplementary groups already dropped.
        assert jail["uid"] == 0 and jail["groups"] == [user.pw_gid]
        assert jail["chroot"] == chroot
        # Firecracker as the jailer executes it: the VMM's user, in its chroot,
        # with the jailer's arguments and the cap the jailer set.
        rec = d.record(sid)
        proc = rec["process"]
        assert proc["uid"] == [user.pw_uid] * 3 and proc["gid"] == [user.pw_gid] * 3
        assert proc["groups"] == [user.pw_gid]
        assert proc["cwd"] == chroot
        assert proc["argv"][0] == f"--id={sid}" and proc["argv"][1].startswith("--start-time-us=")
        assert proc["fsize"] == [FSIZE_CAP, FSIZE_CAP]
        # Its files are in the chroot: the kernel (a link to the image's), the
        # per-VM initramfs and the logs, the jailed user's; the sockets too.
        body = {q["path"]: q["body"] for q in rec["requests"]}
        assert [q["status"] for q in rec["requests"]] == [204] * len(rec["requests"])
        assert body["/boot-source"]["kernel_image_path"] == "vmlinux"
        assert body["/boot-source"]["initrd_path"] == "initrd.cpio"
        st = os.stat(os.path.join(chroot, "initrd.cpio"))
        assert st.st_uid == user.pw_uid and st.st_mode & 0o777 == 0o400
        kernel = os.stat(os.path.join(chroot, "vmlinux"))
        assert kernel.st_uid == 0 and kernel.st_mode & 0o022 == 0
        assert os.path.exists(os.path.join(chroot, "vsock.sock"))
        assert os.stat(chroot).st_uid == user.pw_uid
        # The guest channel works through the chroot's vsock socket.
        r = d.python(sid, "import os; print(os.getuid())")
        assert r["output"] == "1000\n", r
    finally:
        assert d.stop_session(sid) == {"success": True}
    assert wait_gone(run_dir) == []
    assert d.record(sid)["exited"] == "SendCtrlAltDel"


def test_image_without_rootfs_boots_from_its_initramfs_alone(fc, noroot_image):
    d = fc()
    s = d.call("StartSession", {"sessionId": "fc-noroot", "image": noroot_image}, service="enclave.v1.Enclave")
    assert s["status"] == "READY"
    reqs = d.record(s["sessionId"])["requests"]
    assert [q["path"] for q in reqs] == CONFIG_CALLS + ["/actions"]
    assert not any("drives" in q["path"] for q in reqs)
    assert d.stop_session(s["sessionId"]) == {"success": True}


def test_unreadable_rootfs_fails_start_with_firecrackers_fault(fc, tmp_path):
    """Firecracker opens the drive at InstanceStart; a file it cannot open
    fails the start with its fault message (the fake checks as it does). A
    file that vanished after the daemon verified the image is caught before
    Firecracker starts."""
    d = fc(env={"FAKE_FC_REFUSE": "PUT /drives/rootfs"})
    with pytest.raises(e2e.ConnectError) as e:
        d.start_session(sessionId="fc-nodrive")
    assert "/drives/rootfs" in e.value.message and "refused" in e.value.message
    assert wait_gone(d.run_dir("fc-nodrive")) == []


def start_in_background(d, **kw):
    """StartSession in a thread: (thread, result dict with "session" or "error")."""
    result = {}

    def run():
        try:
            result["session"] = d.start_session(**kw)
        except Exception as e:  # the test looks at it
            result["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result


def wait_first_call(d, sid, thread):
    """Until the fake recorded its first API call for sid (a recorded call
    was answered: the fake writes the record before its answer goes out)."""
    path = os.path.join(d.records, sid + ".json")
    deadline = time.time() + 120
    while time.time() < deadline and thread.is_alive():
        if os.path.exists(path) and d.record(sid)["requests"]:
            return
        time.sleep(0.05)
    raise AssertionError("the fake recorded no API call")


def test_slow_firecracker_does_not_hold_the_daemon(fc):
    """Each API answer comes 2.5 s late (a loaded host; longer than a call
    was once allowed). The session still starts, and while the driver waits
    for Firecracker the daemon serves other requests: answered after the
    first call and before InstanceStart, they prove the configuration does
    not hold the daemon's loop."""
    d = fc(env={"FAKE_FC_DELAY_MS": "2500"}, extra_args=("--restore", "off"))
    sid = "fc-slow"
    thread, result = start_in_background(d, sessionId=sid, vcpu=2, memoryMb=256)
    wait_first_call(d, sid, thread)
    assert d.get("/ping") == (200, b"pong")
    listed = d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])
    assert [x.get("status") for x in listed if x.get("sessionId") == sid] == ["BOOTING"], listed
    paths = [q["path"] for q in d.record(sid)["requests"]]
    assert "/actions" not in paths, paths  # answered while the configuration went on
    thread.join(300)
    assert "error" not in result, result
    assert result["session"]["status"] == "READY"
    reqs = d.record(sid)["requests"]
    assert [q["path"] for q in reqs] == CONFIG_CALLS + [ROOTFS_CALL, "/actions"]
    assert d.stop_session(sid) == {"success": True}


def test_stop_during_the_configuration(fc):
    """StopSession while the driver is still configuring Firecracker: the
    start fails as stopped, the configuration goes no further, and the
    process is gone."""
    d = fc(env={"FAKE_FC_DELAY_MS": "1000"}, extra_args=("--restore", "off"))
    sid = "fc-stopped-early"
    thread, result = start_in_background(d, sessionId=sid, vcpu=2, memoryMb=256)
    wait_first_call(d, sid, thread)
    assert d.stop_session(sid) == {"success": True}
    thread.join(300)
    assert isinstance(result.get("error"), e2e.ConnectError), result
    assert "stopped while booting" in result["error"].message
    assert wait_gone(d.run_dir(sid)) == []
    assert not os.path.exists(d.run_dir(sid))
    paths = [q["path"] for q in d.record(sid)["requests"]]
    assert "/actions" not in paths, paths


def test_firecracker_that_never_listens_fails_within_the_boot_timeout(fc):
    """A Firecracker that never opens its API socket: StartSession fails
    within the daemon's boot timeout, naming the socket, and the process is
    killed."""
    d = fc(env={"FAKE_FC_NO_API": "1"}, extra_args=("--restore", "off", "--boot-timeout", "3"))
    with pytest.raises(e2e.ConnectError) as e:
        d.start_session(sessionId="fc-deaf")
    # (Said by the driver, or by the boot timeout if it comes first.)
    msg = e.value.message
    assert "API socket" in msg and "accept a connection" in msg and "3000 ms" in msg, msg
    assert wait_gone(d.run_dir("fc-deaf")) == []


def test_instance_id_is_what_firecracker_accepts(fc):
    d = fc()
    sid = d.start_session(sessionId="fc.with_dots")["sessionId"]
    try:
        assert d.record("fc-with-dots")["requests"][-1]["status"] == 204
    finally:
        d.stop_session(sid)


def test_api_fault_fails_start_with_the_fault_message(fc):
    d = fc(env={"FAKE_FC_REFUSE": "PUT /machine-config"})
    with pytest.raises(e2e.ConnectError) as e:
        d.start_session(sessionId="fc-refused")
    assert "refused by FAKE_FC_REFUSE: PUT /machine-config" in e.value.message
    assert "HTTP 400" in e.value.message
    reqs = d.record("fc-refused")["requests"]
    # The driver stopped at the refusal: the VM was never started.
    assert reqs[-1]["path"] == "/machine-config" and reqs[-1]["status"] == 400
    assert not any(q["path"] == "/actions" for q in reqs)
    assert wait_gone(d.home) == []


def test_missing_binary_is_named(fc):
    d = fc(env={"ENCLAVE_FIRECRACKER": "/nonexistent/firecracker"})
    with pytest.raises(e2e.ConnectError) as e:
        d.start_session(sessionId="fc-missing")
    assert "ENCLAVE_FIRECRACKER" in e.value.message
    assert "/nonexistent/firecracker" in e.value.message


def test_guest_ignoring_ctrl_alt_del_is_killed(fc):
    d = fc(env={"FAKE_FC_IGNORE_CAD": "1"})
    sid = d.start_session(sessionId="fc-stubborn")["sessionId"]
    run_dir = d.run_dir(sid)
    assert len(fake_pids(run_dir)) == 1
    assert d.stop_session(sid) == {"success": True}
    assert wait_gone(run_dir) == []
    rec = d.record(sid)
    assert rec["requests"][-1]["body"] == {"action_type": "SendCtrlAltDel"}
    assert rec["exited"] is None  # it did not exit on its own: it was killed


def test_stop_waits_for_firecracker_on_the_loop(fc):
    """A Firecracker that holds its answer to SendCtrlAltDel, then ignores
    it (and SIGTERM): while the daemon waits for that answer it serves
    other requests (the stop request waits on the loop, not in it), then
    its grace period ends in SIGKILL, and StopSession answers once the
    process is gone. The stand-in answers only after the test's other
    requests were served, and says whether the daemon was still waiting
    for the answer then: a daemon that waited in its loop would have given
    up on it first."""
    d = fc(env={"FAKE_FC_HOLD_CAD": "release-cad"})
    sid = d.start_session(sessionId="fc-held")["sessionId"]
    run_dir = d.run_dir(sid)
    assert len(fake_pids(run_dir)) == 1
    result = {}

    def stop():
        try:
            result["stop"] = d.stop_session(sid)
        except Exception as e:  # the test looks at it
            result["error"] = e

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline and thread.is_alive():
        reqs = d.record(sid)["requests"]
        if reqs and reqs[-1]["fault"] == "held":
            break
        time.sleep(0.02)
    assert d.record(sid)["requests"][-1]["fault"] == "held"
    # Served while the stop request waits for Firecracker.
    assert d.get("/ping") == (200, b"pong")
    listed = d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])
    assert [x.get("status") for x in listed if x.get("sessionId") == sid] == ["STOPPING"], listed
    with open(os.path.join(run_dir, "release-cad"), "w"):
        pass
    thread.join(300)
    assert result == {"stop": {"success": True}}, result
    assert fake_pids(run_dir) == []  # reported stopped only once the process is gone
    assert not os.path.exists(run_dir)
    rec = d.record(sid)
    assert rec["cad_client_waited"] is True
    assert rec["exited"] is None  # it did not exit on its own: it was killed


def test_daemon_shutdown_stops_firecracker(fc):
    d = fc()
    sid = d.start_session(sessionId="fc-shutdown")["sessionId"]
    run_dir = d.run_dir(sid)
    assert len(fake_pids(run_dir)) == 1
    d.stop()
    assert wait_gone(run_dir) == []
    assert d.record(sid)["requests"][-1]["body"] == {"action_type": "SendCtrlAltDel"}


def test_version_does_not_hold_the_daemon(fc, tmp_path):
    """`firecracker --version`, which the snapshot is bound to, runs on the
    daemon's loop: with its answer held, the daemon is ready and serves, and
    has not given up on it; once it answers, the snapshot is built."""
    hold = tmp_path / "version-may-answer"
    d = fc(env={"FAKE_FC_VERSION_HOLD": str(hold)}, extra_args=("--restore", "on"))
    assert d.get("/ping") == (200, b"pong")
    listed = d.call("ListSessions", {}, service="enclave.v1.Enclave")
    assert listed.get("sessions", []) == []
    assert "snapshot restore is off" not in d.read_log()
    hold.touch()
    wait_snapshot_meta(d)
    assert "snapshot restore is off" not in d.read_log()


def test_firecracker_without_a_version_line_turns_snapshots_off(fc):
    """A binary whose --version says no Firecracker version (another
    program, or one too old to print it): snapshots are off, the log says
    what it printed, and sessions still start (cold)."""
    d = fc(env={"FAKE_FC_VERSION": "firecracker 0.1-prerelease"}, extra_args=("--restore", "on"))
    s = d.start_session(sessionId="fc-no-version")
    assert s["status"] == "READY"
    deadline = time.time() + 60
    while "snapshot restore is off" not in d.read_log() and time.time() < deadline:
        time.sleep(0.05)
    log = d.read_log()
    assert "snapshot restore is off" in log
    assert "--version did not say its version: firecracker 0.1-prerelease" in log
    assert glob.glob(os.path.join(d.home, "snapshots", "*", "meta.json")) == []
    assert d.stop_session("fc-no-version") == {"success": True}


def test_tcg_is_refused_with_firecracker():
    d = FcDaemon(extra_args=["--accel", "tcg"])
    try:
        with pytest.raises(RuntimeError) as e:
            d.start()
        assert "needs KVM" in str(e.value)
    finally:
        d.cleanup()


# The fake itself must refuse what the spec refuses, or the tests above prove nothing.
@pytest.mark.parametrize("path,body,why", [
    ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "bogus": 1}, "unknown field `bogus`"),
    ("/machine-config", {"vcpu_count": "1", "mem_size_mib": 128}, "expected an integer"),
    ("/machine-config", {"vcpu_count": 0, "mem_size_mib": 128}, "below the minimum"),
    ("/machine-config", {"mem_size_mib": 128}, "missing required field `vcpu_count`"),
    ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "smt": "no"}, "expected a boolean"),
    ("/vsock", {"guest_cid": 2, "uds_path": "/x"}, "below the minimum"),
    ("/actions", {"action_type": "Reboot"}, "is not one of"),
    ("/network-interface", {}, "no such path"),
    ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/x", "is_read_only": True},
     "missing required field `is_root_device`"),
    ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/x", "is_root_device": False,
                        "is_read_only": "yes"}, "expected a boolean"),
    ("/drives/rootfs", {"drive_id": "other", "path_on_host": "/x", "is_root_device": False,
                        "is_read_only": True}, "does not match the id"),
])
def test_fake_refuses_what_the_spec_refuses(tmp_path, path, body, why):
    sock = str(tmp_path / "api.sock")
    p = start_fake_api(sock, "t")
    try:
        payload = json.dumps(body).encode()
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(120)
            s.connect(sock)
            s.sendall(b"PUT " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\nContent-Length: "
                      + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            answer = b""
            while b"}" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400"), answer
        assert why in json.loads(answer.split(b"\r\n\r\n", 1)[1])["fault_message"]
    finally:
        p.kill()
        p.wait()


def test_unknown_vmm_is_refused():
    p = subprocess.run([e2e.ENCLAVE, "up", "--vmm", "kvmtool"], capture_output=True, timeout=30,
                       env=dict(os.environ, ENCLAVE_HOME="/nonexistent"))
    assert p.returncode != 0
    assert b"--vmm must be qemu or firecracker" in p.stderr + p.stdout
    p = subprocess.run([e2e.ENCLAVE, "up", "--help"], capture_output=True, timeout=30)
    assert b"--vmm V" in p.stdout


def wait_snapshot_meta(d, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for meta in glob.glob(os.path.join(d.home, "snapshots", "*", "meta.json")):
            with open(meta) as f:
                return os.path.dirname(meta), json.load(f)
        time.sleep(0.1)
    raise AssertionError("no snapshot was saved:\n" + d.read_log()[-3000:])


def test_snapshot_create_and_load_match_the_spec(fc):
    """--restore on: a VM is booted and saved (PATCH /vm Paused, then PUT
    /snapshot/create), and a session restores it (PUT /snapshot/load with
    resume_vm and its own vsock socket, nothing boot-specific before it),
    every request accepted by the spec check; the restored guest is resumed
    with the session's own key and runs code."""
    d = fc(extra_args=("--restore", "on"))
    folder, meta = wait_snapshot_meta(d)
    template = [p for p in glob.glob(os.path.join(d.records, "snap-*.json"))]
    assert len(template) == 1, template
    with open(template[0]) as f:
        reqs = json.load(f)["requests"]
    assert [q["status"] for q in reqs] == [204] * len(reqs), reqs
    # after the boot configuration (with the root filesystem drive) and InstanceStart
    started = [q["body"] for q in reqs].index({"action_type": "InstanceStart"}) + 1
    assert [q["path"] for q in reqs[:started]] == CONFIG_CALLS + [ROOTFS_CALL, "/actions"]
    assert [(q["method"], q["path"]) for q in reqs[started:]][:2] == [
        ("PATCH", "/vm"), ("PUT", "/snapshot/create")], reqs
    pause, create = reqs[started], reqs[started + 1]
    assert pause["body"] == {"state": "Paused"}
    # Written in the VMM's run folder (the only place it may write), then
    # moved by the daemon into the snapshot folder, the daemon's own (the
    # VMM's group may read them, through the descriptors of a restore).
    assert create["body"] == {"snapshot_type": "Full", "snapshot_path": "snapshot.state",
                              "mem_file_path": "snapshot.state.mem"}
    for name in ("state", "state.mem"):
        st = os.stat(os.path.join(folder, name))
        assert st.st_uid == os.geteuid() and st.st_mode & 0o137 == 0
    assert os.path.exists(os.path.join(folder, "state")) and os.path.exists(os.path.join(folder, "state.mem"))

    s = d.start_session(sessionId="fc-restored")
    assert s["status"] == "READY"
    r = d.python("fc-restored", "import os; print(os.getuid())")
    assert r["output"] == "1000\n", r
    rec = d.record("fc-restored")["requests"]
    assert [q["status"] for q in rec] == [204] * len(rec), rec
    assert [q["path"] for q in rec] == ["/logger", "/metrics", "/snapshot/load"], rec
    load = rec[-1]["body"]
    run_dir = d.run_dir("fc-restored")
    # The snapshot's files as descriptors the daemon opened (fd 5 and 6,
    # after the kernel and the root filesystem); the VM's own vsock socket.
    assert load == {"snapshot_path": "/proc/self/fd/5",
                    "mem_backend": {"backend_type": "File", "backend_path": "/proc/self/fd/6"},
                    "resume_vm": True,
                    "vsock_override": {"uds_path": "vsock.sock"}}, load
    ready = [json.loads(x["args"]) for x in d.audit("fc-restored") if x["name"] == "SESSION:READY"]
    assert ready and ready[0]["restored"] is True
    with open(os.path.join(run_dir, "channel.key"), "rb") as f:
        assert f.read() != bytes.fromhex(meta["key"]), "the restored VM kept the snapshot's key"
    assert d.stop_session("fc-restored") == {"success": True}


def api(sock, method, path, body):
    """One request to the fake's API: (status, body text)."""
    payload = json.dumps(body).encode()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(120)
        s.connect(sock)
        s.sendall(method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Type: application/json\r\nContent-Length: "
                  + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        answer = b""
        while b"\r\n\r\n" not in answer or (answer.startswith(b"HTTP/1.1 4") and not answer.endswith(b"}")):
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer.split(b"\r\n\r\n", 1)[1].decode()


def test_fake_refuses_snapshot_load_after_boot_configuration(tmp_path):
    """Firecracker's order rule, kept by the fake: no snapshot load once the
    boot source is configured (so the driver's restore path can fail)."""
    sock = str(tmp_path / "api.sock")
    p = start_fake_api(sock, "order")
    try:
        status, _ = api(sock, "PUT", "/boot-source", {"kernel_image_path": "/k"})
        assert status == 204
        status, body = api(sock, "PUT", "/snapshot/load", {"snapshot_path": "/s", "mem_file_path": "/m"})
        assert status == 400 and "not allowed" in body, body
        status, body = api(sock, "PUT", "/snapshot/create", {"snapshot_path": "/s", "mem_file_path": "/m"})
        assert status == 400, body
    finally:
        p.kill()
        p.wait()
