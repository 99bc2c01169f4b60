#!/usr/bin/python3
"""Enclave's RFC 6962 tree, checked by an independent implementation.

Runs merkle-vectors (the C tree code) on random leaves and checks, with
rfc6962.py (written from RFC 6962 2.1 and RFC 9162 2.1.3/2.1.4, sharing no
code with the C side), for every tree size 1..N: the root; the inclusion
proof of every leaf (equal to PATH, and verifying); the consistency proof
from every smaller size (equal to PROOF, and verifying); and that tampering
with the leaf, any proof hash, the root, the index or a size makes the check
fail.

    merkle_test.py MERKLE_VECTORS_BIN [N [SEED]]
"""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfc6962  # noqa: E402

import json  # noqa: E402


def flip(h, bit):
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def main():
    binary = sys.argv[1]
    n_max = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rnd = random.Random(seed)
    out = subprocess.run([binary, str(n_max), str(seed)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    leaves = [bytes.fromhex(x) for x in json.loads(out[0])["leaves"]]
    tree = rfc6962.Tree(rfc6962.leaf_hash(b) for b in leaves)
    assert len(leaves) == n_max
    # Known answers (RFC 6962 2.1): the empty tree and the empty leaf.
    assert rfc6962.Tree().root().hex() == \
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert rfc6962.leaf_hash(b"").hex() == \
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    # The eight-leaf tree of Certificate Transparency's RFC 6962 test data.
    ct = rfc6962.Tree(rfc6962.leaf_hash(x) for x in [
        b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
        bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))])
    assert [ct.root(n).hex()[:16] for n in range(1, 9)] == [
        "6e340b9cffb37a98", "fac54203e7cc696c", "aeb6bcfe274b70a1", "d37ee418976dd957",
        "4e3bbb1f7b478dcf", "76e67dadbcdf1e10", "ddb89be403809e32", "5dc9da79a70659a9"]
    roots = {}
    counts = {"root": 0, "inclusion": 0, "consistency": 0, "tampered": 0}
    for line in out[1:]:
        e = json.loads(line)
        n = e["n"]
        if "root" in e:
            root = bytes.fromhex(e["root"])
            assert root == tree.root(n), "root of %d leaves differs" % n
            roots[n] = root
            counts["root"] += 1
        elif "path" in e:
            i = e["i"]
            path = [bytes.fromhex(h) for h in e["path"]]
            lh = tree.leaves[i]
            assert path == tree.inclusion_proof(i, n), "PATH(%d, D[%d]) differs" % (i, n)
            assert rfc6962.verify_inclusion(i, n, lh, path, roots[n]), \
                "inclusion %d in %d does not verify" % (i, n)
            counts["inclusion"] += 1
            # Tampering: every hash for small trees, a random one for big ones.
            targets = range(len(path)) if n <= 40 else \
                ([rnd.randrange(len(path))] if path else [])
            for k in targets:
                bad = list(path)
                bad[k] = flip(bad[k], rnd.randrange(256))
                assert not rfc6962.verify_inclusion(i, n, lh, bad, roots[n])
                counts["tampered"] += 1
            assert not rfc6962.verify_inclusion(i, n, flip(lh, rnd.randrange(256)), path,
                                                roots[n])
            assert not rfc6962.verify_inclusion(i, n, lh, path, flip(roots[n], 7))
            if n > 1:
                other = (i + 1 + rnd.randrange(n - 1)) % n
                assert not rfc6962.verify_inclusion(other, n, lh, path, roots[n]), \
                    "leaf %d verified at index %d of %d" % (i, other, n)
            assert not rfc6962.verify_inclusion(i, n, lh, path + [lh], roots[n])
            if path:
                assert not rfc6962.verify_inclusion(i, n, lh, path[:-1], roots[n])
            counts["tampered"] += 4
        else:
            m = e["m"]
            proof = [bytes.fromhex(h) for h in e["proof"]]
            assert proof == tree.consistency_proof(m, n), "PROOF(%d, D[%d]) differs" % (m, n)
            assert rfc6962.verify_consistency(m, n, roots[m], roots[n], proof), \
                "consistency %d -> %d does not verify" % (m, n)
            counts["consistency"] += 1
            targets = range(len(proof)) if n <= 40 else \
                ([rnd.randrange(len(proof))] if proof else [])
            for k in targets:
                bad = list(proof)
                bad[k] = flip(bad[k], rnd.randrange(256))
                assert not rfc6962.verify_consistency(m, n, roots[m], roots[n], bad)
                counts["tampered"] += 1
            if m < n:
                assert not rfc6962.verify_consistency(m, n, flip(roots[m], 1), roots[n], proof)
                assert not rfc6962.verify_consistency(m, n, roots[m], flip(roots[n], 1), proof)
                # The same proof does not pass for another old size.
                if m > 1 and roots[m - 1] != roots[m]:
                    assert not rfc6962.verify_consistency(m - 1, n, roots[m - 1], roots[n], proof)
                counts["tampered"] += 3
    assert counts["root"] == n_max
    assert counts["inclusion"] == n_max * (n_max + 1) // 2
    assert counts["consistency"] == n_max * (n_max + 1) // 2
    print("ok: tree sizes 1..%d: %d roots, %d inclusion and %d consistency proofs agree with "
          "RFC 6962; %d tampered proofs rejected" % (n_max, counts["root"], counts["inclusion"],
                                                     counts["consistency"], counts["tampered"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
