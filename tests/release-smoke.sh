#!/bin/sh
# The release binary does the README's main job: dist/enclave (static) builds
# a guest image, starts the daemon and runs code in a VM. The Debian package
# cache of the e2e image is shared (E2E_HOME), so no package is fetched twice.
# A static glibc program must not load NSS modules (see src/common/sysuser.h):
# on hosts whose nsswitch.conf names nss-systemd, that crashed `enclave up`.
set -eu
cd "$(dirname "$0")/.."
E2E_HOME=${E2E_HOME:-build/e2e-home}
BIN=$PWD/dist/enclave
test -x "$BIN" || { echo "release-smoke: $BIN is missing (run ./build_release.sh)" >&2; exit 1; }
home=$(mktemp -d /tmp/enclave-release.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$home"
}
trap cleanup EXIT INT TERM
mkdir -p "$home/cache" "$E2E_HOME/cache/build"
ln -s "$(cd "$E2E_HOME/cache/build" && pwd)" "$home/cache/build"
export ENCLAVE_HOME="$home"
"$BIN" image build
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
allow=""
[ "$(id -u)" = 0 ] && allow=--allow-root
"$BIN" up $allow --listen "127.0.0.1:$port" --boot-timeout 120 --pool 0 &
pid=$!
i=0
until "$BIN" session ls --addr "127.0.0.1:$port" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "release-smoke: the daemon did not come up" >&2
        tail -20 "$home/run/daemon.log" >&2 || true
        exit 1
    fi
    sleep 0.2
done
out=$(timeout 180 "$BIN" run --addr "127.0.0.1:$port" -- python3 -c 'print(6*7)')
if [ "$out" != 42 ]; then
    echo "release-smoke: expected 42, got: $out" >&2
    tail -20 "$home/run/daemon.log" >&2 || true
    exit 1
fi
echo "release-smoke: dist/enclave built an image, started the daemon and ran code in a VM"
