#!/bin/sh
# Runs every libFuzzer harness for a short while: its seed corpus when it has
# one (tests/*/fuzz-seeds, tests/*/fuzz-corpus, tests/*/corpus), then random
# inputs. A crash or a sanitizer report fails the run. The random inputs come
# from a fixed seed (FUZZ_SEED, default 1), so a run here is repeatable and a
# gate does not fail by luck; long, freely seeded runs are manual:
#   build/fuzz/<module>/<name>_fuzz -max_total_time=600 <corpus>
set -eu
BUILD=${BUILD:-build}
SECONDS_EACH=${FUZZ_SECONDS:-10}
SEED=${FUZZ_SEED:-1}
failed=0
for bin in "$BUILD"/fuzz/*/*_fuzz; do
    name=$(basename "$bin" _fuzz)
    module=$(basename "$(dirname "$bin")")
    seeds=""
    for d in tests/$module/fuzz-seeds/$name tests/$module/fuzz-corpus tests/$module/corpus tests/$module/fuzz-seeds; do
        if [ -d "$d" ]; then seeds="$d"; break; fi
    done
    work=$(mktemp -d)
    if "$bin" -seed="$SEED" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 "$work" $seeds \
            > "$work.log" 2>&1; then
        echo "ok   $module/$name ($(grep -o 'Done [0-9]* runs' "$work.log" | grep -o '[0-9]*' || echo '?') runs${seeds:+, seeds $seeds})"
    else
        echo "FAIL $module/$name"; tail -30 "$work.log"; failed=1
    fi
    rm -rf "$work" "$work.log"
done
exit $failed
