#!/bin/sh
# bench-rego peers: builds (once, under BUILD/peers) and runs the OPA and
# regorus harnesses on the bench policy in DIR. A peer that cannot be built
# (no network for the first fetch, no go or cargo) is reported with the
# reason and skipped; the run goes on.
# Usage: bench/peers/run.sh BUILD DIR
set -u
build=$1
dir=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/peers"
peers=$(cd "$build/peers" && pwd)

opa_build() {
    command -v go >/dev/null 2>&1 || { echo "go is not installed"; return 1; }
    (cd "$here/opa" && GOMODCACHE="$peers/gomod" GOCACHE="$peers/gocache" GOFLAGS=-mod=mod \
        GOTOOLCHAIN=local go build -o "$peers/opa-bench" . ) >"$peers/opa-build.log" 2>&1 ||
        { echo "build failed, see $peers/opa-build.log: $(tail -n 1 "$peers/opa-build.log")"; return 1; }
}

regorus_build() {
    command -v cargo >/dev/null 2>&1 || { echo "cargo is not installed"; return 1; }
    CARGO_TARGET_DIR="$peers/cargo-target" cargo build --release --locked \
        --manifest-path "$here/regorus/Cargo.toml" >"$peers/regorus-build.log" 2>&1 ||
        { echo "build failed, see $peers/regorus-build.log: $(tail -n 1 "$peers/regorus-build.log")"; return 1; }
    cp "$peers/cargo-target/release/regorus-bench" "$peers/regorus-bench"
}

for peer in opa regorus; do
    why=$(${peer}_build) || { echo "$peer: not run: $why"; continue; }
    "$peers/$peer-bench" "$dir" || echo "$peer: the run failed"
done
