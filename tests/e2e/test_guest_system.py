"""Inside a real VM, as the workload (uid 1000): the system is read-only.

The guest walks its whole file system and lists every path it could change:
each directory is probed by really creating (and removing) a file in it, and
every other entry is checked with access(W_OK) (regular files are also opened
for writing, without writing). Only /workspace and /tmp (and /dev/shm) and
what they hold may show up, plus the character devices that are meant to be
written (/dev/null and friends). /proc is looked at where it is shared
(/proc/sys and its top level), not in the per-process folders, which belong
to the caller by design; /sys is walked whole. A kernel file whose mode says
writable counts only if opening it for writing works (and, for a sysctl,
writing back its own value): several are 0666 and check a capability.
"""
import json
from conftest import ConnectError

WALK = r'''
import json, os, stat

PROBE = ".enclave-write-probe"
dirs_created, writable, devices, errors = [], [], [], 0

def kernel_file_writable(p):
    """A /proc or /sys file whose mode says writable: some check a capability
    when opened for writing (/proc/pressure/*), sysctls when written
    (ns_last_pid). Open it; for a sysctl, write back what it holds, which
    changes nothing even where the write is allowed."""
    try:
        fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return False
    try:
        if not p.startswith("/proc/sys/"):
            return True
        with open(p, "rb") as f:
            value = f.read()
        os.write(fd, value)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)

def per_process(top, name):
    return top == "/proc" and (name.isdigit() or name in ("self", "thread-self"))

for top, dirs, files in os.walk("/", onerror=None, followlinks=False):
    dirs[:] = sorted(d for d in dirs if not per_process(top, d))
    try:
        fd = os.open(os.path.join(top, PROBE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(os.path.join(top, PROBE))
        dirs_created.append(top)
    except OSError:
        pass
    if os.access(top, os.W_OK):
        writable.append(top)
    for name in files:
        p = os.path.join(top, name)
        try:
            st = os.lstat(p)
        except OSError:
            errors += 1
            continue
        if stat.S_ISLNK(st.st_mode):
            continue
        w = os.access(p, os.W_OK)
        if stat.S_ISREG(st.st_mode) and not p.startswith(("/proc/", "/sys/")):
            try:
                os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY))
                w = True
            except OSError:
                pass
        elif w and stat.S_ISREG(st.st_mode):
            w = kernel_file_writable(p)
        if not w:
            continue
        if stat.S_ISCHR(st.st_mode):
            devices.append(p)
        else:
            writable.append(p)
print(json.dumps({"uid": os.getuid(), "created": dirs_created, "writable": writable,
                  "devices": devices, "errors": errors}))
'''

ALLOWED = ("/workspace", "/tmp", "/dev/shm")
# Character devices every Linux system lets anyone write.
DEVICES = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"}


def allowed(path):
    return any(path == a or path.startswith(a + "/") for a in ALLOWED)


def test_only_the_workspaces_are_writable(daemon, session):
    # Something in the workspaces first, so the walk sees their contents too.
    daemon.python(session, "open('/workspace/mine.txt', 'w').write('x'); open('/tmp/mine.txt', 'w').write('y')")
    r = daemon.python(session, WALK, timeout=240)
    assert r.get("exitCode", 0) == 0, r
    found = json.loads(r["output"])
    assert found["uid"] == 1000
    # The walk works: it can write where it should.
    for place in ("/workspace", "/tmp", "/dev/shm"):
        assert place in found["created"], found["created"]
    assert "/workspace/mine.txt" in found["writable"] and "/tmp/mine.txt" in found["writable"]
    # And nowhere else.
    assert [p for p in found["created"] if not allowed(p)] == []
    assert [p for p in found["writable"] if not allowed(p)] == []
    assert set(found["devices"]) <= DEVICES, found["devices"]


def test_system_files_refuse_the_workload(daemon, session):
    # The classic ones by name, with the error the kernel gives.
    code = r'''
import os
for p in ["/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/var", "/var/tmp/..", "/root", "/run"]:
    try:
        open(os.path.join(p, "x"), "w")
        print(p, "WRITABLE")
    except OSError as e:
        print(p, e.errno)
for p in ["/init", "/etc/passwd", "/usr/bin/python3"]:
    try:
        open(p, "r+")
        print(p, "WRITABLE")
    except OSError as e:
        print(p, e.errno)
st = os.stat("/")
print("root", oct(st.st_mode & 0o7777), st.st_uid)
print("vartmp", os.path.realpath("/var/tmp"))
'''
    out = daemon.python(session, code)["output"]
    assert "WRITABLE" not in out, out
    assert "root 0o755 0" in out, out
    assert "vartmp /tmp" in out, out


def test_tmpfs_sizes_follow_the_vm_memory(daemon, session):
    code = r'''
mem = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
sizes = {}
for line in open("/proc/mounts"):
    f = line.split()
    if f[1] in ("/tmp", "/dev/shm"):
        opts = dict(o.split("=", 1) for o in f[3].split(",") if "=" in o)
        sizes[f[1]] = int(opts["size"].rstrip("k"))
print(mem, sizes["/tmp"], sizes["/dev/shm"])
'''
    mem, tmp, shm = map(int, daemon.python(session, code)["output"].split())
    # tmpfs's default is half the memory each; here a quarter and an eighth.
    assert 0 < tmp <= mem // 4 + 4
    assert 0 < shm <= mem // 8 + 4


WORKSPACE_SIZE = r'''
for line in open("/proc/mounts"):
    f = line.split()
    if f[1] == "/workspace":
        opts = dict(o.split("=", 1) for o in f[3].split(",") if "=" in o)
        print(f[2], int(opts["size"].rstrip("k")))
'''

FILL = r'''
import errno, os
written, err = 0, None
chunk = b"x" * (1 << 20)
try:
    with open("/workspace/fill", "wb") as f:
        for _ in range(64):
            f.write(chunk)
            f.flush()
            written += len(chunk)
        os.fsync(f.fileno())
except OSError as e:
    err = errno.errorcode.get(e.errno, str(e.errno))
print(err, written, os.path.getsize("/workspace/fill"))
os.remove("/workspace/fill")
open("/workspace/after", "wb").write(b"y" * (1 << 20))
print(os.path.getsize("/workspace/after"))
'''


def test_workspace_default_size_is_a_quarter_of_memory(daemon, session):
    kind, size_kb = daemon.python(session, WORKSPACE_SIZE)["output"].split()
    listed = daemon.call("ListSessions", {}, service="enclave.v1.Enclave")["sessions"]
    me = [x for x in listed if x["sessionId"] == session][0]
    assert kind == "tmpfs"
    # tmpfs's default would be half the VM's memory; here a quarter of the session's.
    assert me["workspaceMb"] == me["memoryMb"] // 4
    assert int(size_kb) == me["workspaceMb"] * 1024


def test_workspace_size_is_enforced_in_the_guest(daemon):
    svc = "enclave.v1.Enclave"
    # Over half the session's memory is refused before anything boots.
    try:
        daemon.call("StartSession", {"sessionId": "ws-big", "memoryMb": 512, "workspaceMb": 257},
                    service=svc)
        raise AssertionError("a workspace over half the memory was accepted")
    except ConnectError as e:
        assert e.code == "invalid_argument" and "workspace_mb" in e.message, e
    s = daemon.call("StartSession", {"sessionId": "ws-small", "memoryMb": 512, "workspaceMb": 16},
                    service=svc)
    assert s["status"] == "READY" and s["workspaceMb"] == 16, s
    sid = s["sessionId"]
    try:
        assert daemon.python(sid, WORKSPACE_SIZE)["output"].split() == ["tmpfs", str(16 * 1024)]
        # Writing 64 MiB into a 16 MiB workspace: ENOSPC for the workload, at
        # most 16 MiB on disk; once the file is gone there is room again.
        r = daemon.python(sid, FILL, timeout=60)
        err, written, size, after = r["output"].split()
        assert err == "ENOSPC", r
        assert int(written) <= 16 << 20 and int(size) <= 16 << 20
        assert int(after) == 1 << 20
        # The VM and the daemon carry on.
        assert daemon.python(sid, "print(6*7)")["output"] == "42\n"
        assert daemon.get("/ping")[0] == 200
        listed = daemon.call("ListSessions", {}, service=svc)["sessions"]
        assert [x["workspaceMb"] for x in listed if x["sessionId"] == sid] == [16]
    finally:
        daemon.stop_session(sid)
