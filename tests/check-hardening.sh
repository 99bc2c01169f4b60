#!/bin/sh
# Checks that each binary given was built hardened (see the Makefile's
# HARDEN_CFLAGS): full RELRO (a GNU_RELRO segment and BIND_NOW), a stack
# protector (__stack_chk_fail referenced), fortified libc calls (__*_chk
# referenced), and a position-independent executable (ELF type DYN), which for
# a static binary means static-pie. Prints one line per binary; exits 1 when
# any check fails.
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: $0 BINARY..." >&2
    exit 2
fi

status=0
for bin in "$@"; do
    if [ ! -f "$bin" ]; then
        echo "check-hardening: $bin: no such file" >&2
        status=1
        continue
    fi
    problems=""
    headers=$(readelf -hW "$bin")
    segments=$(readelf -lW "$bin")
    dynamic=$(readelf -dW "$bin" 2>/dev/null || true)
    symbols=$(readelf -sW "$bin" 2>/dev/null || true)

    echo "$segments" | grep -q 'GNU_RELRO' || problems="$problems no-RELRO-segment"
    echo "$dynamic" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW' || problems="$problems no-BIND_NOW"
    echo "$symbols" | grep -q '__stack_chk_fail' || problems="$problems no-stack-protector"
    echo "$symbols" | grep -Eq ' __[a-z0-9_]+_chk(@|$)' || problems="$problems no-FORTIFY"
    echo "$headers" | grep -Eq 'Type:[[:space:]]+DYN' || problems="$problems not-PIE"

    kind="dynamic"
    if ! echo "$segments" | grep -q 'INTERP'; then
        kind="static"
    fi
    if [ -z "$problems" ]; then
        echo "check-hardening: $bin: ok ($kind PIE, full RELRO, stack protector, FORTIFY)"
    else
        echo "check-hardening: $bin ($kind): FAILED:$problems" >&2
        status=1
    fi
done
exit $status
