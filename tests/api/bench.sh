#!/bin/sh
# bench-api: Connect unary calls against tools/api-testd on loopback.
# Usage: tests/api/bench.sh BUILD_DIR. Prints numbers; asserts nothing.
set -eu
BUILD=${1:-build}
OUT=$(mktemp)
"$BUILD/api-testd" >"$OUT" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$OUT"' EXIT
i=0
while ! grep -q '^listening on ' "$OUT"; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "bench-api: api-testd did not start" >&2; exit 1; }
    sleep 0.05
done
ADDR=$(sed -n 's/^listening on //p' "$OUT")
echo "bench-api: api-testd on $ADDR ($(nproc) CPUs here, shared)"
# A synchronous handler (StartSession) at two concurrency levels, then the
# asynchronous one (ExecuteTool "now" replies at once; no timer).
"$BUILD/api-bench" --address "$ADDR" --connections 1 --seconds 3
"$BUILD/api-bench" --address "$ADDR" --connections 32 --seconds 3
"$BUILD/api-bench" --address "$ADDR" --connections 32 --seconds 3 \
    --path /agent.v1.AgentService/ExecuteTool --body '{"toolName":"now","input":"print(1)"}'
