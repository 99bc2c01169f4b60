#!/usr/bin/python3
"""Pull throughput of `enclave image pull` from a local docker-registry, next
to skopeo's for the same ~50 MB image in the same run. Prints numbers only."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oci"))
from conftest import ENCLAVE, Registry, make_local_image  # noqa: E402

RUNS = 3


def timed(cmd, env=None):
    t = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t


def main():
    tmp = tempfile.mkdtemp(prefix="enclave-bench-oci-")
    reg = Registry(tmp)
    try:
        folder = os.path.join(tmp, "image")
        files = make_local_image(folder, kernel_size=10 << 20, initramfs_size=40 << 20,
                                 seed=os.urandom(8))
        size = sum(len(v) for v in files.values())
        ref = "%s/bench/guest:v1" % reg.host
        env = dict(os.environ, ENCLAVE_HOME=os.path.join(tmp, "push-home"))
        subprocess.run([ENCLAVE, "image", "push", "--quiet", "--from", folder, ref], check=True,
                       env=env, stdout=subprocess.DEVNULL)
        results = {"enclave image pull": [], "skopeo copy": []}
        for i in range(RUNS):
            home = os.path.join(tmp, "home-%d" % i)
            env = dict(os.environ, ENCLAVE_HOME=home)
            results["enclave image pull"].append(
                timed([ENCLAVE, "image", "pull", "--quiet", ref], env))
            out = os.path.join(tmp, "skopeo-%d" % i)
            results["skopeo copy"].append(timed(
                ["skopeo", "--insecure-policy", "copy", "--all", "--src-tls-verify=false",
                 "docker://" + ref, "oci:" + out + ":v1"]))
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
        print("bench-oci: pull of a %.1f MB image (2 layers) from docker-registry on 127.0.0.1, %d runs"
              % (size / 1e6, RUNS))
        for name, times in results.items():
            best = min(times)
            print("  %-20s best %.3f s  %7.1f MB/s   (runs: %s)" % (
                name, best, size / 1e6 / best, ", ".join("%.3f" % t for t in times)))
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
