# containerd-shim-runc-v2-c: a static C containerd shim v2 for runc.
#
#   make deps     install the Debian packages the build and the tests need
#   make          build build/containerd-shim-runc-v2-c (static, musl)
#   make test     the fast tier (a few minutes): unit, daemon (fake runc), the
#                 core integration tests and the output sample
#   make check    every tier CI runs (tests/check.sh; tests/README.md)
#   make test-vm  the integration suite in qemu guests (cgroup v2; initramfs
#                 root; an emulated aarch64 board)
#   make demo     run one container through a private containerd with this shim
#   make bench    footprint and speed benchmarks (report under bench/)
#   make ARCH=aarch64|armhf|riscv64|x86_64
#                 build build/<arch>/containerd-shim-runc-v2-c with musl for
#                 that architecture (third_party/musl-cross.sh)
#   make ARCH=... test-qemu-user
#                 the unit tests and the daemon's tests of that build, run
#                 under qemu-user (qemu-<arch>-static)

CC        ?= musl-gcc
ifeq ($(origin CC),default)
CC        := musl-gcc
endif
ARCHES    := x86_64 aarch64 armhf riscv64
ARCH      ?=
ifneq ($(ARCH),)
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error ARCH=$(ARCH): not one of $(ARCHES))
endif
BUILD     := build/$(ARCH)
# MUSL_CC: a musl-gcc for ARCH already built (packaging/release.sh)
CC        := $(or $(MUSL_CC),$(shell third_party/musl-cross.sh $(ARCH)),$(error no musl-gcc for $(ARCH): third_party/musl-cross.sh $(ARCH) failed))
endif
BUILD     ?= build
GEN       := $(BUILD)/gen
NANOPB_SRC ?= third_party/src/nanopb
JSMN_SRC   ?= third_party/src/jsmn
VERSION   ?= 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
DOCDIR    ?= $(PREFIX)/share/doc/containerd-shim-runc-v2-c
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

BASE_CFLAGS := -std=gnu11 -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-stack-protector -D_GNU_SOURCE \
	-ffile-prefix-map=$(CURDIR)=. \
	-DPB_NO_PACKED_STRUCTS -I src -I $(GEN) -I $(NANOPB_SRC) -I $(JSMN_SRC)
OUR_CFLAGS  := $(BASE_CFLAGS) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-DSHIM_VERSION='"$(VERSION)"' -DSHIM_REVISION='"$(REVISION)"' $(EXTRA_CFLAGS)
# -z noseparate-code: the headers, code and read-only data share one
# mapping instead of three page-aligned ones (the default since binutils
# 2.31): 8 KiB less file and 8 kB less RSS per shim, at the price of
# read-only data being executable (a few more gadgets for a ROP chain in a
# binary with no writable code and no dynamic loader).  -z norelro: a
# static musl binary (no loader) never applies PT_GNU_RELRO, and its
# alignment padded the aarch64 file (64 KiB pages) by 48 KiB.
# src/cold.ld: the code an idle daemon never runs, in a stretch of its own.
LDFLAGS     := -static -Wl,--gc-sections -Wl,--sort-section=alignment -Wl,-z,noseparate-code \
	-Wl,-z,norelro -Wl,-T,src/cold.ld -s

PROTOS := google_protobuf_any google_protobuf_empty google_protobuf_timestamp \
	google_rpc_status ttrpc containerd_types_mount containerd_v1_types_task \
	containerd_task_v2 containerd_events_task containerd_services_events_ttrpc_v1 \
	containerd_runc_v1_options containerd_runtime_bootstrap_v1 \
	cgroups_v1_metrics cgroups_v2_metrics runtimeoptions_v1 shim_upgrade
GEN_C   := $(PROTOS:%=$(GEN)/%.pb.c)
GEN_H   := $(PROTOS:%=$(GEN)/%.pb.h)
SRCS    := $(wildcard src/*.c)
OBJS    := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
GEN_O   := $(PROTOS:%=$(BUILD)/obj/gen/%.pb.o)
PB_O    := $(BUILD)/obj/pb/pb_common.o $(BUILD)/obj/pb/pb_encode.o $(BUILD)/obj/pb/pb_decode.o
BIN     := $(BUILD)/containerd-shim-runc-v2-c

.PHONY: all deps fetch test check test-vm test-vm-all unit integration suite demo bench bench-memory \
	cross unit-bins test-qemu-user test-cross install uninstall deb release test-packaging \
	bench-speed fuzz fmt clean tools upgrade-variants
all: $(BIN) tools

deps:
	tools/deps.sh

fetch: $(NANOPB_SRC)/pb.h $(JSMN_SRC)/jsmn.h
# one fetch for both (make -j would run it twice), and the sources it brings
$(NANOPB_SRC)/pb.h $(JSMN_SRC)/jsmn.h &:
	third_party/fetch.sh
$(NANOPB_SRC)/pb_common.c $(NANOPB_SRC)/pb_encode.c $(NANOPB_SRC)/pb_decode.c: $(NANOPB_SRC)/pb.h

$(GEN)/%.pb.c $(GEN)/%.pb.h: proto/%.proto proto/*.options
	@mkdir -p $(GEN)
	cd proto && nanopb_generator.py -q -I. -D ../$(GEN) $*.proto

# The flags (VERSION, REVISION, EXTRA_CFLAGS) are part of what an object is
# made of: a build with other ones rebuilds it (a package of another
# version, a variant for the upgrade tests).
FLAGS_STAMP := $(BUILD)/obj/cflags.stamp
$(shell mkdir -p $(BUILD)/obj && { echo '$(OUR_CFLAGS) $(LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || echo '$(OUR_CFLAGS) $(LDFLAGS)' >$(FLAGS_STAMP); })

$(BUILD)/obj/%.o: src/%.c $(GEN_H) $(NANOPB_SRC)/pb.h $(JSMN_SRC)/jsmn.h $(wildcard src/*.h) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(OUR_CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/%.pb.o: $(GEN)/%.pb.c $(GEN_H) $(NANOPB_SRC)/pb.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/obj/pb/%.o: $(NANOPB_SRC)/%.c $(NANOPB_SRC)/pb.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -c $< -o $@

$(BIN): $(OBJS) $(GEN_O) $(PB_O) $(FLAGS_STAMP) src/cold.ld
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^)
	$(CC) $(filter-out -s,$(LDFLAGS)) -o $@.debug $(filter %.o,$^)
	@echo "$@: $$(stat -c %s $@) bytes"

tools:
	$(MAKE) -C tools BUILD=../$(BUILD) CC=$(CC)

# Unit tests run natively with sanitizers (gcc), against the same sources.
# With ARCH, they are built with that architecture's musl, static, without
# sanitizers, to run under qemu-user (make ARCH=... test-qemu-user).
UNIT_CC     ?= gcc
UNIT_SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer
ifneq ($(ARCH),)
UNIT_CC     := $(CC)
UNIT_SAN    := -static
endif
UNIT_CFLAGS := $(BASE_CFLAGS) -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	$(UNIT_SAN) -I tests/unit
UNIT_SRCS   := $(filter-out src/main.c,$(SRCS))

# one file of tests per module (tests/unit/unit_*.c), one binary
UNIT_TESTS  := $(wildcard tests/unit/unit_*.c)
$(BUILD)/unit/test_unit: tests/unit/test_unit.c $(UNIT_TESTS) tests/unit/unit.h tests/unit/check.h \
		$(UNIT_SRCS) $(GEN_C) $(GEN_H) $(NANOPB_SRC)/pb.h $(JSMN_SRC)/jsmn.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ tests/unit/test_unit.c $(UNIT_TESTS) $(UNIT_SRCS) $(GEN_C) \
		$(NANOPB_SRC)/pb_common.c $(NANOPB_SRC)/pb_encode.c $(NANOPB_SRC)/pb_decode.c

$(BUILD)/unit/test_cgroup: tests/unit/test_cgroup.c tests/unit/check.h src/cgroup.c src/cgstats.c src/arena.c src/pbcb.c \
		src/loop.c src/pages.c $(GEN_C) $(GEN_H) $(NANOPB_SRC)/pb.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ tests/unit/test_cgroup.c src/cgroup.c src/cgstats.c src/arena.c \
		src/pbcb.c src/loop.c src/pages.c $(GEN_C) $(NANOPB_SRC)/pb_common.c \
		$(NANOPB_SRC)/pb_encode.c $(NANOPB_SRC)/pb_decode.c

# The lifecycle model alone: no ttrpc, no events (they must not be needed).
LC_SRCS := src/container.c src/console.c src/state.c src/strblock.c src/pages.c src/cgroup.c src/procio.c src/copy.c src/runc.c src/slots.c src/spawn.c src/loop.c \
	src/log.c src/json.c src/arena.c src/pbcb.c
$(BUILD)/unit/test_lifecycle: tests/unit/test_lifecycle.c tests/unit/check.h $(LC_SRCS) $(GEN_H) $(NANOPB_SRC)/pb.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ tests/unit/test_lifecycle.c $(LC_SRCS) \
		$(NANOPB_SRC)/pb_common.c $(NANOPB_SRC)/pb_encode.c $(NANOPB_SRC)/pb_decode.c

UNIT_BINS := $(BUILD)/unit/test_unit $(BUILD)/unit/test_cgroup $(BUILD)/unit/test_lifecycle \
	$(BUILD)/fuzz/fuzz_input

# the unit tests a cross build runs under qemu-user (no libFuzzer there)
unit-bins: $(filter-out %/fuzz_input,$(UNIT_BINS))

CROSS_ARCHES := aarch64 armhf riscv64
cross:
	for a in $(ARCHES); do $(MAKE) --no-print-directory ARCH=$$a all || exit 1; done

test-qemu-user: all unit-bins
	tests/cross/qemu-user.sh $(ARCH)

test-cross: deps
	for a in $(CROSS_ARCHES); do $(MAKE) --no-print-directory ARCH=$$a all unit-bins || exit 1; done
	tests/cross/qemu-user.sh $(CROSS_ARCHES)

unit: deps $(UNIT_BINS) all
	tests/run-tests.sh unit

integration: deps all
	tests/run-tests.sh integration

suite: all
	tests/suite/run.sh $(BIN)

test: deps $(UNIT_BINS) all
	tests/run-tests.sh fast

check: deps $(UNIT_BINS) all
	tests/check.sh

# the integration suite in qemu guests: cgroup v2 (all of it), an
# initramfs root and the emulated aarch64 board (the ordinary container
# tests; test-vm-all: all of it)
# Builds the upgrade tests switch between (tests/integration/t_upgrade.sh):
# another version, one that crashes while it checks a state, one that reads
# another state format.
upgrade-variants: all
	$(MAKE) --no-print-directory BUILD=build/upgrade-b VERSION=$(VERSION)-b all
	$(MAKE) --no-print-directory BUILD=build/upgrade-crash VERSION=$(VERSION)-crash \
		EXTRA_CFLAGS=-DUPGRADE_CHECK_CRASH all
	$(MAKE) --no-print-directory BUILD=build/upgrade-f0 VERSION=$(VERSION)-f0 \
		EXTRA_CFLAGS=-DSTATE_FORMAT=0 all

test-vm: deps all upgrade-variants
	$(MAKE) --no-print-directory ARCH=aarch64 all
	tests/vm/test-vm.sh v2 initramfs aarch64

test-vm-all: deps all upgrade-variants
	$(MAKE) --no-print-directory ARCH=aarch64 all
	tests/vm/test-vm.sh --all v2 initramfs aarch64

demo: deps all
	tests/demo.sh

bench: all
	tools/bench.sh

bench-memory: all
	tools/bench-memory.sh

bench-speed: all
	tools/bench-speed.sh

# libFuzzer (clang) over frames, protobuf requests and JSON.
FUZZ_SECONDS ?= 60
FUZZ_SRCS := src/arena.c src/pages.c src/slots.c src/state.c src/ttrpc.c src/pbcb.c src/json.c src/toml.c src/options.c src/loop.c src/log.c $(GEN_C) \
	$(NANOPB_SRC)/pb_common.c $(NANOPB_SRC)/pb_encode.c $(NANOPB_SRC)/pb_decode.c
$(BUILD)/fuzz/fuzz_input: tests/fuzz/fuzz_input.c $(FUZZ_SRCS) $(GEN_H)
	@mkdir -p $(dir $@)
	clang $(BASE_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $@ \
		tests/fuzz/fuzz_input.c $(FUZZ_SRCS)

fuzz: $(BUILD)/fuzz/fuzz_input
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_input -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(BUILD)/fuzz/corpus

# make install [DESTDIR=...] [PREFIX=/usr/local] [BINDIR=$(PREFIX)/bin]
install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/containerd-shim-runc-v2-c
	install -d -m 0755 $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 README.md LICENSE $(DESTDIR)$(DOCDIR)/
	install -m 0644 examples/* $(DESTDIR)$(DOCDIR)/examples/
	install -D -m 0644 packaging/containerd-shim-runc-v2-c.8 $(DESTDIR)$(MANDIR)/man8/containerd-shim-runc-v2-c.8
	@echo "installed $(BINDIR)/containerd-shim-runc-v2-c; shims already running go on with"
	@echo "the version they run, until: $(BINDIR)/containerd-shim-runc-v2-c upgrade"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/containerd-shim-runc-v2-c
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(MANDIR)/man8/containerd-shim-runc-v2-c.8

# build/<arch>/containerd-shim-runc-v2-c_<version>_<debarch>.deb, for each
# architecture (DEB_ARCHES=x86_64 for one)
DEB_ARCHES ?= $(ARCHES)
deb:
	for a in $(DEB_ARCHES); do $(MAKE) --no-print-directory ARCH=$$a all || exit 1; \
		packaging/deb.sh build/$$a/containerd-shim-runc-v2-c $$a $(VERSION) build/$$a || exit 1; done

# every architecture built twice in clean trees (git archive of HEAD), which
# must be byte-identical; then dist/*.tar.gz, dist/*.deb and dist/SHA256SUMS
release:
	packaging/release.sh $(VERSION) $(ARCHES)

# make install/uninstall, the package (lintian, install, a container through
# it, purge), the examples in containerd 1.6 and 2.1 over CRI
test-packaging: deps all
	tests/packaging/run.sh

fmt:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c

clean:
	rm -rf $(BUILD)
