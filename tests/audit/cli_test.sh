#!/bin/sh
# `enclave audit` end to end on a scratch log: verify, export, tail (-f),
# tampering through the sqlite3 shell and by editing the export as text, and
# an independent verifier (verify_export.py, Python) that must agree.
#
#   tests/audit/cli_test.sh BUILD_DIR
set -eu

BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
PYVERIFY=$HERE/verify_export.py

T=$(mktemp -d /tmp/enclave-audit-cli-XXXXXX)
TAIL_PID=
cleanup() {
    if [ -n "$TAIL_PID" ]; then kill "$TAIL_PID" 2>/dev/null || true; fi
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

export ENCLAVE_HOME="$T/home"
DB="$ENCLAVE_HOME/audit/audit.db"
PUB="$ENCLAVE_HOME/audit/keys/audit.pub"

# A log of 1000 records with checkpoints every 100, at the default path.
mkdir -p "$ENCLAVE_HOME/audit" "$T/other"
"$BENCH" --dir "$ENCLAVE_HOME/audit" --appends 200 --verify-records 1000 >/dev/null 2>&1

expect "audit --help" 0 "verify" "$ENCLAVE" audit --help
expect "tail --help" 0 "--follow" "$ENCLAVE" audit tail --help
expect "export --help" 0 "--output" "$ENCLAVE" audit export --help
expect "verify --help" 0 "--key" "$ENCLAVE" audit verify --help
expect "unknown subcommand is a usage error" 2 "unknown subcommand" "$ENCLAVE" audit frob
expect "bad option is a usage error" 2 "see 'enclave audit tail --help'" "$ENCLAVE" audit tail --nope
expect "verify a missing file" 1 "No such file" "$ENCLAVE" audit verify "$T/none.db"

expect "verify the default log" 0 "OK: 1000 records, 10 checkpoints" "$ENCLAVE" audit verify
expect "verify without --key says which key" 0 "stored in the log itself" "$ENCLAVE" audit verify
expect "verify with --key" 0 "OK: 1000 records" "$ENCLAVE" audit verify --key "$PUB" "$DB"

expect "export -o" 0 "exported 1000 records" "$ENCLAVE" audit export -o "$T/export.jsonl"
"$ENCLAVE" audit export --db "$DB" > "$T/stdout.jsonl"
if cmp -s "$T/export.jsonl" "$T/stdout.jsonl"; then ok "export to stdout equals export -o"; else bad "export to stdout differs"; fi
# -o: the mode a plain create gives (0666 less the umask); an export that
# fails half way (a file size limit) keeps the old file whole and leaves no
# temporary beside it.
mkdir "$T/out"
expect "export -o under umask 027" 0 "exported 1000 records" sh -c "umask 027; '$ENCLAVE' audit export -o '$T/out/e.jsonl'"
if [ "$(stat -c %a "$T/out/e.jsonl")" = 640 ]; then ok "export -o mode follows the umask"; else bad "export -o mode $(stat -c %a "$T/out/e.jsonl")"; fi
echo old > "$T/out/e.jsonl"
expect "export -o past a file size limit fails, naming the file" 1 "$T/out/e.jsonl: writing the export: File too large" sh -c "ulimit -f 256; trap '' XFSZ; '$ENCLAVE' audit export -o '$T/out/e.jsonl'"
if [ "$(cat "$T/out/e.jsonl")" = old ]; then ok "a failed export keeps the old file"; else bad "a failed export changed the old file"; fi
if [ "$(ls -A "$T/out")" = e.jsonl ]; then ok "a failed export leaves no temporary"; else bad "left behind: $(ls -A "$T/out")"; fi
expect "verify the export" 0 "OK: 1000 records, 10 checkpoints" "$ENCLAVE" audit verify --key "$PUB" "$T/export.jsonl"
expect "verify the export from stdin" 0 "OK: 1000 records" sh -c "'$ENCLAVE' audit verify --key '$PUB' - < '$T/export.jsonl'"
expect "verify the export through a pipe" 0 "OK: 1000 records" bash -c "'$ENCLAVE' audit verify --key '$PUB' <(cat '$T/export.jsonl')"
expect "python verifier agrees on the export" 0 "OK: 1000 records, 10 checkpoints" "$PY" "$PYVERIFY" "$PUB" "$T/export.jsonl"
head_c=$("$ENCLAVE" audit verify --key "$PUB" "$T/export.jsonl" 2>/dev/null)
head_py=$("$PY" "$PYVERIFY" "$PUB" "$T/export.jsonl")
if [ "$head_c" = "$head_py" ]; then ok "both verifiers print the same head"; else bad "heads differ: $head_c / $head_py"; fi

# The Python snippet in docs/audit.md, run as written.
DOC=$(cd "$(dirname "$0")/../.." && pwd)/docs/audit.md
mkdir -p "$T/doc"
cp "$PUB" "$T/doc/audit.pub"
cp "$T/export.jsonl" "$T/doc/audit.jsonl"
awk '/^```python/{f=1;next}/^```/{f=0}f' "$DOC" > "$T/doc/snippet.py"
expect "the docs' Python snippet verifies the export" 0 "OK 1000 records" sh -c "cd '$T/doc' && $PY snippet.py"
sed -i '/"seq":500,/s/"decision":"allow"/"decision":"deny"/' "$T/doc/audit.jsonl"
expect "the docs' Python snippet catches an edit" 1 "record 500 edited" sh -c "cd '$T/doc' && $PY snippet.py"

# Tail.
n=$("$ENCLAVE" audit tail -n 3 | wc -l)
if [ "$n" -eq 3 ]; then ok "tail -n 3 prints 3 records"; else bad "tail -n 3 printed $n lines"; fi
expect "tail ends at the head" 0 "1000 " sh -c "'$ENCLAVE' audit tail -n 1"
expect "tail --json is the export's record line" 0 "\"seq\":1000" sh -c "'$ENCLAVE' audit tail -n 1 --json | $PY -c 'import json,sys; r=json.loads(sys.stdin.read()); assert r[\"type\"]==\"record\"; print(json.dumps(r, separators=(\",\", \":\")))'"
expect "tail --session filters" 0 "0" sh -c "'$ENCLAVE' audit tail -n 0 --session nobody | wc -l"

# Export edited as text: both verifiers fail at the edited record.
sed '/"seq":500,/s/"decision":"allow"/"decision":"deny"/' "$T/export.jsonl" > "$T/edited.jsonl"
expect "edited export fails at 500" 1 "FAIL at seq 500:" "$ENCLAVE" audit verify --key "$PUB" "$T/edited.jsonl"
expect "python agrees: edited export fails at 500" 1 "FAIL at seq 500:" "$PY" "$PYVERIFY" "$PUB" "$T/edited.jsonl"
grep -v '"type":"record","seq":321,' "$T/export.jsonl" > "$T/deleted.jsonl"
expect "export with a deleted line fails at 321" 1 "FAIL at seq 321:" "$ENCLAVE" audit verify --key "$PUB" "$T/deleted.jsonl"
expect "python agrees: deleted line fails at 321" 1 "FAIL at seq 321:" "$PY" "$PYVERIFY" "$PUB" "$T/deleted.jsonl"
grep -v -E '"type":"record","seq":(9[5-9][0-9]|1000),' "$T/export.jsonl" > "$T/cut.jsonl"
expect "export cut after a checkpoint fails at 950" 1 "FAIL at seq 950:" "$ENCLAVE" audit verify --key "$PUB" "$T/cut.jsonl"
expect "python agrees: cut export fails at 950" 1 "FAIL at seq 950:" "$PY" "$PYVERIFY" "$PUB" "$T/cut.jsonl"

# A different key: the first checkpoint fails.
"$BENCH" --dir "$T/other" --appends 1 --verify-records 1 >/dev/null 2>&1
expect "wrong key fails at the first checkpoint" 1 "FAIL at seq 100:" "$ENCLAVE" audit verify --key "$T/other/keys/audit.pub" "$DB"
expect "python agrees: wrong key" 1 "FAIL at seq 100:" "$PY" "$PYVERIFY" "$T/other/keys/audit.pub" "$T/export.jsonl"

# tail -f sees a record appended by another process (written here with the
# sqlite3 shell, so it is not a valid link: verify then fails at it).
"$ENCLAVE" audit tail -f -n 0 --interval 100 > "$T/follow.out" 2>&1 &
TAIL_PID=$!
sleep 0.3
sqlite3 "$DB" "INSERT INTO records VALUES (1001, 1, 's-late', 'TOOL:EXEC', '', '', '', '[]', '{}', 'x', 'y');"
i=0
while [ $i -lt 100 ] && ! grep -q "s-late" "$T/follow.out"; do sleep 0.1; i=$((i + 1)); done
if grep -q "^1001 .*session=s-late" "$T/follow.out"; then ok "tail -f prints a new record"; else bad "tail -f did not print it: $(cat "$T/follow.out")"; fi
kill "$TAIL_PID"
wait "$TAIL_PID" 2>/dev/null || true
TAIL_PID=
expect "a forged appended record fails at 1001" 1 "FAIL at seq 1001:" "$ENCLAVE" audit verify --key "$PUB"

# Text from the log never reaches the terminal raw. A record with escape
# sequences (retitle the window), DEL, a C1 control (CSI) and a
# bidirectional override in its details (a file name a workload chose; here
# written with the sqlite3 shell, raw as a tampered log could hold it):
# tail prints it escaped, tail --json as JSON escapes that parse back to the
# same text, and verify's reason quoting an export is escaped too.
cp "$DB" "$T/esc.db"
ESC_PATH="char(97, 27, 93, 48, 59, 112, 119, 110, 101, 100, 7, 127, 155, 8238, 98)"
sqlite3 "$T/esc.db" "INSERT INTO records VALUES (1002, 1, 's-esc', 'TOOL:EXEC', '', '', '', '[]', '{\"path\":\"' || $ESC_PATH || '\"}', 'x', 'y');"
CHECK="$PY $HERE/terminal_check.py"
expect "tail --json: no raw control, same path" 0 "parsed to the same path" sh -c "'$ENCLAVE' audit tail -n 1 --json --db '$T/esc.db' | $CHECK --json"
expect "tail: no raw control, shown escaped" 0 "escaped" sh -c "'$ENCLAVE' audit tail -n 1 --db '$T/esc.db' | $CHECK --text 'a\\x1b]0;pwned\\x07\\x7f\\u009b\\u202eb'"
printf '{"type":"\\u001b]0;pwned\\u0007\\u009b\\u202e"}\n' > "$T/esc.jsonl"
expect "verify: the reason is escaped" 0 "escaped" sh -c "'$ENCLAVE' audit verify '$T/esc.jsonl' 2>&1 | $CHECK --text 'unknown type \"\\x1b]0;pwned\\x07\\u009b\\u202e\"'"

# Tampering in SQLite through the sqlite3 shell.
cp "$DB" "$T/t.db"
sqlite3 "$T/t.db" "DROP TRIGGER records_append_only_update; UPDATE records SET session = 's-evil' WHERE seq = 777;"
expect "edited row fails at 777" 1 "FAIL at seq 777:" "$ENCLAVE" audit verify --key "$PUB" "$T/t.db"
cp "$DB" "$T/t.db"
sqlite3 "$T/t.db" "DROP TRIGGER records_append_only_delete; DELETE FROM records WHERE seq >= 640;"
expect "cut tail fails at 640" 1 "FAIL at seq 640:" "$ENCLAVE" audit verify --key "$PUB" "$T/t.db"
# The append-only triggers stop accidental edits.
expect "triggers refuse an UPDATE" 1 "append-only" sh -c 'sqlite3 "$1" "$2" || exit 1' _ "$DB" "UPDATE records SET session = 'x' WHERE seq = 1;"

summary
