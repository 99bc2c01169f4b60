#!/usr/bin/python3
"""Runs the e2e test modules in JOBS pytest processes side by side (tests/e2e/run
calls this when given no pytest arguments, with E2E_JOBS, default 2).

Most of an e2e test's time is spent waiting: on a VM's boot and its Python
under TCG, on timeouts and heartbeats the tests provoke, on a fork server
coming back. Two processes on a two-core machine overlap those waits. Each
process has its own daemons, homes and ports (tests/e2e/conftest.py), so
the modules do not see each other.

Modules go to processes longest first, each to the process with the least
work so far (COST: seconds per module measured on a loaded two-core machine;
a module not listed counts as DEFAULT_COST). The first process prints as it
goes; the others' output follows when they end. The exit status is the first
failing process's (0 when all pass).

Usage: shards.py JOBS [pytest arguments...]
"""
import glob
import os
import subprocess
import sys
import tempfile

COST = {
    # pytest --durations (setup + call + teardown) per module, one process,
    # TCG, load about 7 on two cores
    "test_sessions.py": 273, "test_restore.py": 168, "test_rootfs.py": 163,
    "test_forkserver.py": 162, "test_image_variant.py": 132, "test_files_code.py": 113,
    "test_grpc.py": 93, "test_policy.py": 85, "test_stream.py": 82, "test_egress.py": 81,
    "test_pool.py": 75, "test_guest_system.py": 74, "test_lifetime.py": 73,
    "test_audit.py": 68, "test_vmm.py": 17, "test_auth.py": 14,
}
DEFAULT_COST = 60
# Modules that must run in the same process, one after the other: both run
# `enclave image build` in the shared image home, which one build at a time
# may do (the second would be refused).
TOGETHER = [("test_rootfs.py", "test_image_variant.py")]


def plan(modules, jobs):
    units = []
    for m in modules:
        name = os.path.basename(m)
        group = next((g for g in TOGETHER if name in g), None)
        unit = next((u for u in units if group and os.path.basename(u[0]) in group), None)
        if unit is None:
            units.append([m])
        else:
            unit.append(m)

    def cost(unit):
        return sum(COST.get(os.path.basename(m), DEFAULT_COST) for m in unit)

    shards = [[] for _ in range(jobs)]
    load = [0] * jobs
    for unit in sorted(units, key=lambda u: (-cost(u), u)):
        i = load.index(min(load))
        shards[i] += unit
        load[i] += cost(unit)
    return [sorted(s) for s in shards if s], load


def main():
    jobs = max(1, int(sys.argv[1]))
    extra = sys.argv[2:]
    here = os.path.dirname(os.path.abspath(__file__))
    modules = sorted(glob.glob(os.path.join(here, "test_*.py")))
    shards, load = plan(modules, jobs)
    cmd = ["/usr/bin/python3", "-m", "pytest", "-v", "-p", "no:cacheprovider", *extra]
    if len(shards) > 1:
        for i, s in enumerate(shards):
            print(f"e2e process {i + 1}/{len(shards)} (about {load[i]} s): "
                  + " ".join(os.path.basename(m) for m in s), flush=True)
    procs = []
    for i, s in enumerate(shards):
        if i == 0:
            out = None
        else:
            out = tempfile.TemporaryFile()
        procs.append((subprocess.Popen(cmd + s, stdout=out, stderr=subprocess.STDOUT if out else None), out))
    status = 0
    for i, (p, out) in enumerate(procs):
        rc = p.wait()
        if out is not None:
            print(f"\n---------------- e2e process {i + 1}/{len(procs)}", flush=True)
            out.seek(0)
            sys.stdout.buffer.write(out.read())
            sys.stdout.flush()
            out.close()
        if rc != 0:
            print(f"e2e process {i + 1}/{len(procs)} failed (pytest exit status {rc})", flush=True)
            status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
