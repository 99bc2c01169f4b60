"""The VMM process holds nothing it does not need: a real daemon, a real QEMU.

As root (CI, these machines) the daemon must be told --allow-root, and QEMU
then runs as the unprivileged VMM user; that user cannot open the audit key,
the audit database or the trust store."""
import os
import pwd
import subprocess
import tempfile

import pytest

from conftest import ENCLAVE, vmm_pids

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon runs as root only here")


def proc_ids(pid):
    """(uids, gids, groups) of a process, from /proc/<pid>/status."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return ([int(x) for x in fields["Uid"]], [int(x) for x in fields["Gid"]],
            [int(x) for x in fields.get("Groups", [])])


def try_open_as(uid, gid, groups, path):
    """Opens path for reading in a child that holds exactly the given ids;
    returns "opened" or the error's name."""
    code = ("import os, sys\n"
            "os.setgroups([int(g) for g in sys.argv[4:]])\n"
            "os.setresgid(int(sys.argv[2]), int(sys.argv[2]), int(sys.argv[2]))\n"
            "os.setresuid(int(sys.argv[1]), int(sys.argv[1]), int(sys.argv[1]))\n"
            "try:\n"
            "    open(sys.argv[3], 'rb').read(1); print('opened')\n"
            "except OSError as e:\n"
            "    print(type(e).__name__)\n")
    p = subprocess.run(["/usr/bin/python3", "-c", code, str(uid), str(gid), path,
                        *[str(g) for g in groups]], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().strip()


@ROOT_ONLY
def test_vmm_runs_unprivileged_and_cannot_read_keys_or_audit(daemon):
    sid = daemon.start_session(sessionId="e2e-vmm-user")["sessionId"]
    try:
        marker = os.path.join(daemon.home, "run", "vms", sid)
        pids = vmm_pids(marker)
        assert len(pids) == 1
        uids, gids, groups = proc_ids(pids[0])
        assert 0 not in uids, f"QEMU runs with uid 0 among {uids}"
        assert 0 not in gids, f"QEMU runs with gid 0 among {gids}"
        assert 0 not in groups
        name = pwd.getpwuid(uids[0]).pw_name
        assert name in ("enclave-vmm", "nobody"), name
        # The VM works all the same.
        assert daemon.python(sid, "print(6*7)")["output"] == "42\n"

        secrets = [os.path.join(daemon.home, "keys", "audit.key"),
                   os.path.join(daemon.home, "audit", "audit.db")]
        trust = os.path.join(daemon.home, "trust")
        os.makedirs(trust, exist_ok=True)
        with open(os.path.join(trust, "registry.pub"), "w") as f:
            f.write("a trusted key\n")
        secrets.append(os.path.join(trust, "registry.pub"))
        for path in secrets:
            assert os.path.exists(path), path
            # Root can: the refusal below is the VMM user's, not a missing file.
            assert try_open_as(0, 0, [], path) == "opened"
            assert try_open_as(uids[0], gids[0], groups, path) == "PermissionError", path
        # What the VMM does need stays reachable through its run folder.
        assert os.stat(marker).st_gid == gids[0]
    finally:
        daemon.stop_session(sid)


@ROOT_ONLY
def test_root_is_refused_without_allow_root():
    home = tempfile.mkdtemp(prefix="enclave-e2e-root-")
    try:
        p = subprocess.run([ENCLAVE, "up", "--listen", "127.0.0.1:1"],
                           env=dict(os.environ, ENCLAVE_HOME=home), capture_output=True,
                           timeout=60)
        assert p.returncode != 0
        assert b"refusing to run as root" in p.stderr, p.stderr
        assert b"--allow-root" in p.stderr
        assert os.listdir(home) == [], "a refused start must change nothing"
        # --detach reports the same refusal to the caller.
        p = subprocess.run([ENCLAVE, "up", "--listen", "127.0.0.1:1", "--detach"],
                           env=dict(os.environ, ENCLAVE_HOME=home), capture_output=True,
                           timeout=60)
        assert p.returncode != 0
        assert b"refusing to run as root" in p.stderr, p.stderr
    finally:
        subprocess.run(["rm", "-rf", home])
