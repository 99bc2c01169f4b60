#!/bin/sh
# Builds dist/enclave: one fully static binary with enclave-init inside it,
# which can assemble a guest image on its own (enclave image build).
set -eu
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build-static}
JOBS=${JOBS:-2}

make -j"$JOBS" STATIC=1 BUILD="$BUILD_DIR" "$BUILD_DIR/enclave" "$BUILD_DIR/enclave-init"

mkdir -p dist
cp "$BUILD_DIR/enclave" dist/enclave.tmp
strip --strip-debug dist/enclave.tmp
mv dist/enclave.tmp dist/enclave

# Refuse to call it a release unless it really is static and really carries init.
info=$(file -L dist/enclave)
case "$info" in
*"statically linked"*|*"static-pie linked"*) ;;
*) echo "build_release.sh: dist/enclave is not statically linked: $info" >&2; exit 1 ;;
esac
if ! grep -q enclave_init_blob "$BUILD_DIR/host/init_blob.S"; then
    echo "build_release.sh: enclave-init was not embedded" >&2
    exit 1
fi
# Hardened as the Makefile asks: full RELRO, stack protector, FORTIFY, static-pie.
tests/check-hardening.sh dist/enclave
dist/enclave --help >/dev/null
dist/enclave image build --help >/dev/null

echo "dist/enclave: $(wc -c < dist/enclave) bytes; $info"
