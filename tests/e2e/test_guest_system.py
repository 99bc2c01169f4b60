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
