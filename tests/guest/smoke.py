#!/usr/bin/python3
"""Boots enclave-init as PID 1 in a real QEMU microvm and talks the guest
protocol to it over the virtio-serial port.

It packs a tiny initramfs (enclave-init as /init, a static busybox for the
workloads, the virtio modules and their load-order), boots Debian's cloud
kernel under QEMU (-M microvm, TCG or KVM, no network device), and checks:
Health over virtio-serial, an exec as uid 1000 with only `lo` in
/sys/class/net, a timeout that kills the workload's group, a garbage frame
answered with an error while the VM keeps serving, a host disconnect and
reconnect, and Shutdown powering the VM off.

Needs: the kernel package unpacked (dpkg -x linux-image-6.1.0-*-cloud-amd64),
busybox-static unpacked, cpio, qemu-system-x86_64, and /usr/bin/python3 with
python3-protobuf and python3-grpc-tools (the frame messages are generated
from proto/guest/v1/guest.proto at run time).

  /usr/bin/python3 tests/guest/smoke.py [--cache DIR] [--accel kvm|tcg]
  /usr/bin/python3 tests/guest/smoke.py --kernel-root DIR --busybox PATH

Without --kernel-root/--busybox it fetches both with `apt-get download`
(Debian's archive only) into --cache, once.
"""
import argparse
import glob
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Dependency order, from each module's "depends=" (see src/guest/system.c).
MODULES = [
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_console",
    "vsock",
    "vmw_vsock_virtio_transport_common",
    "vmw_vsock_virtio_transport",
    "qemu_fw_cfg",  # the channel key arrives as fw_cfg opt/org.enclave/key
]

SYNC_MARKER = b"\xff\xff\xff\xffENCLSYNC"

APPLETS = ["sh", "id", "cat", "ls", "sleep", "echo", "true", "false", "uname", "grep", "awk", "head", "wc", "ps",
           "setsid", "kill"]
KEY_FW_CFG = "/sys/firmware/qemu_fw_cfg/by_name/opt/org.enclave/key/raw"


def fetch_debs(cache):
    """Unpacks linux-image-cloud-amd64's kernel and busybox-static into cache."""
    os.makedirs(cache, exist_ok=True)
    kroot = os.path.join(cache, "kernel")
    bb = os.path.join(cache, "busybox", "bin", "busybox")
    if not glob.glob(os.path.join(kroot, "boot/vmlinuz-*")):
        deps = subprocess.run(["apt-cache", "depends", "linux-image-cloud-amd64"], check=True,
                              capture_output=True, text=True).stdout
        pkg = next(l.split(":", 1)[1].strip() for l in deps.splitlines()
                   if l.strip().startswith("Depends:") and "linux-image-" in l)
        subprocess.run(["apt-get", "download", "-q", pkg], cwd=cache, check=True)
        deb = glob.glob(os.path.join(cache, pkg + "_*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, kroot], check=True)
    if not os.path.exists(bb):
        subprocess.run(["apt-get", "download", "-q", "busybox-static"], cwd=cache, check=True)
        deb = glob.glob(os.path.join(cache, "busybox-static_*.deb"))[0]
        unpacked = tempfile.mkdtemp(dir=cache)
        subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
        # Only the binary is kept: the package's *.d directories would be
        # picked up by the Makefile's dependency-file search under build/.
        os.makedirs(os.path.dirname(bb), exist_ok=True)
        shutil.copy(os.path.join(unpacked, "bin/busybox"), bb)
        shutil.rmtree(unpacked)
    return kroot, bb


def generate_protocol(tmp):
    from grpc_tools import protoc
    out = os.path.join(tmp, "gen")
    os.makedirs(out)
    rc = protoc.main(["protoc", "-I" + os.path.join(REPO, "proto"), "--python_out=" + out,
                      os.path.join(REPO, "proto/guest/v1/guest.proto")])
    if rc != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from guest.v1 import guest_pb2
    return guest_pb2


def build_initramfs(tmp, init, kernel_root, busybox):
    root = os.path.join(tmp, "root")
    for d in ["bin", "dev", "proc", "sys", "tmp", "workspace", "lib/modules/enclave"]:
        os.makedirs(os.path.join(root, d))
    shutil.copy(init, os.path.join(root, "init"))
    shutil.copy(busybox, os.path.join(root, "bin/busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", applet))
    release = os.listdir(os.path.join(kernel_root, "lib/modules"))[0]
    for name in MODULES:
        found = glob.glob(os.path.join(kernel_root, "lib/modules", release, "kernel", "**", name + ".ko"),
                          recursive=True)
        if not found:
            sys.exit("module not found: " + name)
        shutil.copy(found[0], os.path.join(root, "lib/modules/enclave", name + ".ko"))
    with open(os.path.join(root, "lib/modules/enclave/load-order"), "w") as f:
        f.write("# written by tests/guest/smoke.py\n" + "\n".join(MODULES) + "\n")
    cpio = os.path.join(tmp, "init.cpio")
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    with open(cpio, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root, input=files,
                       stdout=out, check=True)
    return cpio


class Channel:
    def __init__(self, path, pb, key):
        self.pb = pb
        self.key = key
        self.path = path
        self.sock = None
        self.buf = b""

    def connect(self, deadline, key=True):
        """Dials (until deadline) and, unless key is False, proves the key:
        key=True sends the VM's key, bytes send those instead."""
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
                self.buf = b""
                # What a host does on every (re)connect: the guest may not have
                # seen the old connection go (src/wire/frame.h, sync marker).
                s.sendall(SYNC_MARKER)
                if key is not False:
                    self.hello(self.key if key is True else key)
                return
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def hello(self, key):
        """The first frame on every connection: the guest serves nothing before it."""
        self.send(self.pb.Frame(id=1 << 40, hello_request=self.pb.HelloRequest(key=key)))

    def silent(self, timeout):
        """True when the guest sends nothing at all for timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return True

    def close(self):
        self.sock.close()
        self.sock = None

    def send(self, frame):
        body = frame.SerializeToString()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) >= 4 + n:
                    f = self.pb.Frame()
                    f.ParseFromString(self.buf[4:4 + n])
                    self.buf = self.buf[4 + n:]
                    return f
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("guest channel closed")
            self.buf += chunk

    def call(self, frame, timeout=60):
        self.send(frame)
        while True:
            f = self.recv(timeout)
            if f.WhichOneof("body") == "hello_response":
                continue
            if f.id == frame.id and f.WhichOneof("body") != "exec_output":
                return f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel-root", help="directory the kernel .deb was unpacked into")
    ap.add_argument("--busybox", help="a static busybox binary")
    ap.add_argument("--cache", default=os.path.join(REPO, "build/guest-smoke"),
                    help="where fetched packages go (default build/guest-smoke)")
    ap.add_argument("--init", default=os.path.join(REPO, "build/enclave-init"))
    ap.add_argument("--accel", default="tcg", choices=["tcg", "kvm"])
    ap.add_argument("--boot-timeout", type=float, default=60)
    args = ap.parse_args()
    if not args.kernel_root or not args.busybox:
        kroot, bb = fetch_debs(args.cache)
        args.kernel_root = args.kernel_root or kroot
        args.busybox = args.busybox or bb

    tmp = tempfile.mkdtemp(prefix="enclave-smoke-")
    qemu = None
    ok = False
    try:
        pb = generate_protocol(tmp)
        cpio = build_initramfs(tmp, args.init, args.kernel_root, args.busybox)
        kernel = glob.glob(os.path.join(args.kernel_root, "boot/vmlinuz-*"))[0]
        sock = os.path.join(tmp, "rpc.sock")
        # The VM's channel key, as the driver makes it: a 0600 file QEMU reads.
        key = os.urandom(32)
        key_file = os.path.join(tmp, "channel.key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, key)
        os.close(fd)
        console = open(os.path.join(tmp, "console.log"), "wb")
        cmd = ["timeout", str(int(args.boot_timeout) + 60), "qemu-system-x86_64",
               "-M", "microvm,acpi=on,pit=on,rtc=on", "-accel", args.accel, "-m", "256",
               "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
               "-serial", "stdio", "-kernel", kernel, "-initrd", cpio,
               "-append", "console=ttyS0 panic=-1 tsc_early_khz=2000000 lpj=4000000 rdinit=/init",
               "-device", "virtio-serial-device",
               "-chardev", "socket,id=rpc,path=%s,server=on,wait=off" % sock,
               "-device", "virtserialport,chardev=rpc,name=org.enclave.rpc",
               "-fw_cfg", "name=opt/org.enclave/key,file=%s" % key_file,
               "-no-reboot"]
        started = time.monotonic()
        # Its own process group, so that QEMU itself (not just `timeout`)
        # goes when the test ends, however it ends.
        qemu = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        ch = Channel(sock, pb, key)
        ch.connect(started + args.boot_timeout)

        def health(i):
            return ch.call(pb.Frame(id=i, health_request=pb.HealthRequest()), timeout=args.boot_timeout)

        h = health(1)
        assert h.WhichOneof("body") == "health_response", h
        print("health after %.2f s: kernel %s, transports %s" % (
            time.monotonic() - started, h.health_response.kernel_release, list(h.health_response.transports)))
        assert "virtio-serial" in h.health_response.transports

        # A host that does not prove the key is served nothing: no answer at
        # all (the port cannot be closed by the guest; it ignores the host
        # until the host reconnects).
        for label, k in (("no HelloRequest", False), ("a wrong key", bytes(32)), ("a short key", key[:31])):
            ch.close()
            ch.connect(time.monotonic() + 30, key=k)
            ch.send(pb.Frame(id=90, health_request=pb.HealthRequest()))
            assert ch.silent(3), "the guest answered a host with " + label
            print("%s: nothing served" % label)
        ch.close()
        ch.connect(time.monotonic() + 30)
        assert health(91).WhichOneof("body") == "health_response"

        def sh(i, script, **kw):
            return ch.call(pb.Frame(id=i, exec_request=pb.ExecRequest(argv=["/bin/sh", "-c", script], **kw)))

        t = time.monotonic()
        r = sh(2, "id -u; id -g; ls /sys/class/net; pwd; cat /proc/self/status | grep -E '^(NoNewPrivs|Seccomp):'")
        assert r.WhichOneof("body") == "exec_response", r
        out = r.exec_response.stdout.decode()
        print("exec (%.3f s): %r" % (time.monotonic() - t, out))
        lines = out.split("\n")
        assert lines[0] == "1000" and lines[1] == "1000", out
        assert lines[2] == "lo", out  # no network device at all
        assert lines[3] == "/workspace", out

        # The key is not where uid 1000 can read it: the init unloaded the
        # fw_cfg module (its files were root-only 0400 before).
        r = sh(10, "cat %s >/dev/null 2>&1; echo $?; ls /sys/firmware" % KEY_FW_CFG)
        assert r.exec_response.stdout.split(b"\n")[0] != b"0", r
        assert b"qemu_fw_cfg" not in r.exec_response.stdout, r
        print("the channel key is gone from sysfs")

        # /tmp and /dev/shm are sized from the VM's memory, not tmpfs's
        # default of half of it each.
        r = sh(11, "grep MemTotal /proc/meminfo; grep -E ' /(tmp|dev/shm) ' /proc/mounts")
        text = r.exec_response.stdout.decode()
        mem_kb = int(text.split()[1])
        sizes = {}
        for line in text.splitlines()[1:]:
            fields = line.split()
            opts = dict(o.split("=", 1) for o in fields[3].split(",") if "=" in o)
            sizes[fields[1]] = int(opts["size"].rstrip("k"))
        assert sizes["/tmp"] <= mem_kb // 4 + 4 and sizes["/dev/shm"] <= mem_kb // 8 + 4, text
        print("tmpfs sizes (kB): %s of %d" % (sizes, mem_kb))

        r = sh(3, "sleep 1000 & sleep 1000", timeout_ms=500)
        assert r.exec_response.timed_out and r.exec_response.signal == 9, r
        print("timeout: killed after %.3f s" % (r.exec_response.duration_us / 1e6))

        r = sh(4, "exit 3")
        assert r.exec_response.exit_code == 3, r

        # A process that left the workload's process group (setsid) does not
        # outlive it either: once no exec runs, uid 1000 is swept.
        r = sh(8, "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!")
        escaped = int(r.exec_response.stdout)
        r = sh(9, "sleep 0.2; kill -0 %d 2>/dev/null; echo $?" % escaped)
        assert r.exec_response.stdout == b"1\n", r
        print("a setsid escapee was swept after its exec")

        ch.send_raw(b"\x00\x00\x00\x07garbage")
        e = ch.recv(30)
        assert e.WhichOneof("body") == "error" and e.id == 0, e
        print("garbage frame answered: %s" % e.error.message)
        assert health(5).WhichOneof("body") == "health_response"

        # A length over the limit: the port drops input until a sync marker
        # (or a reconnect, which also sends one).
        ch.send_raw(b"\xff\xff\xff\xf0")
        e = ch.recv(30)
        assert e.WhichOneof("body") == "error" and e.error.code == pb.ErrorResponse.CODE_TOO_LARGE, e
        ch.send(pb.Frame(id=50, health_request=pb.HealthRequest()))  # dropped
        ch.send_raw(SYNC_MARKER)
        ch.hello(key)  # a sync marker starts a new connection: the key again
        r = health(51)
        assert r.WhichOneof("body") == "health_response", r
        print("back in step after a sync marker")
        ch.send_raw(b"\xff\xff\xff\xf0")
        e = ch.recv(30)
        assert e.WhichOneof("body") == "error" and e.error.code == pb.ErrorResponse.CODE_TOO_LARGE, e
        ch.close()
        ch.connect(time.monotonic() + 30)
        t = time.monotonic()
        assert health(6).WhichOneof("body") == "health_response"
        print("reconnected; health answered after %.3f s" % (time.monotonic() - t))

        r = ch.call(pb.Frame(id=7, shutdown_request=pb.ShutdownRequest(poweroff=True)))
        assert r.WhichOneof("body") == "shutdown_response", r
        rc = qemu.wait(timeout=30)
        print("powered off; qemu exited with %d" % rc)
        ok = True
    finally:
        if qemu:
            try:
                os.killpg(qemu.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            qemu.wait()
        log = os.path.join(tmp, "console.log")
        if not ok and os.path.exists(log):
            sys.stdout.write(open(log, errors="replace").read()[-4000:])
        elif os.path.exists(log):
            for line in open(log, errors="replace"):
                if "enclave-init" in line:
                    sys.stdout.write("console: " + line)
        shutil.rmtree(tmp, ignore_errors=True)
    print("smoke: OK" if ok else "smoke: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
