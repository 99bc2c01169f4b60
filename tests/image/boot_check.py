#!/usr/bin/python3
"""Builds the guest image and boots it under QEMU, twice, without the daemon.

1. With the image's own /init (enclave-init): every module in load-order must
   load ("modules: N loaded, 0 failed") within the timeout. With a rootfs.erofs
   (the default layout) the disk is attached read-only and a throwaway channel
   key given, and enclave-init must mount it as the root and find the system
   read-only for uid 1000.
2. An image without rootfs.erofs (--initramfs-only): with a throwaway Python
   /init appended as a second cpio archive (the kernel
   unpacks both; the later /init wins): checks the root filesystem the way a
   workload sees it -- python3 with json and subprocess, a child as uid/gid
   1000 in /workspace, the agent user, /workspace and /tmp ownership and modes,
   precompiled standard library. With rootfs.erofs, fsck.erofs checks the
   image instead (the workload's view of that root is tests/e2e/test_rootfs.py).

Prints the image sizes and boot times (numbers only, nothing is asserted about
time). Usage: boot_check.py ENCLAVE_BINARY   (ENCLAVE_HOME is honoured).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

TIMEOUT = 120

PROBE_INIT = r'''#!/usr/bin/python3
import grp, json, os, pwd, subprocess, sys
def say(*a):
    print("CHECK", *a, flush=True)
say("python", sys.version.split()[0])
r = subprocess.run(["/usr/bin/python3", "-c",
                    "import json, os, subprocess; print(json.dumps([os.getuid(), os.getgid(), os.getcwd()]))"],
                   user=1000, group=1000, extra_groups=[], cwd="/workspace", capture_output=True, text=True)
say("child", r.returncode, r.stdout.strip(), r.stderr.strip()[-200:])
say("agent", pwd.getpwuid(1000).pw_name, pwd.getpwuid(1000).pw_dir, grp.getgrgid(1000).gr_name)
st = os.stat("/workspace"); say("workspace", st.st_uid, st.st_gid, oct(st.st_mode & 0o7777))
st = os.stat("/tmp"); say("tmp", st.st_uid, oct(st.st_mode & 0o7777))
st = os.stat("/usr/bin/python3"); say("usr", st.st_uid, st.st_gid)
import json as j; say("pyc", os.path.exists(j.__cached__))
say("modules", " ".join(open("/lib/modules/enclave/load-order").read().split()))
say("done")
'''


def qemu(manifest, initrd, extra_append="", rootfs=None, key=None):
    kernel = os.path.join(manifest["dir"], "vmlinuz")
    argv = ["timeout", str(TIMEOUT), "qemu-system-x86_64", "-M", "microvm,acpi=on,pit=on,rtc=on",
            "-accel", "tcg", "-m", "512", "-nodefaults", "-no-user-config", "-display", "none",
            "-nic", "none", "-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
            "-append", manifest["kernel_cmdline"] + " rdinit=/init" + extra_append]
    if rootfs:
        argv += ["-drive", f"id=rootfs,file={rootfs},if=none,format=raw,readonly=on",
                 "-device", "virtio-blk-device,drive=rootfs"]
    if key:
        argv += ["-fw_cfg", f"name=opt/org.enclave/key,file={key}"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, errors="replace")


def wait_for(proc, predicate):
    """Reads console lines until predicate(line) is true; returns (line, seconds, lines)."""
    start = time.monotonic()
    seen = []
    for line in proc.stdout:
        seen.append(line.rstrip())
        if predicate(line):
            return line.rstrip(), time.monotonic() - start, seen
    return None, time.monotonic() - start, seen


def stop(proc):
    # SIGTERM: timeout(1) passes it on to QEMU (SIGKILL would orphan QEMU)
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    enclave = sys.argv[1]
    t0 = time.monotonic()
    subprocess.run([enclave, "image", "build"], check=True)
    print(f"image build: {time.monotonic() - t0:.1f} s")
    out = subprocess.run([enclave, "image", "status"], check=True, capture_output=True, text=True).stdout
    print(out)
    home = os.environ.get("ENCLAVE_HOME") or os.path.expanduser("~/.enclave")
    image_dir = os.path.realpath(os.path.join(home, "cache", "current"))
    with open(os.path.join(image_dir, "manifest.json")) as f:
        manifest = json.load(f)
    manifest["dir"] = image_dir
    initramfs = os.path.join(image_dir, "initramfs.cpio")
    sizes = {a["role"]: a["size"] for a in manifest["artifacts"]}
    rootfs = {a["role"]: a["path"] for a in manifest["artifacts"]}.get("rootfs")
    rootfs = os.path.join(image_dir, rootfs) if rootfs else None
    print(f"kernel {sizes['kernel'] / 1e6:.1f} MB, initramfs {sizes['initramfs'] / 1e6:.1f} MB (uncompressed), "
          + (f"rootfs {sizes['rootfs'] / 1e6:.1f} MB (erofs), " if rootfs else "")
          + f"{len(manifest['packages'])} packages")
    failures = 0

    # 1. enclave-init loads every module (and mounts the root disk)
    with tempfile.TemporaryDirectory() as tmp:
        key = None
        if rootfs:
            key = os.path.join(tmp, "key")
            with open(key, "wb") as f:
                f.write(os.urandom(32))
        proc = qemu(manifest, initramfs, rootfs=rootfs, key=key)
        line, secs, seen = wait_for(proc, lambda l: "modules:" in l and "loaded" in l)
        mounted = None
        if rootfs and line is not None:
            mounted, msecs, more = wait_for(proc, lambda l: "system files are read-only" in l or "refusing" in l)
            seen += more
        stop(proc)
    if line is None:
        print("FAIL: enclave-init did not report its modules; console:\n  " + "\n  ".join(seen[-30:]))
        failures += 1
    elif " 0 failed" not in line:
        print(f"FAIL: {line}")
        failures += 1
    else:
        print(f"ok: {line.strip()} ({secs:.2f} s after QEMU started)")
    if rootfs:
        if mounted is None or "refusing" in mounted or not any("root filesystem: /dev/vda" in l for l in seen):
            print("FAIL: enclave-init did not mount the root filesystem disk; console:\n  "
                  + "\n  ".join(seen[-30:]))
            failures += 1
        else:
            print(f"ok: root filesystem mounted, {mounted.strip()} ({secs + msecs:.2f} s after QEMU started)")
        r = subprocess.run(["fsck.erofs", rootfs], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL: fsck.erofs: {r.stdout[-300:]}{r.stderr[-300:]}")
            failures += 1
        else:
            print("ok: fsck.erofs")
        print(f"{failures} failure(s)")
        return 1 if failures else 0

    # 2. the root filesystem as a workload sees it
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "ov"))
        with open(os.path.join(tmp, "ov", "init"), "w") as f:
            f.write(PROBE_INIT)
        os.chmod(os.path.join(tmp, "ov", "init"), 0o755)
        overlay = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "--owner", "0:0"], input=b"init\n",
                                 cwd=os.path.join(tmp, "ov"), capture_output=True, check=True).stdout
        combined = os.path.join(tmp, "probe.cpio")
        with open(combined, "wb") as out_f, open(initramfs, "rb") as in_f:
            while True:
                chunk = in_f.read(1 << 20)
                if not chunk:
                    break
                out_f.write(chunk)
            out_f.write(overlay)
        proc = qemu(manifest, combined)
        line, secs, seen = wait_for(proc, lambda l: l.startswith("CHECK done"))
        stop(proc)
    checks = {}
    for l in seen:
        if l.startswith("CHECK "):
            key, _, value = l[6:].partition(" ")
            checks[key] = value
    expect = {
        "child": '0 [1000, 1000, "/workspace"]',
        "agent": "agent /workspace agent",
        "workspace": "1000 1000 0o755",
        "tmp": "0 0o1777",
        "usr": "0 0",
        "pyc": "True",
    }
    if line is None:
        print("FAIL: the probe init did not finish; console:\n  " + "\n  ".join(seen[-30:]))
        failures += 1
    for key, want in expect.items():
        got = checks.get(key)
        if got is None or got.strip() != want:
            print(f"FAIL: {key}: got {got!r}, want {want!r}")
            failures += 1
        else:
            print(f"ok: {key} {got}")
    if line is not None:
        print(f"python {checks.get('python')}: probe init done {secs:.2f} s after QEMU started")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
