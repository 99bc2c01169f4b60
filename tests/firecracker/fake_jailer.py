#!/usr/bin/python3
"""A stand-in for Firecracker's `jailer`, held to its documented interface.

Firecracker's jailer (docs/jailer.md in the Firecracker project) is run as
root with `--id ID --exec-file FILE --uid UID --gid GID` and optional
`--cgroup-version`, `--cgroup FILE=VALUE`, `--parent-cgroup`,
`--chroot-base-dir`, `--netns`, `--resource-limit RES=VALUE`, `--daemonize`,
`--new-pid-ns`, then `--` and Firecracker's own arguments. This program
checks the arguments as the jailer does (an unknown or malformed one is an
error and nothing runs), records them, and then does what it can of the
jailer's work on a machine where the stand-in Firecracker is a Python
script:

  - makes <chroot-base-dir>/<exec file name>/<id>/root (the chroot folder;
    nothing is done if it exists), copies the exec file into it, and makes
    the folder the jailed user's;
  - sets the resource limits (fsize, no-file; no-file is 2048 by default);
  - clears the environment (keeping FAKE_FC_* for the stand-in);
  - changes into the chroot folder, sets the groups to GID alone, the gid
    and the uid, and executes `./<exec file name> --id=ID
    --start-time-us=N --start-time-cpu-us=N` plus the arguments after `--`
    (through a descriptor of the copy: see below).

What it does not do, and a real jailer does: unshare a mount namespace,
pivot_root and chroot into the folder (the copied Python script could not
run there), mknod /dev/kvm and /dev/net/tun, join --netns, create cgroups
(the --cgroup values are checked for the FILE=VALUE form and recorded).
Because there is no chroot, the copy is executed through a descriptor
(/proc/self/fd/N; its interpreter opens /dev/fd/N), as the folders above the
chroot folder are root's and 0700.

Environment: FAKE_FC_RECORD, a folder: <folder>/<id>.jailer.json gets
{argv, uid, gid, chroot}.
"""
import json
import os
import re
import resource
import shutil
import sys
import time

RESOURCES = {"fsize": resource.RLIMIT_FSIZE, "no-file": resource.RLIMIT_NOFILE}
VALUED = {"--id", "--exec-file", "--uid", "--gid", "--cgroup-version", "--cgroup",
          "--parent-cgroup", "--chroot-base-dir", "--netns", "--resource-limit"}
FLAGS = {"--daemonize", "--new-pid-ns"}
REPEATED = {"--cgroup", "--resource-limit"}


def fail(msg):
    print(f"jailer: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse(argv):
    opts, extra, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            extra = argv[i + 1:]
            break
        if a in FLAGS:
            opts[a] = True
            i += 1
            continue
        if a not in VALUED:
            fail(f"unknown argument {a!r}")
        if i + 1 >= len(argv):
            fail(f"{a} needs a value")
        if a in REPEATED:
            opts.setdefault(a, []).append(argv[i + 1])
        elif a in opts:
            fail(f"{a} given twice")
        else:
            opts[a] = argv[i + 1]
        i += 2
    for req in ("--id", "--exec-file", "--uid", "--gid"):
        if req not in opts:
            fail(f"missing required argument {req}")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", opts["--id"]):
        fail(f"invalid instance id {opts['--id']!r}")
    for k in ("--uid", "--gid"):
        if not opts[k].isdigit():
            fail(f"{k} must be a number: {opts[k]!r}")
    exe = opts["--exec-file"]
    if not os.path.isabs(exe) or not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        fail(f"--exec-file {exe!r} is not an executable file (an absolute path)")
    if opts.get("--cgroup-version", "1") not in ("1", "2"):
        fail(f"--cgroup-version must be 1 or 2: {opts['--cgroup-version']!r}")
    for cg in opts.get("--cgroup", []):
        if not re.fullmatch(r"[a-z_]+\.[a-z_.]+=\S+", cg):
            fail(f"--cgroup must be FILE=VALUE: {cg!r}")
    for rl in opts.get("--resource-limit", []):
        name, _, value = rl.partition("=")
        if name not in RESOURCES or not value.isdigit():
            fail(f"--resource-limit must be fsize=N or no-file=N: {rl!r}")
    base = opts.get("--chroot-base-dir", "/srv/jailer")
    if not os.path.isabs(base) or not os.path.isdir(base):
        fail(f"--chroot-base-dir {base!r} is not an existing absolute folder")
    return opts, extra


def main():
    if os.geteuid() != 0:
        fail("the jailer runs as root")
    opts, extra = parse(sys.argv[1:])
    vm_id, exe = opts["--id"], opts["--exec-file"]
    uid, gid = int(opts["--uid"]), int(opts["--gid"])
    name = os.path.basename(exe)
    chroot = os.path.join(opts.get("--chroot-base-dir", "/srv/jailer"), name, vm_id, "root")
    record = os.environ.get("FAKE_FC_RECORD")
    if record:
        with open(os.path.join(record, vm_id + ".jailer.json"), "w") as f:
            json.dump({"argv": sys.argv[1:], "uid": os.getuid(), "gid": os.getgid(),
                       "groups": sorted(os.getgroups()), "chroot": chroot}, f, indent=1)
    start = time.monotonic()
    os.makedirs(chroot, exist_ok=True)
    shutil.copy2(exe, os.path.join(chroot, name))
    limits = {"no-file": 2048}
    for rl in opts.get("--resource-limit", []):
        k, _, v = rl.partition("=")
        limits[k] = int(v)
    for k, v in limits.items():
        resource.setrlimit(RESOURCES[k], (v, v))
    os.chown(chroot, uid, gid)
    env = {k: v for k, v in os.environ.items() if k.startswith("FAKE_FC_")}
    os.chdir(chroot)
    # Without the chroot, Python would open the copy by its absolute path,
    # through folders only root may search: it is executed through a
    # descriptor instead (the kernel hands the interpreter /dev/fd/N).
    exe_fd = os.open(name, os.O_RDONLY)
    os.set_inheritable(exe_fd, True)
    os.setgroups([gid])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    us = int((time.monotonic() - start) * 1e6)
    args = [f"./{name}", f"--id={vm_id}", f"--start-time-us={us}", f"--start-time-cpu-us={us}", *extra]
    os.execve(f"/proc/self/fd/{exe_fd}", args, env)


if __name__ == "__main__":
    main()
