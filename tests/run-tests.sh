#!/usr/bin/env bash
# The project's test runner (`make test`): runs each suite below, echoes its
# lines, and ends with the total as "N passed, N failed".  Exit status 1 if
# anything failed.
#
#   tests/run-tests.sh [unit|integration|daemon|bench]...   (default: all)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
cd "$ROOT" || exit 1

# shellcheck source-path=SCRIPTDIR source=lib/tally.sh
. tests/lib/tally.sh

# run_suite NAME CMD...: run one suite, add its "N passed, N failed" line.
run_suite() {
	local name=$1 out rc
	shift
	echo "== $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	tally_add "$out" "$rc" "$name"
	rm -f "$out"
}

# 50000 fuzzer inputs, fixed seed: frames, requests and JSON never crash
fuzz_smoke() {
	local log
	log=$(mktemp)
	if "$BUILD/fuzz/fuzz_input" -runs=50000 -seed=1 -max_len=4096 >"$log" 2>&1; then
		echo "ok fuzz smoke: 50000 inputs, no crash, no leaked arena"
		rm -f "$log"
		return 0
	fi
	echo "FAIL fuzz smoke:"
	tail -30 "$log"
	rm -f "$log"
	return 1
}

# State and Kill sent while Create is in flight wait for it (no UNKNOWN
# status, no "no such container")
create_race() {
	local log
	log=$(mktemp)
	if tests/compat/create-race.sh 8 >"$log" 2>&1; then
		echo "ok calls during create wait for it (8 containers)"
		rm -f "$log"
		return 0
	fi
	echo "FAIL calls during create:"
	tail -20 "$log"
	rm -f "$log"
	return 1
}

# The parity tests that need containerd 2.x (user namespaces on overlayfs,
# the blockfile snapshotter's loop mounts), on Debian's containerd 2.1
# (unpacked privately by tests/compat/fetch-containerd.sh), with this shim
# and then with that package's own Go shim, so that a failure is known to
# be ours or not.  No archive reachable and nothing cached: one FAIL line.
parity_2x() {
	local bin own go
	if ! bin=$(tests/compat/fetch-containerd.sh sid 2>/tmp/parity-fetch.log); then
		echo "FAIL containerd 2.x for the parity tests: $(tail -n 1 /tmp/parity-fetch.log)"
		return 1
	fi
	echo "# containerd $("$bin/containerd" --version | awk '{print $3}') from $bin"
	local pats=(userns_overlay blockfile_loop runc_options_argv)
	own=$(CONTAINERD_BIN_DIR=$bin CTRD_SNAPSHOTTERS="overlayfs blockfile" \
		tests/integration/run.sh "${pats[@]}" 2>&1)
	go=$(RUNTIME=io.containerd.runc.v2 SHIM_DIR=$bin CONTAINERD_BIN_DIR=$bin \
		CTRD_SNAPSHOTTERS="overlayfs blockfile" tests/integration/run.sh "${pats[@]}" 2>&1)
	# the Go shim's lines for comparison, then ours, whose summary counts
	printf '%s\n' "$go" | sed -e 's/^/# go shim: /'
	printf '%s\n' "$own"
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit integration bench)
for s in "${suites[@]}"; do
	case $s in
	unit)
		run_suite "unit: codecs, framing, arena, flags, json, ttrpc server" \
			"$BUILD/unit/test_unit"
		run_suite "unit: cgroup stats and OOM (real cgroups)" "$BUILD/unit/test_cgroup"
		run_suite "unit: lifecycle model (no server, no runc)" "$BUILD/unit/test_lifecycle"
		run_suite "unit: fuzz smoke" fuzz_smoke
		run_suite "unit: smaps parser" env SMAPS="$BUILD/tools/smaps" \
			bash tests/unit/test_smaps.sh
		run_suite "unit: the runners' totals (tests/lib/tally.sh)" tests/unit/test_tally.sh
		;;
	integration)
		run_suite "integration: private containerd + real runc" \
			tests/integration/run.sh
		run_suite "integration: calls racing Create" create_race
		run_suite "daemon: lifecycle races and hostile clients (fake runc)" \
			tests/daemon/run.py
		run_suite "integration on containerd 2.1: user namespaces, loop rootfs (own, then the Go shim)" \
			parity_2x
		;;
	bench)
		if [ -x tests/bench_smoke.sh ]; then
			run_suite "bench smoke" tests/bench_smoke.sh
		fi
		;;
	*)
		echo "unknown suite $s" >&2
		exit 2
		;;
	esac
done
tally_line
[ "$TALLY_FAIL" -eq 0 ]
