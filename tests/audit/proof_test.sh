#!/bin/sh
# Proofs and the witness, end to end, on a scratch log: `enclave audit proof`,
# `consistency` and `verify-proof` against the independent Python checker
# (check_proof.py), tampering with every part of a proof, and the witness:
# a log truncated or rewritten after a witnessed checkpoint must fail
# `enclave audit verify --witness` at the right size.
#
#   tests/audit/proof_test.sh BUILD_DIR
set -eu

BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d /tmp/enclave-audit-proof-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
export ENCLAVE_HOME="$T/home"
DB="$T/log/audit.db"
PUB="$T/log/keys/audit.pub"
W="$T/witness/checkpoints.jsonl"

# 1000 records, a checkpoint every 100, each one also appended to the witness.
mkdir -p "$T/log" "$T/witness"
"$BENCH" --dir "$T/log" --appends 200 --verify-records 1000 --witness "$W" >/dev/null 2>&1
expect "the witness holds the 10 checkpoints" 0 "10" sh -c "wc -l < '$W'"
expect "verify --witness on the intact log" 0 "extends all 10 witnessed checkpoints" \
    "$ENCLAVE" audit verify --key "$PUB" --witness "$W" "$DB"

# Inclusion proofs: the C verifier and the Python one agree, for a few seqs.
for seq in 1 2 99 100 101 517 999 1000; do
    "$ENCLAVE" audit proof --db "$DB" "$seq" > "$T/p$seq.json"
    expect "proof $seq verifies (C)" 0 "OK: record $seq is in the signed tree of 1000" \
        "$ENCLAVE" audit verify-proof --key "$PUB" "$T/p$seq.json"
    expect "proof $seq verifies (Python)" 0 "OK: record $seq is in the signed tree of 1000" \
        "$PY" "$HERE/check_proof.py" "$PUB" "$T/p$seq.json"
done
"$ENCLAVE" audit proof --db "$DB" --size 300 42 > "$T/p42.json"
expect "proof against an older checkpoint" 0 "signed tree of 300" \
    "$PY" "$HERE/check_proof.py" "$PUB" "$T/p42.json"
expect "no checkpoint at that size" 1 "no signed checkpoint at tree size 250" \
    "$ENCLAVE" audit proof --db "$DB" --size 250 42
expect "a seq past the head" 1 "no signed checkpoint covers record 1001" \
    "$ENCLAVE" audit proof --db "$DB" 1001

# Tampering: every hash, the leaf, the record shown, the index, the size, and
# each line of the signed checkpoint. Both verifiers must refuse each.
"$PY" - "$T/p517.json" "$T/bad" <<'PYEOF'
import base64, json, sys
src, out = sys.argv[1], sys.argv[2]
doc = json.load(open(src))
cases = []
def add(name, d):
    cases.append(name)
    json.dump(d, open("%s-%s.json" % (out, name), "w"))
for i, h in enumerate(doc["hashes"]):
    d = json.loads(json.dumps(doc)); d["hashes"][i] = ("0" if h[0] != "0" else "1") + h[1:]
    add("hash%d" % i, d)
d = json.loads(json.dumps(doc)); d["hashes"] = d["hashes"][:-1]; add("short", d)
leaf = bytearray(base64.b64decode(doc["leaf"])); leaf[-1] ^= 1
d = json.loads(json.dumps(doc)); d["leaf"] = base64.b64encode(bytes(leaf)).decode(); add("leaf", d)
d = json.loads(json.dumps(doc)); d["record"]["decision"] = "deny"; add("record", d)
d = json.loads(json.dumps(doc)); d["leaf_index"] += 1; add("index", d)
d = json.loads(json.dumps(doc)); d["tree_size"] -= 1; add("size", d)
lines = doc["checkpoint"].split("\n")
for i, what in ((0, "origin"), (1, "cpsize"), (2, "root"), (3, "time"), (5, "signature")):
    l = list(lines)
    if i == 1:
        l[i] = str(int(l[i]) - 1)
    elif i == 2 or i == 5:
        l[i] = l[i][:-5] + ("A" if l[i][-5] != "A" else "B") + l[i][-4:]
    else:
        l[i] = l[i] + "0"
    d = json.loads(json.dumps(doc)); d["checkpoint"] = "\n".join(l); add(what, d)
open(out + "-list", "w").write("\n".join(cases) + "\n")
PYEOF
for c in $(cat "$T/bad-list"); do
    expect "tampered $c: C refuses" 1 "FAIL" "$ENCLAVE" audit verify-proof --key "$PUB" "$T/bad-$c.json"
    expect "tampered $c: Python refuses" 1 "FAIL" "$PY" "$HERE/check_proof.py" "$PUB" "$T/bad-$c.json"
done

# Consistency proofs.
for pair in "100 1000" "300 700" "333" "1000 1000" "1 100"; do
    set -- $pair
    "$ENCLAVE" audit consistency --db "$DB" "$@" > "$T/c.json"
    expect "consistency $pair (C)" 0 "OK: the signed tree of" \
        "$ENCLAVE" audit verify-proof --key "$PUB" "$T/c.json"
    expect "consistency $pair (Python)" 0 "OK: the tree of" \
        "$PY" "$HERE/check_proof.py" "$PUB" "$T/c.json"
done
"$ENCLAVE" audit consistency --db "$DB" 300 700 > "$T/c.json"
"$PY" - "$T/c.json" "$T/cbad" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1])); out = sys.argv[2]; names = []
for i, h in enumerate(doc["hashes"]):
    d = json.loads(json.dumps(doc)); d["hashes"][i] = ("0" if h[0] != "0" else "1") + h[1:]
    names.append("hash%d" % i); json.dump(d, open("%s-hash%d.json" % (out, i), "w"))
d = json.loads(json.dumps(doc)); d["old_size"] = 200; names.append("oldsize")
json.dump(d, open(out + "-oldsize.json", "w"))
d = json.loads(json.dumps(doc)); d["old_checkpoint"] = d["old_checkpoint"].replace("\n300\n", "\n301\n")
names.append("oldnote"); json.dump(d, open(out + "-oldnote.json", "w"))
open(out + "-list", "w").write("\n".join(names) + "\n")
PYEOF
for c in $(cat "$T/cbad-list"); do
    expect "tampered consistency $c: C refuses" 1 "FAIL" "$ENCLAVE" audit verify-proof --key "$PUB" "$T/cbad-$c.json"
    expect "tampered consistency $c: Python refuses" 1 "FAIL" "$PY" "$HERE/check_proof.py" "$PUB" "$T/cbad-$c.json"
done
expect "verify-proof with another key" 1 "FAIL" sh -c \
    "mkdir -p '$T/other' && '$BENCH' --dir '$T/other' --appends 1 --verify-records 1 >/dev/null 2>&1; \
     '$ENCLAVE' audit verify-proof --key '$T/other/keys/audit.pub' '$T/p517.json'"
expect "verify-proof needs --key" 2 "--key" "$ENCLAVE" audit verify-proof "$T/p517.json"

# A rewritten log: the same key, different records of the same length (what
# someone holding the key could produce). Its own checks pass; the witness
# catches it at the first witnessed checkpoint.
mkdir -p "$T/rewritten"
cp -a "$T/log/keys" "$T/rewritten/keys"
"$BENCH" --dir "$T/rewritten" --appends 200 --verify-records 1000 >/dev/null 2>&1
expect "the rewritten log verifies on its own" 0 "OK: 1000 records" \
    "$ENCLAVE" audit verify --key "$PUB" "$T/rewritten/audit.db"
expect "verify --witness catches the rewrite at size 100" 1 \
    "FAIL at seq 100: the log was rewritten: it does not extend the witnessed checkpoint at tree size 100" \
    "$ENCLAVE" audit verify --key "$PUB" --witness "$W" "$T/rewritten/audit.db"

# Truncation: cut the log back to 650 records and drop the checkpoints that
# covered what was cut (700..1000). Alone it verifies (a shorter valid log);
# against the witness it fails at the first missing seq, naming size 700.
sqlite3 "$DB" "DROP TRIGGER records_append_only_delete; DROP TRIGGER checkpoints_append_only_delete;
  DELETE FROM records WHERE seq > 650; DELETE FROM checkpoints WHERE seq > 650;"
expect "the truncated log verifies on its own" 0 "OK: 650 records, 6 checkpoints" \
    "$ENCLAVE" audit verify --key "$PUB" "$DB"
expect "verify --witness catches the truncation" 1 \
    "FAIL at seq 651: the log was truncated: the witnessed checkpoint at tree size 700" \
    "$ENCLAVE" audit verify --key "$PUB" --witness "$W" "$DB"
expect "without --key the witness is checked with the log's key" 1 "FAIL at seq 651" \
    "$ENCLAVE" audit verify --witness "$W" "$DB"

# A forged witness line (not signed by the key) is refused, not trusted.
head -1 "$W" | sed 's/\\n100\\n/\\n101\\n/' > "$T/forged.jsonl"
expect "a forged witness line is refused" 1 "witness line 1" \
    "$ENCLAVE" audit verify --key "$PUB" --witness "$T/forged.jsonl" "$T/rewritten/audit.db"
expect "--witness needs the database" 2 "needs the database" \
    "$ENCLAVE" audit verify --witness "$W" "$T/p1.json"

summary
