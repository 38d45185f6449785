#!/usr/bin/env bash
# The cross builds' tests under qemu-user (make test-cross, or
# make ARCH=<arch> test-qemu-user for one):
#
#   tests/cross/qemu-user.sh ARCH...     ARCH: aarch64 | armhf | riscv64
#
# For each ARCH, with build/<arch>/ built (make ARCH=<arch> and its unit
# tests), run under qemu-<arch>-static:
#   - the unit tests (codecs, framing, arena, json, ttrpc server, mounts;
#     cgroup stats on the host's cgroups; the lifecycle model);
#   - the daemon itself, driven over its socket by tests/daemon/run.py with
#     the fake runc: Connect, State, unknown methods, the hostile-input probe,
#     options, loggers, deadlines, a thousand connections, a client that
#     never reads.
# qemu-user 7.2 lacks PR_SET_CHILD_SUBREAPER, open_tree/mount_setattr and
# openat2, takes madvise advice without passing it on, and its threads keep
# unshare(CLONE_NEWUSER) from working, so the daemon tests that need a
# re-parented container's exit, idmapped or openat2-resolved mounts are left
# to the emulated aarch64 board (tests/vm/run.sh -p aarch64), and the unit
# tests skip those groups ("skip NAME: why"; QEMU_USER=1 tells them).
# Prints the lines of each and "N passed, N failed" in all.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

DAEMON_TESTS=(hostile_probe info_options logger_v2 logger_ready logger_fds cri_toml_options
	no_pivot file_log_dirs checkpoint_workdir failed_exec_answers_waits stale_exit_not_pinned
	create_pidfile_fails deadline caps thousand_conns never_reads)

# shellcheck source-path=SCRIPTDIR source=../lib/tally.sh
. tests/lib/tally.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for arch in "$@"; do
	qemu=qemu-${arch/armhf/arm}-static
	b=build/$arch
	if ! command -v "$qemu" >/dev/null; then
		echo "FAIL $arch: no $qemu (Debian's qemu-user-static; make deps)"
		TALLY_FAIL=$((TALLY_FAIL + 1))
		continue
	fi
	if [[ ! -x $b/containerd-shim-runc-v2-c || ! -x $b/unit/test_unit ]]; then
		echo "FAIL $arch: $b is not built (make ARCH=$arch all unit-bins)"
		TALLY_FAIL=$((TALLY_FAIL + 1))
		continue
	fi
	echo "# $arch: $(file -b "$b/containerd-shim-runc-v2-c" | cut -d, -f1-2), $(stat -c %s "$b/containerd-shim-runc-v2-c") bytes"
	for t in test_unit test_cgroup test_lifecycle; do
		QEMU_USER=1 timeout 300 "$qemu" "$b/unit/$t" >"$log" 2>&1
		rc=$?
		sed "s/^/$arch $t: /" "$log"
		tally_add "$log" "$rc" "$arch $t"
	done
	SHIM=$ROOT/$b/containerd-shim-runc-v2-c SHIM_WRAP=$qemu timeout 900 \
		tests/daemon/run.py "${DAEMON_TESTS[@]}" >"$log" 2>&1
	rc=$?
	sed "s/^/$arch daemon: /" "$log"
	tally_add "$log" "$rc" "$arch daemon"
done
tally_line
[ "$TALLY_FAIL" -eq 0 ]
