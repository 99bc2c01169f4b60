#!/usr/bin/python3
"""Independent verifier for an Enclave audit export (JSON lines).

Written from docs/audit.md alone, with hashlib and cryptography (and the
RFC 6962 tree and signed notes of rfc6962.py beside it), sharing no code
with the C verifier; tests/audit/cli_test.sh runs both on the same
files and expects the same verdict. Usage:

    verify_export.py PUBKEY.pem EXPORT.jsonl

Prints "OK: N records, M checkpoints, head H" (exit 0) or
"FAIL at seq N: reason" (exit 1).
"""
import base64
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfc6962  # noqa: E402


def lp(text):
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def record_hash(r):
    m = lp("enclave-audit-record-v1")
    m += struct.pack(">Q", r["seq"]) + struct.pack(">q", r["time_ns"])
    for field in ("session", "kind", "bundle_digest", "input_digest", "decision",
                  "reasons", "details", "prev_hash"):
        m += lp(r[field])
    return hashlib.sha256(m).hexdigest()


def checkpoint_message(c):
    return (lp("enclave-audit-checkpoint-v1") + struct.pack(">Q", c["seq"])
            + struct.pack(">q", c["time_ns"]) + lp(c["head_hash"]))


def verify(pub, lines):
    records, checkpoints = [], []
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry["type"] == "record":
            records.append(entry)
        elif entry["type"] == "checkpoint":
            checkpoints.append(entry)
    failures = []  # (seq, reason); the smallest seq is reported
    hashes = {}
    tree = rfc6962.Tree()
    prev = "0" * 64
    for expected, r in enumerate(records, start=1):
        if r["seq"] != expected:
            failures.append((expected, "record %d is missing" % expected))
            break
        if record_hash(r) != r["hash"]:
            failures.append((expected, "record %d does not match its hash" % expected))
            break
        if r["prev_hash"] != prev:
            failures.append((expected, "record %d does not link to the one before" % expected))
            break
        leaf = rfc6962.leaf_hash(rfc6962.record_leaf(r))
        if "leaf_hash" in r and r["leaf_hash"] != leaf.hex():
            failures.append((expected, "record %d does not match its leaf_hash" % expected))
            break
        tree.append(leaf)
        hashes[expected] = prev = r["hash"]
    verified = len(hashes)
    for c in checkpoints:
        try:
            pub.verify(base64.b64decode(c["signature"]), checkpoint_message(c))
        except (InvalidSignature, ValueError):
            failures.append((c["seq"], "checkpoint signature at seq %d does not verify" % c["seq"]))
            continue
        if c["seq"] > verified and not failures:
            failures.append((verified + 1, "record %d is missing: a checkpoint covers it"
                             % (verified + 1)))
        elif c["seq"] in hashes and hashes[c["seq"]] != c["head_hash"]:
            failures.append((c["seq"], "checkpoint at seq %d names another head" % c["seq"]))
        elif "note" in c or "root_hash" in c:
            try:
                _, size, root, ext = rfc6962.open_checkpoint(c["note"], pub)
            except (KeyError, ValueError) as e:
                failures.append((c["seq"], "checkpoint at seq %d: %s" % (c["seq"], e)))
                continue
            if size != c["seq"] or ext != ["time_ns %d" % c["time_ns"]] \
                    or root.hex() != c["root_hash"]:
                failures.append((c["seq"], "checkpoint at seq %d: note names another size, "
                                 "time or root" % c["seq"]))
            elif c["seq"] in hashes and tree.root(c["seq"]) != root:
                failures.append((c["seq"], "checkpoint at seq %d: another tree root" % c["seq"]))
    if failures:
        seq, reason = min(failures, key=lambda f: f[0])
        return False, "FAIL at seq %d: %s" % (seq, reason)
    return True, "OK: %d records, %d checkpoints, head %s, root %s" % (
        verified, len(checkpoints), prev, tree.root().hex())


def main():
    with open(sys.argv[1], "rb") as f:
        pub = load_pem_public_key(f.read())
    with open(sys.argv[2], encoding="utf-8") as f:
        ok, message = verify(pub, f.readlines())
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
