#!/usr/bin/python3
"""bench-vm-memory: where the memory of one idle VM goes, by mapping.

Starts a real daemon with a warm pool of one VM (`enclave up --pool 1
--restore off`), waits until the pool VM is ready and has been idle for
--settle seconds (the guest's idle trim runs 5 s after boot, and free page
reporting hands the freed memory back a few seconds later), and prints its
VMM's VmRSS, PSS and USS (/proc/PID/smaps_rollup) and the resident memory of
its mappings (/proc/PID/smaps) in groups:

  guest RAM        the mapping of the VM's memory size (-m): every page the
                   guest touched and has not handed back
  TCG code cache   the executable anonymous mapping (TCG's translation
                   cache, -accel tcg,tb-size=N); none under KVM
  QEMU's kernel    an anonymous mapping of the kernel file's size (QEMU keeps
                   the bzImage for the firmware's fw_cfg)
  other anonymous  QEMU's heaps (the vCPU thread's malloc arena holds TCG's
                   per-block metadata and the software TLB), thread stacks
  files            QEMU's binary and libraries, the mapped initramfs: shared
                   by every VMM (PSS splits them)

With --restore it then does the same for a VM restored from the snapshot
(`enclave up --pool 0 --restore on`, one StartSession). With --calls N the
pool VM is claimed and N python tool calls (1 s apart) are timed first.
--env NAME=VALUE (repeatable) goes into the daemon's environment, and so into
QEMU's (ENCLAVE_CHANNEL_PCI=0, ENCLAVE_TCG_TB_MB=32, MALLOC_ARENA_MAX=1, ...),
so that two runs compare one setting in the same conditions. It asserts
nothing; the numbers vary by a few MiB from boot to boot.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_bench as db  # noqa: E402


def smaps(pid):
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts[0].endswith(":") and "-" in parts[0]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = {"kib": (hi - lo) >> 10, "perm": parts[1], "name": parts[5] if len(parts) > 5 else ""}
                maps.append(cur)
            elif parts[0] == "Rss:" and cur is not None:
                cur["rss"] = int(parts[1])
    return maps


def group_of(m, mem_mb, kernel_kib):
    if m["name"].startswith("/"):
        return "files (shared)"
    if m["name"]:
        return "other anonymous"  # [heap], [stack], ...
    if m["kib"] == mem_mb * 1024:
        return "guest RAM"
    if "x" in m["perm"]:
        return "TCG code cache"
    if kernel_kib and abs(m["kib"] - kernel_kib) <= 64:  # the bzImage less its setup sectors
        return "QEMU's kernel"
    return "other anonymous"


def report(label, pid, mem_mb, kernel_kib, verbose):
    rss, pss, _, uss = db.vmm_mem(pid)
    print(f"{label}: VmRSS {rss:.1f} MiB, PSS {pss:.1f}, USS {uss:.1f}", flush=True)
    totals = {}
    for m in smaps(pid):
        g = group_of(m, mem_mb, kernel_kib)
        totals[g] = totals.get(g, 0) + m.get("rss", 0)
        if verbose and m.get("rss", 0) >= 256 and not m["name"].startswith("/"):
            print(f"    mapping {m['kib'] / 1024:7.1f} MiB {m['perm']} {m['name'] or '(anonymous)':<12}"
                  f" resident {m['rss'] / 1024:6.1f} MiB  -> {g}")
    for g in ("guest RAM", "TCG code cache", "QEMU's kernel", "other anonymous", "files (shared)"):
        print(f"  {g:<18} {totals.get(g, 0) / 1024:7.1f} MiB", flush=True)


def kernel_kib(image_home):
    try:
        folder = os.path.realpath(os.path.join(image_home, "cache", "current"))
        with open(os.path.join(folder, "manifest.json")) as f:
            m = json.load(f)
        size = next(a["size"] for a in m["artifacts"] if a["role"] == "kernel")
        return (size + 4095) // 4096 * 4
    except (OSError, ValueError, StopIteration, KeyError):
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--enclave", default=os.path.join(db.ROOT, "build", "enclave"))
    ap.add_argument("--image-home", default=os.path.join(db.ROOT, "build", "e2e-home"))
    ap.add_argument("--settle", type=float, default=20.0, help="idle seconds before reading (default 20)")
    ap.add_argument("--mem", type=int, default=512, help="the daemon's default VM memory in MiB (default 512)")
    ap.add_argument("--calls", type=int, default=0, help="python tool calls on the claimed pool VM")
    ap.add_argument("--restore", action="store_true", help="a restored VM too")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("-v", "--verbose", action="store_true", help="every resident mapping")
    args = ap.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    kkib = kernel_kib(args.image_home)
    print(f"bench-vm-memory: load {os.getloadavg()[0]:.2f}, environment {env or '{}'}", flush=True)
    d = db.Daemon(args.enclave, args.image_home, ["--pool", "1", "--mem", str(args.mem)], env=env)
    try:
        d.start()
        t0 = time.perf_counter()
        db.pool_ready(d)
        print(f"pool VM ready {db.ms_since(t0) / 1000:.1f} s after the daemon answered", flush=True)
        time.sleep(args.settle)
        report(f"idle pool VM, {args.settle:.0f} s after ready", db.vmm_pids(d.home)[0], args.mem, kkib,
               args.verbose)
        if args.calls:
            db.start_session(d, "vm-memory")
            times = []
            for _ in range(args.calls):
                time.sleep(1.0)
                t0 = time.perf_counter()
                r = d.call("ExecuteTool", {"sessionId": "vm-memory", "toolName": "python",
                                           "input": "print(1)", "timeoutSeconds": 30})
                times.append(db.ms_since(t0))
                db.check_exec(r, "python")
            times.sort()
            print(f"  python tool round trip: median {times[len(times) // 2]:.1f} ms "
                  f"(min {times[0]:.1f}, max {times[-1]:.1f}, n={len(times)})", flush=True)
    finally:
        d.stop()
    if not args.restore:
        return
    d = db.Daemon(args.enclave, args.image_home, ["--pool", "0", "--restore", "on", "--mem", str(args.mem)],
                  env=env)
    try:
        d.start()
        meta = db.snapshot_meta(d)
        ms = db.start_session(d, "vm-memory-restored")
        print(f"snapshot {meta['size'] / 1048576:.1f} MiB; StartSession to READY, restored: {ms:.0f} ms",
              flush=True)
        time.sleep(args.settle)
        report(f"idle restored VM, {args.settle:.0f} s after ready", db.vmm_pids(d.home)[0], args.mem, kkib,
               args.verbose)
    finally:
        d.stop()


if __name__ == "__main__":
    main()
