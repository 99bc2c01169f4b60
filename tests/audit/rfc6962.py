"""RFC 6962 Merkle trees and C2SP signed-note checkpoints, in plain Python.

Written from RFC 6962 section 2.1 (MTH, PATH, PROOF, SUBPROOF as defined
there, recursively), RFC 9162 sections 2.1.3.2 and 2.1.4.2 (checking a proof
with nothing but the proof), c2sp.org/signed-note and c2sp.org/tlog-checkpoint,
and docs/audit.md for Enclave's leaf bytes. It shares no code with the C side
(src/audit/); the tests run both and expect the same answers.
"""
import base64
import hashlib
import struct


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(leaf_bytes):
    return sha256(b"\x00" + leaf_bytes)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """MTH over a list of leaf hashes, with the perfect subtrees memoized so
    that the root of every prefix costs O(log^2 n) after the first."""

    def __init__(self, leaves=None):
        self.leaves = list(leaves or [])
        self.memo = {}

    def append(self, h):
        self.leaves.append(h)

    def mth(self, lo, hi):
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n == 1:
            return self.leaves[lo]
        perfect = n & (n - 1) == 0
        if perfect and (lo, hi) in self.memo:
            return self.memo[(lo, hi)]
        k = split(n)
        h = node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
        if perfect:
            self.memo[(lo, hi)] = h
        return h

    def root(self, n=None):
        return self.mth(0, len(self.leaves) if n is None else n)

    def path(self, m, lo, hi):
        """PATH(m, D[lo:hi]), m relative to lo; bottom-up."""
        n = hi - lo
        if n <= 1:
            return []
        k = split(n)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, b):
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = split(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]

    def inclusion_proof(self, index, n):
        return self.path(index, 0, n)

    def consistency_proof(self, m, n):
        return [] if m == n else self.subproof(m, 0, n, True)


def verify_inclusion(index, size, lhash, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, lhash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, old_root, new_root, proof):
    """RFC 9162 2.1.4.2."""
    if m == 0 or m > n:
        return False
    if m == n:
        return not proof and old_root == new_root
    if not proof:
        return False
    if m & (m - 1) == 0:
        proof = [old_root] + list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# ---------------------------------------------------------------- Enclave's leaves

def lp(text):
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


RECORD_FIELDS = ("session", "kind", "bundle_digest", "input_digest", "decision",
                 "reasons", "details", "prev_hash")


def record_leaf(r):
    """The canonical leaf bytes of a record object (docs/audit.md)."""
    m = lp("enclave-audit-record-v1")
    m += struct.pack(">Q", r["seq"]) + struct.pack(">q", r["time_ns"])
    for field in RECORD_FIELDS:
        m += lp(r[field])
    return m


def decode_leaf(data):
    """The inverse of record_leaf; raises ValueError on bytes it cannot be."""
    def take_lp(pos):
        if pos + 4 > len(data):
            raise ValueError("short leaf")
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        if pos + 4 + n > len(data):
            raise ValueError("short leaf")
        return data[pos + 4:pos + 4 + n].decode("utf-8"), pos + 4 + n
    tag, pos = take_lp(0)
    if tag != "enclave-audit-record-v1" or pos + 16 > len(data):
        raise ValueError("not an enclave record leaf")
    seq, time_ns = struct.unpack(">Qq", data[pos:pos + 16])
    pos += 16
    r = {"seq": seq, "time_ns": time_ns}
    for field in RECORD_FIELDS:
        r[field], pos = take_lp(pos)
    if pos != len(data):
        raise ValueError("bytes after the last field")
    return r


# ---------------------------------------------------------------- signed notes

def note_key_hash(name, raw_public_key):
    return sha256(name.encode() + b"\n" + b"\x01" + raw_public_key)[:4]


def open_note(text, name, public_key):
    """Checks a signed note (c2sp.org/signed-note) with an Ed25519 key
    (cryptography's Ed25519PublicKey) and returns its body lines. Raises
    ValueError when it is malformed or not signed by that key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if not text.endswith("\n") or "\n\n" not in text:
        raise ValueError("malformed note")
    body, sigs = text.split("\n\n", 1)
    body += "\n"
    want = note_key_hash(name, raw)
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("malformed signature line")
        sig_name, b64 = line[2:].split(" ", 1)
        blob = base64.b64decode(b64, validate=True)
        if sig_name != name or blob[:4] != want or len(blob) != 68:
            continue
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise ValueError("note signature does not verify")
        return body.splitlines()
    raise ValueError("note not signed by this key")


def open_checkpoint(text, public_key):
    """A tlog-checkpoint (c2sp.org/tlog-checkpoint) signed by public_key:
    returns (origin, size, root bytes, extension lines)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    origin = "enclave.local/audit/" + sha256(raw).hex()[:16]
    lines = open_note(text, origin, public_key)
    if len(lines) < 3 or lines[0] != origin:
        raise ValueError("checkpoint origin is not this key's log")
    if not lines[1].isdigit() or (len(lines[1]) > 1 and lines[1][0] == "0"):
        raise ValueError("bad tree size")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("bad root")
    return origin, int(lines[1]), root, lines[3:]
