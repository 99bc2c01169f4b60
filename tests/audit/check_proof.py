#!/usr/bin/python3
"""Independent check of an `enclave audit proof` / `enclave audit
consistency` document, with rfc6962.py and the public key only.

    check_proof.py PUBKEY.pem PROOF.json

Prints "OK: ..." (exit 0) or "FAIL: reason" (exit 1).
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfc6962  # noqa: E402


def check(pub, doc):
    if doc.get("type") == "inclusion_proof":
        _, size, root, _ = rfc6962.open_checkpoint(doc["checkpoint"], pub)
        if size != doc["tree_size"]:
            raise ValueError("checkpoint size differs from tree_size")
        leaf = base64.b64decode(doc["leaf"], validate=True)
        record = rfc6962.decode_leaf(leaf)
        if record["seq"] != doc["leaf_index"] + 1:
            raise ValueError("the leaf is record %d, not %d" % (record["seq"],
                                                                 doc["leaf_index"] + 1))
        if "record" in doc:
            for k, v in record.items():
                if doc["record"].get(k) != v:
                    raise ValueError("the record shown differs from the leaf in %s" % k)
        path = [bytes.fromhex(h) for h in doc["hashes"]]
        if not rfc6962.verify_inclusion(doc["leaf_index"], size, rfc6962.leaf_hash(leaf), path,
                                        root):
            raise ValueError("the inclusion proof does not lead to the signed root")
        return "record %d is in the signed tree of %d records" % (record["seq"], size)
    if doc.get("type") == "consistency_proof":
        _, n, new_root, _ = rfc6962.open_checkpoint(doc["new_checkpoint"], pub)
        m = doc["old_size"]
        if n != doc["new_size"]:
            raise ValueError("new checkpoint size differs from new_size")
        if "old_checkpoint" in doc:
            _, size, old_root, _ = rfc6962.open_checkpoint(doc["old_checkpoint"], pub)
            if size != m:
                raise ValueError("old checkpoint size differs from old_size")
        else:
            old_root = bytes.fromhex(doc["old_root_hash"])
        proof = [bytes.fromhex(h) for h in doc["hashes"]]
        if not rfc6962.verify_consistency(m, n, old_root, new_root, proof):
            raise ValueError("the consistency proof does not verify")
        return "the tree of %d records extends the tree of %d" % (n, m)
    raise ValueError("not a proof")


def main():
    with open(sys.argv[1], "rb") as f:
        pub = load_pem_public_key(f.read())
    try:
        with open(sys.argv[2], encoding="utf-8") as f:
            doc = json.load(f)
        print("OK: " + check(pub, doc))
        return 0
    except (ValueError, KeyError, TypeError, UnicodeError) as e:
        print("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
