#!/bin/sh
# The repository stands alone: a clone of HEAD in an empty temporary folder,
# with nothing next to it, builds and passes the tests that read vendored
# files (the Rego conformance cases and Firecracker's API spec). Also checks
# that no tracked file names a folder outside the repository.
# Usage: tests/fresh-clone.sh [make targets...]   (default: all test-rego test-firecracker)
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
outside=$(git -C "$repo" grep -n -I -e '\.\./shared' -e '/work/' -- ':!tests/fresh-clone.sh' || true)
if [ -n "$outside" ]; then
    echo "fresh-clone: tracked files refer to folders outside the repository:" >&2
    echo "$outside" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$repo" "$tmp/enclave"
[ ! -e "$tmp/shared" ] || { echo "fresh-clone: $tmp/shared exists" >&2; exit 1; }
cd "$tmp/enclave"
[ $# -gt 0 ] || set -- all test-rego test-firecracker
make -j"$(nproc)" "$@"
echo "fresh-clone: a clone with nothing next to it passed: $*"
