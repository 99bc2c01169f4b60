#!/bin/sh
# Installs the pinned MCP TypeScript SDK (package.json, package-lock.json)
# into $BUILD/mcp-node with the machine's node and npm. Skips the install
# when the lock file has not changed since the last one.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dest="$BUILD/mcp-node"
mkdir -p "$dest"
cp tests/mcp/client.mjs "$dest/"
if [ -f "$dest/node_modules/.enclave-lock" ] && cmp -s tests/mcp/package-lock.json "$dest/node_modules/.enclave-lock"; then
    exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "tests/mcp/setup.sh: node and npm are needed (scripts/install-deps installs them)" >&2
    exit 1
}
cp tests/mcp/package.json tests/mcp/package-lock.json "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
cp tests/mcp/package-lock.json "$dest/node_modules/.enclave-lock"
