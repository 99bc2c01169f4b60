# Shared by the audit shell tests (cli_test.sh, proof_test.sh); sourced with
# the build folder as $BUILD. Sets ENCLAVE, BENCH, HERE and PY, counts
# results with ok/bad/expect, and `summary` ends the run.
ENCLAVE=$(cd "$BUILD" && pwd)/enclave
BENCH=$(cd "$BUILD" && pwd)/audit-bench
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

# expect NAME WANT_RC WANT_TEXT CMD...: runs CMD, checks exit code and that
# stdout+stderr contains WANT_TEXT.
expect() {
    name=$1 want_rc=$2 want_text=$3
    shift 3
    set +e
    out=$("$@" 2>&1)
    rc=$?
    set -e
    if [ "$rc" -eq "$want_rc" ] && printf '%s' "$out" | grep -qF -- "$want_text"; then
        ok "$name"
    else
        bad "$name (rc $rc, want $want_rc and '$want_text'): $out"
    fi
}

# The last line of a test: the counts, and its exit status.
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
