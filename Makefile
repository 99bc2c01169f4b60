# Enclave build. Non-recursive: every module is a folder under src/ and its
# sources are picked up by wildcard, so adding a file needs no edit here.
#
#   make            build/enclave (host) and build/enclave-init (guest PID 1)
#   make test       unit tests under ASan+UBSan, Rego conformance, end-to-end tests
#   make test-unit  unit tests only (test-<area>, bench-<area>: one area)
#   make fuzz       libFuzzer harnesses (clang) under build/fuzz/
#   make bench      benchmarks that print numbers
#   make STATIC=1   fully static host binary (used by build_release.sh)

BUILD    ?= build
CC       ?= gcc
FUZZ_CC  ?= clang
PKGS     := libevent libevent_openssl libnghttp2 libprotobuf-c jansson libssl libcrypto sqlite3 yaml-0.1 libseccomp libsodium libelf

# The Debian packages are installed by scripts/install-deps (the README's
# commands run it); the Makefile itself never installs anything.
ifeq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && command -v protoc-c >/dev/null && test -f /usr/include/http_parser.h && echo ok),)
$(warning some build dependencies are missing: run scripts/install-deps first)
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O2 $(WARN) -Isrc -I$(BUILD)/gen -MMD -MP
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

# Hardening for every build but the sanitizer ones: a stack protector,
# fortified libc calls (level 3 where glibc and the compiler support it, else
# 2), and full RELRO (the GOT read-only after start). `make check-hardening`
# checks the binaries.
FORTIFY_LEVEL := $(shell printf '\043include <features.h>\n__USE_FORTIFY_LEVEL\n' | $(CC) -O2 -D_FORTIFY_SOURCE=3 -E -P -x c - 2>/dev/null | tail -n 1)
ifneq ($(FORTIFY_LEVEL),3)
FORTIFY_LEVEL := 2
endif
HARDEN_CFLAGS  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=$(FORTIFY_LEVEL) -fstack-protector-strong
HARDEN_LDFLAGS := -Wl,-z,relro,-z,now
# Static binaries are static-pie (randomized load address) where the toolchain
# makes one: gcc with --enable-default-pie compiles PIE objects, and Debian's
# static libraries are built the same way. Elsewhere, plain -static. Measured
# on Debian 12 (gcc 12): the release binary grows 5.8% (12.2 to 13.0 MB, the
# relocations) and starts as fast (2.5 ms per `enclave --version` either way).
STATIC_LINK := $(shell t=$$(mktemp) && printf 'int main(void){return 0;}\n' | $(CC) -static-pie -x c - -o $$t 2>/dev/null && echo -static-pie || echo -static; rm -f $$t)

ifeq ($(STATIC),1)
PKG_LIBS := $(STATIC_LINK) $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -ldl
else
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm
endif
PKG_LIBS += -lm

CFLAGS   ?=
HOST_CFLAGS := $(BASE_CFLAGS) $(PKG_CFLAGS) -fvisibility=hidden $(HARDEN_CFLAGS) $(CFLAGS)
# The guest side links libc, protobuf-c and http-parser only, statically.
GUEST_CFLAGS := $(BASE_CFLAGS) $(shell pkg-config --cflags libprotobuf-c 2>/dev/null) $(CFLAGS)
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TEST_CFLAGS := $(BASE_CFLAGS) $(PKG_CFLAGS) -O1 $(ASAN_FLAGS) -DENCLAVE_TESTING $(CFLAGS)

# ---------------------------------------------------------------- protobuf
PROTOS     := $(wildcard proto/*/v1/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
GUEST_PROTO_C := $(BUILD)/gen/guest/v1/guest.pb-c.c

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

# ---------------------------------------------------------------- sources
# Modules linked into the host binary, in no particular order.
HOST_MODULES := common secret wire rego policy audit gate http image oci vmm proxy egress core api daemon cli
not_special   = $(filter-out %_test.c %_fuzz.c %/main.c,$(1))
HOST_SRCS  := $(call not_special,$(foreach m,$(HOST_MODULES),$(wildcard src/$(m)/*.c))) $(PROTO_C)
HOST_MAIN  := src/cli/main.c
GUEST_SRCS := $(call not_special,$(wildcard src/guest/*.c) $(wildcard src/wire/*.c)) $(GUEST_PROTO_C)
GUEST_MAIN := src/guest/main.c
TOOLS      := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))

obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(patsubst $(BUILD)/%,%,$(2)))

HOST_OBJS  := $(call obj,host,$(HOST_SRCS))
GUEST_OBJS := $(call obj,guest,$(GUEST_SRCS))
ASAN_OBJS  := $(call obj,asan,$(HOST_SRCS))
GASAN_OBJS := $(call obj,gasan,$(GUEST_SRCS))

.PHONY: all test test-unit test-rego test-e2e fuzz bench clean deps
all: $(BUILD)/enclave $(BUILD)/enclave-init $(TOOLS)

deps:
	scripts/install-deps

# Objects are rebuilt when the flags they were built with change: the stamp
# is rewritten (and so newer) only then.
HOST_STAMP  := $(BUILD)/host/.cflags
GUEST_STAMP := $(BUILD)/guest/.cflags
.PHONY: FORCE
$(HOST_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(HOST_CFLAGS) $(HARDEN_LDFLAGS) $(STATIC_LINK)' | cmp -s - $@ || echo '$(HOST_CFLAGS) $(HARDEN_LDFLAGS) $(STATIC_LINK)' > $@
$(GUEST_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(GUEST_CFLAGS) $(HARDEN_CFLAGS) $(STATIC_LINK)' | cmp -s - $@ || echo '$(GUEST_CFLAGS) $(HARDEN_CFLAGS) $(STATIC_LINK)' > $@

# Generated headers must exist before any object is compiled.
$(BUILD)/host/%.o: %.c $(HOST_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c $< -o $@
$(BUILD)/host/gen/%.o: $(BUILD)/gen/%.c $(HOST_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -c $< -o $@
$(BUILD)/asan/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -c $< -o $@
$(BUILD)/asan/gen/%.o: $(BUILD)/gen/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/guest/%.o: %.c $(GUEST_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(HARDEN_CFLAGS) -c $< -o $@
$(BUILD)/guest/gen/%.o: $(BUILD)/gen/%.c $(GUEST_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(HARDEN_CFLAGS) -Wno-missing-prototypes -c $< -o $@
$(BUILD)/gasan/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -O1 $(ASAN_FLAGS) -DENCLAVE_TESTING -c $< -o $@
$(BUILD)/gasan/gen/%.o: $(BUILD)/gen/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -O1 $(ASAN_FLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/enclave-init: $(GUEST_OBJS) $(call obj,guest,$(GUEST_MAIN))
	$(CC) $(STATIC_LINK) $(HARDEN_LDFLAGS) -o $@ $^ -l:libprotobuf-c.a -l:libhttp_parser.a

# The guest init travels inside the host binary so one file can build a guest image.
# So does the interpreter driver (src/guest/interp.py) the image puts at /usr/lib/enclave.
$(BUILD)/host/init_blob.o: $(BUILD)/enclave-init src/guest/interp.py
	@mkdir -p $(dir $@)
	printf '.section .rodata\n.global enclave_init_blob\n.global enclave_init_blob_end\n.balign 16\nenclave_init_blob:\n.incbin "%s"\nenclave_init_blob_end:\n.global enclave_interp_blob\n.global enclave_interp_blob_end\n.balign 16\nenclave_interp_blob:\n.incbin "%s"\nenclave_interp_blob_end:\n.section .note.GNU-stack,"",@progbits\n' $(BUILD)/enclave-init src/guest/interp.py > $(BUILD)/host/init_blob.S
	$(CC) -c $(BUILD)/host/init_blob.S -o $@

# The Web UI's files (ui/), served by the daemon (src/daemon/ui.c).
UI_FILES := ui/index.html ui/app.js ui/app.css
# A compiler cache cannot see the files pulled in with .incbin: never use one here.
$(BUILD)/host/ui_blob.o: export CCACHE_DISABLE := 1
$(BUILD)/host/ui_blob.o: $(UI_FILES)
	@mkdir -p $(dir $@)
	{ echo '.section .rodata'; for f in $(UI_FILES); do s=$$(basename $$f | tr . _); \
	  printf '.global enclave_ui_%s\n.global enclave_ui_%s_end\n.balign 16\nenclave_ui_%s:\n.incbin "%s"\nenclave_ui_%s_end:\n' $$s $$s $$s $(abspath .)/$$f $$s; done; \
	  echo '.section .note.GNU-stack,"",@progbits'; } > $(BUILD)/host/ui_blob.S
	$(CC) -c $(BUILD)/host/ui_blob.S -o $@

$(BUILD)/libenclave.a: $(HOST_OBJS) $(BUILD)/host/init_blob.o $(BUILD)/host/ui_blob.o
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libenclave-asan.a: $(ASAN_OBJS) $(BUILD)/host/init_blob.o $(BUILD)/host/ui_blob.o
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libguest-asan.a: $(GASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Objects, not the archive: verbs are weak references (cli/cli.h), which would
# not pull their members out of an archive.
$(BUILD)/enclave: $(call obj,host,$(HOST_MAIN)) $(HOST_OBJS) $(BUILD)/host/init_blob.o $(BUILD)/host/ui_blob.o
	$(CC) $(CFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%: tools/%.c $(BUILD)/libenclave.a
	$(CC) $(HOST_CFLAGS) -o $@ $< $(BUILD)/libenclave.a $(PKG_LIBS)

# ---------------------------------------------------------------- unit tests
# src/<module>/<name>_test.c is one cmocka program; guest tests link the guest objects.
HOST_TESTS  := $(filter-out src/guest/%,$(wildcard src/*/*_test.c))
GUEST_TESTS := $(wildcard src/guest/*_test.c)
TEST_BINS   := $(patsubst src/%_test.c,$(BUILD)/test/%_test,$(HOST_TESTS) $(GUEST_TESTS))

$(BUILD)/test/guest/%_test: src/guest/%_test.c $(BUILD)/libguest-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -O1 $(ASAN_FLAGS) -DENCLAVE_TESTING -o $@ $< $(BUILD)/libguest-asan.a -lcmocka -lprotobuf-c -lhttp_parser
$(BUILD)/test/%_test: src/%_test.c $(BUILD)/libenclave-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libenclave-asan.a -lcmocka $(PKG_LIBS)

test-unit: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; done

test-rego: $(BUILD)/rego-conformance
	$(BUILD)/rego-conformance --skip tests/rego/skip.txt $(OPA_CONFORMANCE) $(REGO_CASES)

OPA_CONFORMANCE ?= tests/rego/opa-conformance/v1
# Enclave's own cases in OPA's format (each answer checked against OPA)
REGO_CASES ?= tests/rego/cases

# The guest image the VM-booting tests share (built once, reused while its
# inputs do not change). $(E2E_IMAGE) builds or checks it, unless make test
# has already done so in this run (ENCLAVE_E2E_IMAGE_CHECKED names its home).
E2E_HOME ?= $(abspath $(BUILD)/e2e-home)
E2E_IMAGE = mkdir -p $(E2E_HOME) && { [ "$${ENCLAVE_E2E_IMAGE_CHECKED:-}" = $(E2E_HOME) ] || \
    ENCLAVE_HOME=$(E2E_HOME) $(BUILD)/enclave image build; }

test-e2e: all
	tests/e2e/run

# Areas append their own targets to TEST_TARGETS / BENCH_TARGETS in their
# block at the end of this file.
TEST_TARGETS  := test-unit test-rego test-e2e
BENCH_TARGETS :=
# make test builds the binaries, then the e2e guest image once (the targets
# that boot VMs share it: ENCLAVE_E2E_IMAGE_CHECKED tells their `image build`
# step the image was checked in this run), then runs every target in
# TEST_TARGETS one after another. Each builds what it needs with one job per
# CPU (TEST_JOBS) unless make was given -j itself. Prints each target's time
# at the end (also in $(BUILD)/test-times).
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_J     = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(TEST_JOBS))
test:
	@set -e; $(MAKE) --no-print-directory $(TEST_J) all; \
	mkdir -p $(E2E_HOME); s=$$(date +%s); $(E2E_IMAGE); \
	echo "image build: $$(( $$(date +%s) - s )) s" > $(BUILD)/test-times; \
	export ENCLAVE_E2E_IMAGE_CHECKED=$(E2E_HOME); \
	for t in $(TEST_TARGETS); do s=$$(date +%s); \
	    $(MAKE) --no-print-directory $(TEST_J) $$t || { echo "make test: $$t failed"; exit 1; }; \
	    echo "$$t: $$(( $$(date +%s) - s )) s" >> $(BUILD)/test-times; done; \
	echo "make test: every target passed; seconds per target:"; cat $(BUILD)/test-times

# ---------------------------------------------------------------- fuzzing
# src/<module>/<name>_fuzz.c is one libFuzzer harness (clang); guest harnesses
# link the guest objects, the others the host objects.
FUZZ_SRCS  := $(wildcard src/*/*_fuzz.c)
FUZZ_BINS  := $(patsubst src/%_fuzz.c,$(BUILD)/fuzz/%_fuzz,$(FUZZ_SRCS))
FUZZ_CFLAGS := $(BASE_CFLAGS) $(PKG_CFLAGS) -O1 -fsanitize=fuzzer-no-link,address,undefined -DENCLAVE_TESTING -Wno-missing-prototypes
FHOST_OBJS  := $(call obj,fhost,$(HOST_SRCS))
FGUEST_OBJS := $(call obj,fguest,$(GUEST_SRCS))
# (One rule per target folder: a pattern rule with two targets would be taken
# as making both at once.)
$(BUILD)/fhost/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fguest/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fhost/gen/%.o: $(BUILD)/gen/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fguest/gen/%.o: $(BUILD)/gen/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/libenclave-fuzz.a: $(FHOST_OBJS) $(BUILD)/host/init_blob.o $(BUILD)/host/ui_blob.o
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libguest-fuzz.a: $(FGUEST_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/fuzz/guest/%_fuzz: src/guest/%_fuzz.c $(BUILD)/libguest-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libguest-fuzz.a -lprotobuf-c -lhttp_parser
$(BUILD)/fuzz/%_fuzz: src/%_fuzz.c $(BUILD)/libenclave-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libenclave-fuzz.a $(PKG_LIBS)
fuzz: $(FUZZ_BINS)

# ---------------------------------------------------------------- benchmarks
bench: all
	@set -e; for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t; done

clean:
	rm -rf $(BUILD) dist

# ---------------------------------------------------------------- areas
# (each area adds its own block below: extra targets, TEST_TARGETS += ..., BENCH_TARGETS += ...)

-include $(shell find $(BUILD) -path '$(BUILD)/e2e-home' -prune -o -name '*.d' -type f -print 2>/dev/null)

# ---------------------------------------------------------------- guest + wire
# The generated protobuf sources are made by a pattern rule only, so make would
# treat them as intermediate, delete them after every build and rebuild the
# guest objects each time.
.SECONDARY: $(PROTO_C) $(PROTO_H)

# ---------------------------------------------------------------- audit
# make bench-audit: durable append rate and verification speed (prints numbers).
# make test-audit-cli: the CLI against a scratch log (tests/audit/cli_test.sh).
$(BUILD)/audit-bench: bench/audit_bench.c $(BUILD)/libenclave.a
	$(CC) $(HOST_CFLAGS) -o $@ $< $(BUILD)/libenclave.a $(PKG_LIBS)
# make test-audit-proofs: the RFC 6962 tree against an independent Python
# implementation (sizes 1..300), and proofs/witness end to end (tests/audit/).
$(BUILD)/merkle-vectors: tests/audit/merkle_vectors.c $(BUILD)/libenclave.a
	$(CC) $(HOST_CFLAGS) -o $@ $< $(BUILD)/libenclave.a $(PKG_LIBS)
.PHONY: bench-audit test-audit-cli test-audit-proofs
bench-audit: $(BUILD)/audit-bench
	$(BUILD)/audit-bench --dir $(BUILD)/bench-audit --writers 256 --concurrent 200000
test-audit-cli: $(BUILD)/enclave $(BUILD)/audit-bench
	tests/audit/cli_test.sh $(BUILD)
BENCH_TARGETS += bench-audit
test-audit-proofs: $(BUILD)/enclave $(BUILD)/audit-bench $(BUILD)/merkle-vectors
	/usr/bin/python3 tests/audit/merkle_test.py $(BUILD)/merkle-vectors 300
	tests/audit/proof_test.sh $(BUILD)
# make test-audit-kill: kill -9 during 8 concurrent writers, 100 trials; prints
# the acknowledged records and how many are missing (must be 0). `make test-unit`
# runs the same test with 5 trials (ENCLAVE_AUDIT_KILL_TRIALS).
test-audit-kill: $(BUILD)/test/audit/audit_test
	ENCLAVE_AUDIT_KILL_ONLY=1 ENCLAVE_AUDIT_KILL_TRIALS=$${ENCLAVE_AUDIT_KILL_TRIALS:-100} $(BUILD)/test/audit/audit_test
.PHONY: test-audit-kill
TEST_TARGETS += test-audit-cli test-audit-proofs
# ---------------------------------------------------------------- api
# Test-only protobuf messages for the JSON mapping (every scalar type, maps,
# oneofs, recursion), linked into the api unit test and fuzz harness only.
APITEST_PROTO := tests/api/proto/apitest/v1/apitest.proto
APITEST_C     := $(BUILD)/gen/apitest/v1/apitest.pb-c.c
APITEST_H     := $(APITEST_C:.c=.h)
$(APITEST_C): $(APITEST_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=tests/api/proto --c_out=$(BUILD)/gen $<
$(APITEST_H): $(APITEST_C)
.SECONDARY: $(APITEST_C) $(APITEST_H)
$(BUILD)/test/api/json_proto_test: src/api/json_proto_test.c $(BUILD)/asan/gen/apitest/v1/apitest.pb-c.o $(BUILD)/libenclave-asan.a | $(APITEST_H)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/asan/gen/apitest/v1/apitest.pb-c.o $(BUILD)/libenclave-asan.a -lcmocka $(PKG_LIBS)
$(BUILD)/fuzz/api/json_proto_fuzz: src/api/json_proto_fuzz.c $(BUILD)/fhost/gen/apitest/v1/apitest.pb-c.o $(BUILD)/libenclave-fuzz.a | $(APITEST_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fhost/gen/apitest/v1/apitest.pb-c.o $(BUILD)/libenclave-fuzz.a $(PKG_LIBS)

# Fuzzing the listener: seeds in tests/api/fuzz-seeds/<harness>/, e.g.
#   make build/fuzz/api/http2_fuzz && build/fuzz/api/http2_fuzz -max_len=4096 CORPUS tests/api/fuzz-seeds/http2
# End-to-end tests of the listener (curl and a real gRPC client against
# tools/api-testd.c), and its benchmark.
.PHONY: test-api bench-api
test-api: $(BUILD)/api-testd
	API_TESTD=$(abspath $(BUILD)/api-testd) /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/api
bench-api: $(BUILD)/api-testd $(BUILD)/api-bench
	tests/api/bench.sh $(BUILD)
TEST_TARGETS  += test-api
BENCH_TARGETS += bench-api
# ---------------------------------------------------------------- oci
# Interop tests against Debian's docker-registry and skopeo on 127.0.0.1, and
# a Python implementation of cosign's key and signature format.
.PHONY: test-oci bench-oci
test-oci: $(BUILD)/enclave
	ENCLAVE_BIN=$(abspath $(BUILD)/enclave) /usr/bin/python3 -m pytest -q tests/oci
bench-oci: $(BUILD)/enclave
	ENCLAVE_BIN=$(abspath $(BUILD)/enclave) /usr/bin/python3 bench/oci_pull.py
TEST_TARGETS  += test-oci
BENCH_TARGETS += bench-oci
# ---------------------------------------------------------------- image build
# Builds the guest image from Debian packages (needs the package archive the
# first time; later runs re-use cache/build/debs) and boots it under QEMU: once
# with enclave-init, once with a probe /init that checks the root filesystem.
# Prints image sizes and boot times. The unit tests are in `make test-unit`.
# The image is the one the e2e tests boot ($(E2E_HOME)): one image, built once.
.PHONY: test-image release
test-image: $(BUILD)/enclave
	@mkdir -p $(E2E_HOME)
	ENCLAVE_HOME=$(E2E_HOME) /usr/bin/python3 tests/image/boot_check.py $(abspath $(BUILD)/enclave)
release:
	./build_release.sh
TEST_TARGETS += test-image
# make test-release: the static release binary (dist/enclave) builds an image,
# starts the daemon and runs code in a VM, as the README's first command does.
.PHONY: test-release
test-release:
	./build_release.sh
	E2E_HOME=$(E2E_HOME) tests/release-smoke.sh
TEST_TARGETS += test-release

# ---------------------------------------------------------------- regex (src/rego/re.*)
# The engine is plain C with no project dependency, so its bench builds from re.c alone.
RE_BENCH_SRCS := src/rego/re.c src/rego/mem.c src/rego/fatal.c src/rego/unicode.c src/rego/unicode_tables.c
$(BUILD)/bench/re_bench: bench/re_bench.c src/rego/re.h $(RE_BENCH_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ bench/re_bench.c $(RE_BENCH_SRCS) -lpthread

.PHONY: bench-re
bench-re: $(BUILD)/bench/re_bench
	$(BUILD)/bench/re_bench
BENCH_TARGETS += bench-re

# ---------------------------------------------------------------- daemon bench, gRPC
# bench-daemon: a real `enclave up` booting real VMs; prints daemon start,
# cold boot, ExecuteTool round trips over Connect and gRPC, StopSession and
# memory (median / p90, never asserted); BENCH_DAEMON_ARGS passes options to
# bench/daemon_bench.py (e.g. "--boots 3 --samples 10"). test-grpc: the agent.v1 and
# enclave.v1 flows through a real gRPC client (python3-grpcio).
.PHONY: bench-daemon test-grpc
bench-daemon: $(BUILD)/enclave
	@$(E2E_IMAGE)
	ENCLAVE_HOME=$(E2E_HOME) $(BUILD)/enclave image build --name legacy-initramfs --initramfs-only
	/usr/bin/python3 bench/daemon_bench.py --enclave $(BUILD)/enclave --image-home $(E2E_HOME) $(BENCH_DAEMON_ARGS)
test-grpc: $(BUILD)/enclave
	@$(E2E_IMAGE)
	cd tests/e2e && ENCLAVE_E2E_HOME=$(E2E_HOME) ENCLAVE_BIN=$(abspath $(BUILD)/enclave) \
	    ENCLAVE_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider test_grpc.py
BENCH_TARGETS += bench-daemon
# bench-vm-memory: the resident memory of one idle pool VM's QEMU (and, with
# BENCH_VM_MEMORY_ARGS="--restore", a restored one) by mapping: guest RAM,
# TCG's code cache, QEMU's copy of the kernel, its heaps, shared files.
# "--env NAME=VALUE" compares a setting (bench/vm_memory.py --help).
.PHONY: bench-vm-memory
bench-vm-memory: $(BUILD)/enclave
	@$(E2E_IMAGE)
	/usr/bin/python3 bench/vm_memory.py --enclave $(BUILD)/enclave --image-home $(E2E_HOME) $(BENCH_VM_MEMORY_ARGS)
BENCH_TARGETS += bench-vm-memory
# ---------------------------------------------------------------- rego
# Conformance (the `test-rego` target above) runs OPA's cases; the bench
# measures decisions per second for the RPC-gating policy in bench/data/rego
# against a hand-written C function making the same decisions.
.PHONY: bench-rego
REGO_BENCH_DIRS ?= bench/data/rego bench/data/rego-rbac
$(BUILD)/rego-bench: bench/rego_bench.c bench/rego_native.c $(BUILD)/libenclave.a
	$(CC) $(HOST_CFLAGS) -o $@ bench/rego_bench.c bench/rego_native.c $(BUILD)/libenclave.a $(PKG_LIBS)
# Peers on the same policy and inputs: OPA (Go, github.com/open-policy-agent/opa
# pinned in bench/peers/opa/go.mod) and regorus (Rust, pinned in
# bench/peers/regorus/Cargo.lock), fetched by go/cargo into build/peers on the
# first run; a peer that cannot be built is reported and skipped.
bench-rego: $(BUILD)/rego-bench
	@set -e; for d in $(REGO_BENCH_DIRS); do \
	    $(BUILD)/rego-bench $$d; bench/peers/run.sh $(BUILD) $$d; done
BENCH_TARGETS += bench-rego
# The same cases under ASan+UBSan (leaks included).
.PHONY: test-rego-asan
$(BUILD)/rego-conformance-asan: tools/rego-conformance.c $(BUILD)/libenclave-asan.a
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libenclave-asan.a $(PKG_LIBS)
test-rego-asan: $(BUILD)/rego-conformance-asan
	ASAN_OPTIONS=detect_leaks=1 $(BUILD)/rego-conformance-asan --skip tests/rego/skip.txt $(OPA_CONFORMANCE) $(REGO_CASES)
TEST_TARGETS += test-rego-asan
# Every symbol src/rego exports carries the rego_ prefix (src/rego/internal.h
# says how), so the interpreter can ship as a library on its own.
REGO_OBJS := $(call obj,host,$(filter src/rego/%,$(HOST_SRCS)))
.PHONY: test-rego-symbols
test-rego-symbols: $(REGO_OBJS)
	@bad=$$(nm -g --defined-only $(REGO_OBJS) | awk 'NF == 3 && $$3 !~ /^rego_/ {print $$3}'); \
	if [ -n "$$bad" ]; then echo "src/rego exports names without the rego_ prefix (add them to src/rego/internal.h):"; \
	    echo "$$bad"; exit 1; fi; echo "src/rego: every exported symbol has the rego_ prefix"
TEST_TARGETS += test-rego-symbols
# ---------------------------------------------------------------- policy: bundles, the constitution
# The constitution in policy/ is built into the binary (src/policy/builtin.c
# pulls each file in with .incbin); the generated header lists the files and
# is rewritten only when the list changes.
POLICY_FILES := $(shell find policy -type f \( -name '*.rego' -o -name data.json \) 2>/dev/null | LC_ALL=C sort)
POLICY_GEN_H := $(BUILD)/gen/policy/builtin_files.h
# Remade on every run (FORCE) but rewritten only when the list changes, so a
# stale list never survives and an unchanged one keeps its timestamp.
$(POLICY_GEN_H): FORCE
	@mkdir -p $(dir $@)
	@{ echo 'define POLICY_BUILTIN_FILES \'; i=0; for f in $(POLICY_FILES); do \
	    echo "    POLICY_BUILTIN_FILE($$i, \"$$(echo $$f | sed 's|^policy/||')\", \"$(abspath .)/$$f\") \\"; i=$$((i+1)); done; echo; } \
	  | sed '1s/^/\x23/' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: FORCE
FORCE:
$(foreach v,host asan fhost,$(call obj,$(v),src/policy/builtin.c)): $(POLICY_GEN_H) $(POLICY_FILES)
# A compiler cache cannot see the files pulled in with .incbin: never use one here.
$(foreach v,host asan fhost,$(call obj,$(v),src/policy/builtin.c)): export CCACHE_DISABLE := 1
# The constitution's own Rego tests, and the decision latency bench.
.PHONY: test-policy bench-policy
test-policy: $(BUILD)/enclave
	$(BUILD)/enclave policy test policy/
$(BUILD)/policy-bench: bench/policy_bench.c $(BUILD)/libenclave.a
	$(CC) $(HOST_CFLAGS) -o $@ $< $(BUILD)/libenclave.a $(PKG_LIBS)
bench-policy: $(BUILD)/policy-bench
	$(BUILD)/policy-bench --dir $(BUILD)/bench-policy
TEST_TARGETS  += test-policy
BENCH_TARGETS += bench-policy
# The offline policy verbs (bench, fmt) on the real binary: a few seconds.
.PHONY: test-policy-cli
test-policy-cli: $(BUILD)/enclave
	ENCLAVE_BIN=$(abspath $(BUILD)/enclave) /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/policy
TEST_TARGETS += test-policy-cli

# ---------------------------------------------------------------- fuzz smoke
# Every harness builds and survives a few seconds on its seeds and random input.
.PHONY: test-fuzz
test-fuzz: fuzz
	FUZZ_SECONDS=$${FUZZ_SECONDS:-8} tests/fuzz-smoke.sh
TEST_TARGETS += test-fuzz
# ---------------------------------------------------------------- guest smoke
# Boots build/enclave-init as PID 1 in QEMU microvm (TCG) with Debian's cloud
# kernel and talks the guest protocol to it over virtio-serial. The kernel and
# a static busybox are fetched once into build/guest-smoke with apt-get download.
test-guest: $(BUILD)/enclave-init
	/usr/bin/python3 tests/guest/smoke.py --cache $(BUILD)/guest-smoke
.PHONY: test-guest
TEST_TARGETS += test-guest
# ---------------------------------------------------------------- firecracker (the Firecracker VM driver)
# A real daemon with --vmm firecracker against fake_firecracker.py, which holds
# every API request to tests/firecracker/spec/firecracker.yaml and hands the hybrid
# vsock stream to the real enclave-init. No real Firecracker VM runs here.
.PHONY: test-firecracker
test-firecracker: $(BUILD)/enclave $(BUILD)/enclave-init
	tests/firecracker/run
TEST_TARGETS += test-firecracker
# make bench-guest: framing decode rate and the exec round trip of the init's
# server on the host (prints numbers).
$(BUILD)/guest-bench: bench/guest_bench.c $(GUEST_OBJS)
	$(CC) $(GUEST_CFLAGS) -o $@ $< $(GUEST_OBJS) -l:libprotobuf-c.a -l:libhttp_parser.a
.PHONY: bench-guest
bench-guest: $(BUILD)/guest-bench
	$(BUILD)/guest-bench
BENCH_TARGETS += bench-guest
# ---------------------------------------------------------------- sdk + mcp
# test-sdk: the Python SDK (clients/python) against a real daemon and real VMs,
# the README's snippet verbatim among them. test-mcp: `enclave mcp` driven by
# the official MCP TypeScript SDK (pinned in tests/mcp/package-lock.json,
# installed into $(BUILD)/mcp-node by tests/mcp/setup.sh with the machine's
# npm) and by protocol-level tests with hostile input.
.PHONY: test-sdk test-mcp
test-sdk: $(BUILD)/enclave
	@$(E2E_IMAGE)
	cd tests/sdk && ENCLAVE_E2E_HOME=$(E2E_HOME) ENCLAVE_BIN=$(abspath $(BUILD)/enclave) \
	    ENCLAVE_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider .
test-mcp: $(BUILD)/enclave
	@$(E2E_IMAGE)
	BUILD=$(BUILD) tests/mcp/setup.sh
	cd tests/mcp && ENCLAVE_E2E_HOME=$(E2E_HOME) ENCLAVE_BIN=$(abspath $(BUILD)/enclave) \
	    ENCLAVE_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider .
TEST_TARGETS += test-sdk test-mcp
# ---------------------------------------------------------------- workspace: files, code, image variants
# test-files: files (HTTP routes, Connect, gRPC; a 200 MiB round trip each way
# with the daemon's RSS printed), refused symlinks and paths, a denied write,
# and RunCode (state, rich results, errors, interrupt and restart), on real
# VMs. test-image-variant: builds the numpy variant (packages from the Debian
# archive) and boots it. Both are part of the e2e run as well.
.PHONY: test-files test-image-variant
test-files test-image-variant: $(BUILD)/enclave
	@$(E2E_IMAGE)
	cd tests/e2e && ENCLAVE_E2E_HOME=$(E2E_HOME) ENCLAVE_BIN=$(abspath $(BUILD)/enclave) \
	    ENCLAVE_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -s -p no:cacheprovider \
	    $(if $(filter test-files,$@),test_files_code.py,test_image_variant.py)
# ---------------------------------------------------------------- rego: Unicode tables, Go semantics
# src/rego/unicode_tables.c is generated from Perl's Unicode::UCD by
# tools/gen-unicode-tables.pl and committed; regenerate it with this target.
.PHONY: unicode-tables
unicode-tables:
	perl tools/gen-unicode-tables.pl > src/rego/unicode_tables.c.tmp
	mv src/rego/unicode_tables.c.tmp src/rego/unicode_tables.c
# ---------------------------------------------------------------- host boundary
# make test-hardening: the binaries carry full RELRO, a stack protector,
# FORTIFY and PIE (tests/check-hardening.sh; build_release.sh checks dist/enclave).
.PHONY: test-hardening
test-hardening: $(BUILD)/enclave $(BUILD)/enclave-init
	tests/check-hardening.sh $(BUILD)/enclave $(BUILD)/enclave-init
TEST_TARGETS += test-hardening
# ---------------------------------------------------------------- web ui
# make test-ui: the Web UI in headless Chromium (Debian's chromium,
# chromium-driver, python3-selenium; scripts/install-deps installs them when
# missing) against a real daemon and real VMs. Saves a screenshot of each
# panel into docs/ui/ (ENCLAVE_UI_SHOTS=DIR to put them elsewhere).
.PHONY: test-ui
test-ui: $(BUILD)/enclave
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
	    /usr/bin/python3 -c 'import selenium' 2>/dev/null || scripts/install-deps
	@$(E2E_IMAGE)
	ENCLAVE_E2E_HOME=$(E2E_HOME) ENCLAVE_BIN=$(abspath $(BUILD)/enclave) \
	    ENCLAVE_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/ui
TEST_TARGETS += test-ui
# ---------------------------------------------------------------- the repository alone
# A clone with nothing next to it builds and passes the tests that read
# vendored files (not in `make test`: it builds everything again).
.PHONY: test-clone
test-clone:
	tests/fresh-clone.sh
# ---------------------------------------------------------------- egress
# make test-egress: the host side's unit tests (a scripted guest, the address
# checks, the resolver, secret injection, TLS, reading the server's answer,
# the secret store) and the end-to-end tests with real VMs and the guest's
# proxy (both are also in test-unit and test-e2e). make bench-egress: only the
# egress rows of bench-daemon (a download through a session's proxy next to a
# direct one).
EGRESS_UNIT_TESTS := $(addprefix $(BUILD)/test/,egress/addr_test egress/resolver_test \
    egress/egress_test egress/inject_test egress/tls_test egress/answer_test secret/secret_test)
.PHONY: test-egress bench-egress
test-egress: $(EGRESS_UNIT_TESTS) $(BUILD)/enclave $(BUILD)/enclave-init
	for t in $(EGRESS_UNIT_TESTS); do ASAN_OPTIONS=detect_leaks=1 $$t || exit 1; done
	@$(E2E_IMAGE)
	cd tests/e2e && ENCLAVE_E2E_HOME=$(E2E_HOME) ENCLAVE_BIN=$(abspath $(BUILD)/enclave) \
	    ENCLAVE_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider test_egress.py
bench-egress: $(BUILD)/enclave
	@$(E2E_IMAGE)
	/usr/bin/python3 bench/daemon_bench.py --enclave $(BUILD)/enclave --image-home $(E2E_HOME) --only egress
# ---------------------------------------------------------------- rego: OPA as the oracle
# make test-rego-diff (in `make test`): every conformance case, the
# constitution's tests (policy/) and 3000 generated, mutated, schema and
# template cases of one fixed seed through Enclave (build/rego-diff) and OPA
# (Go, the version pinned in bench/peers/opa/go.mod, fetched by go through
# the module proxy into build/peers on first use, as for bench-rego). Fails
# on any disagreement that is not a documented divergence
# (tests/rego/diff/divergences.json, each also in docs/rego.md).
# make fuzz-rego-diff: the same with a new seed each run, for longer;
# prints a summary, saves each disagreement under build/rego-diff-repro/.
# REGO_DIFF_ITERATIONS, REGO_DIFF_SECONDS, REGO_DIFF_SEED bound and repeat a
# run. Not part of `make test`.
.PHONY: test-rego-diff fuzz-rego-diff
$(BUILD)/peers/opa-diff: bench/peers/opa/diff/main.go bench/peers/opa/go.mod bench/peers/opa/go.sum
	@command -v go >/dev/null || { echo "$@: needs go (the Go toolchain of bench/peers/opa/go.mod) to build OPA's harness"; exit 1; }
	@mkdir -p $(BUILD)/peers
	cd bench/peers/opa && GOMODCACHE=$(abspath $(BUILD))/peers/gomod GOCACHE=$(abspath $(BUILD))/peers/gocache \
	    GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -o $(abspath $@) ./diff
test-rego-diff: $(BUILD)/rego-diff $(BUILD)/peers/opa-diff
	BUILD=$(BUILD) python3 tests/rego/diff/run.py --check
TEST_TARGETS += test-rego-diff
fuzz-rego-diff: $(BUILD)/rego-diff $(BUILD)/peers/opa-diff
	BUILD=$(BUILD) python3 tests/rego/diff/run.py tests/rego/opa-conformance $(REGO_CASES)
# make test-rego-fmt: every conformance case again with each module put
# through the formatter (rego_format) first: formatting must succeed, be
# idempotent and leave every case passing (build/rego-conformance --fmt).
.PHONY: test-rego-fmt
test-rego-fmt: $(BUILD)/rego-conformance
	$(BUILD)/rego-conformance --fmt --skip tests/rego/skip.txt $(OPA_CONFORMANCE) $(REGO_CASES)
TEST_TARGETS += test-rego-fmt
# src/rego/typecheck_sigs.h: the builtin declarations the type checker
# (src/rego/typecheck.c) checks against, generated from OPA's (the version
# pinned in bench/peers/opa/go.mod) for every builtin in REGO_BUILTINS;
# committed, regenerate it with this target after adding a builtin.
.PHONY: rego-typesigs
rego-typesigs:
	cd bench/peers/opa && GOMODCACHE=$(abspath $(BUILD))/peers/gomod GOCACHE=$(abspath $(BUILD))/peers/gocache \
	    GOFLAGS=-mod=mod GOTOOLCHAIN=local go run ./typesigs \
	    $$(sed -n '/#define REGO_BUILTINS/,/^$$/p' $(CURDIR)/src/rego/builtins.c | grep -o 'X("[^"]*"' | sed 's/X("//;s/"//') \
	    > $(CURDIR)/src/rego/typecheck_sigs.h.tmp
	mv src/rego/typecheck_sigs.h.tmp src/rego/typecheck_sigs.h

# ---------------------------------------------------------------- docs
# make test-docs: every environment variable the source (src/, the Python
# SDK) reads is named on docs/environment.md (a second, no build needed).
.PHONY: test-docs
test-docs:
	/usr/bin/python3 tests/docs/check_environment.py $(CURDIR)
TEST_TARGETS += test-docs
