#!/bin/sh
# Runs every libFuzzer harness for a short while: its seed corpus when it has
# one (tests/*/fuzz-seeds, tests/*/fuzz-corpus, tests/*/corpus), then random
# inputs. A crash or a sanitizer report fails the run. The random inputs come
# from a fixed seed (FUZZ_SEED, default 1), so a run here is repeatable and a
# gate does not fail by luck; long, freely seeded runs are manual:
#   build/fuzz/<module>/<name>_fuzz -max_total_time=600 <corpus>
# A harness is one single-threaded process: FUZZ_JOBS of them (default: one
# per CPU) run side by side, each for its full FUZZ_SECONDS, so a run costs
# FUZZ_SECONDS times harnesses / FUZZ_JOBS of wall time. Results print in
# harness order.
set -eu
BUILD=${BUILD:-build}
SECONDS_EACH=${FUZZ_SECONDS:-10}
SEED=${FUZZ_SEED:-1}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

# One harness: prints its ok/FAIL lines into $2.
run_one() {
    bin=$1 report=$2
    name=$(basename "$bin" _fuzz)
    module=$(basename "$(dirname "$bin")")
    seeds=""
    for d in tests/$module/fuzz-seeds/$name tests/$module/fuzz-corpus tests/$module/corpus tests/$module/fuzz-seeds; do
        if [ -d "$d" ]; then seeds="$d"; break; fi
    done
    work=$(mktemp -d)
    if "$bin" -seed="$SEED" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 "$work" $seeds \
            > "$work.log" 2>&1; then
        echo "ok   $module/$name ($(grep -o 'Done [0-9]* runs' "$work.log" | grep -o '[0-9]*' || echo '?') runs${seeds:+, seeds $seeds})" > "$report"
    else
        { echo "FAIL $module/$name"; tail -30 "$work.log"; } > "$report"
    fi
    rm -rf "$work" "$work.log"
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM
# JOBS lanes, each a background loop over every JOBS-th harness (dash has no
# `wait -n`).
lane=0
while [ "$lane" -lt "$JOBS" ]; do
    (
        i=0
        for bin in "$BUILD"/fuzz/*/*_fuzz; do
            i=$((i + 1))
            [ $(( (i - 1) % JOBS )) -eq "$lane" ] || continue
            run_one "$bin" "$out/$(printf %04d $i)"
        done
    ) &
    lane=$((lane + 1))
done
wait
failed=0
for r in "$out"/*; do
    [ -e "$r" ] || continue
    cat "$r"
    case $(head -c 4 "$r") in FAIL) failed=1 ;; esac
done
want=$(ls "$BUILD"/fuzz/*/*_fuzz | wc -l)
got=$(ls "$out" | wc -l)
[ "$got" -eq "$want" ] || { echo "FAIL: $((want - got)) harness(es) gave no result"; failed=1; }
exit $failed
