#!/usr/bin/env bash
# The project's test runner: runs the tiers named, echoes their lines, and
# ends with the total as "N passed, N failed".  Exit status 1 if anything
# failed.  tests/README.md says which tier holds what.
#
#   tests/run-tests.sh [TIER]...      (default: fast)
#
#   fast           make test: unit, daemon (fake runc), the core
#                  integration tests and the output sample; a few minutes
#   unit daemon core output-sample   its parts, one by one
#   integration    the other integration tests (scale, robustness, parity,
#                  cgroups), calls racing Create, and checkpoint/restore
#                  with sid's CRIU (tests/criu: ours and the Go shim)
#   output         the output matrix, OUTPUT_RUNS (1000) runs
#   compat         containerd 1.7 and 2.1 (COMPARE=go: the Go shim beside)
#   bench          the benchmarks' smoke test
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

# The integration tests of the fast tier (make test): what every change
# must keep working, through a real containerd and runc.
CORE_TESTS="echo exit_codes exit_sigkill nosuchcmd stdin stderr tty exec detached pause oom
events pod_group stock_name binary_logger"

# The integration tests on containerd 1.7 and 2.1 (Debian's trixie and sid
# packages, unpacked privately by tests/compat/fetch-containerd.sh): the
# core ones and those that need 2.x (user namespaces on overlayfs, the
# blockfile snapshotter's loop mounts, the runc options' argv) and the
# upgrade in place (ctr --runtime PATH, as containerd 1.6 does), with this
# shim as io.containerd.runc.v2-c and installed as the stock shim.  With
# COMPARE=go the Go shim of the 2.1 package runs the 2.x ones too, its
# lines beside ours.  No archive reachable and nothing cached: a FAIL line.
compat() {
	local pats=() t bin
	for t in $CORE_TESTS userns_overlay blockfile_loop runc_options_argv upgrade_under_load \
		upgrade_refused; do pats+=("=$t"); done
	CTRD_SNAPSHOTTERS="overlayfs blockfile" COMPAT_SUITES="trixie sid" \
		tests/compat/run.sh "${pats[@]}"
	local rc=$?
	if [ "${COMPARE:-}" = go ] && bin=$(tests/compat/fetch-containerd.sh sid 2>/dev/null); then
		RUNTIME=io.containerd.runc.v2 SHIM_DIR=$bin CONTAINERD_BIN_DIR=$bin \
			CTRD_SNAPSHOTTERS="overlayfs blockfile" tests/integration/run.sh \
			=userns_overlay =blockfile_loop =runc_options_argv 2>&1 | sed -e 's/^/# go shim: /'
	fi
	return $rc
}

# run_parallel NAME CMD [NAME CMD]...: suites side by side (they are
# mostly waiting), CMD a shell command line; each one's lines are printed
# when all are done, in order
run_parallel() {
	local names=() pids=() outs=() k
	while [ $# -ge 2 ]; do
		k=${#names[@]}
		names[k]=$1
		outs[k]=$(mktemp)
		(bash -c "$2" >"${outs[k]}" 2>&1; echo $? >"${outs[k]}.rc") &
		pids[k]=$!
		shift 2
	done
	for k in "${!names[@]}"; do
		wait "${pids[k]}"
		echo "== ${names[k]}"
		cat "${outs[k]}"
		tally_add "${outs[k]}" "$(cat "${outs[k]}.rc")" "${names[k]}"
		rm -f "${outs[k]}" "${outs[k]}.rc"
	done
}

# tier_time NAME SECONDS: the wall time of each tier, for the end
TIER_TIMES=()
tier_time() { TIER_TIMES+=("$(printf '%-28s %4d:%02d' "$1" $(($2 / 60)) $(($2 % 60)))"); }

unit_suites() {
	run_suite "unit: codecs, framing, arena, flags, json, ttrpc server" \
		"$BUILD/unit/test_unit"
	run_suite "unit: cgroup stats and OOM (real cgroups)" "$BUILD/unit/test_cgroup"
	run_suite "unit: lifecycle model (no server, no runc)" "$BUILD/unit/test_lifecycle"
	run_suite "unit: fuzz smoke" fuzz_smoke
	run_suite "unit: smaps parser" env SMAPS="$BUILD/tools/smaps" \
		bash tests/unit/test_smaps.sh
	run_suite "unit: the bench's cgroup wrapper (tools/cgexec)" env CGEXEC="$BUILD/tools/cgexec" \
		bash tests/unit/test_cgexec.sh
	run_suite "unit: the runners' totals (tests/lib/tally.sh)" tests/unit/test_tally.sh
	run_suite "unit: the layers (tools/layers.sh)" tests/unit/test_layers.sh
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(fast)
for s in "${suites[@]}"; do
	t0=$SECONDS
	case $s in
	unit) unit_suites ;;
	fast)
		# the unit tiers, then the daemon's tests beside the core
		# integration tests and the output sample
		unit_suites
		run_parallel \
			"daemon: lifecycle races and hostile clients (fake runc)" tests/daemon/run.py \
			"integration (core): private containerd + real runc" \
			"tests/integration/run.sh $(printf '=%s ' $CORE_TESTS)" \
			"output integrity: the fixed sample" "tests/output/run.sh --sample"
		;;
	daemon)
		run_suite "daemon: lifecycle races and hostile clients (fake runc)" \
			tests/daemon/run.py
		;;
	core)
		# shellcheck disable=SC2046 # words
		run_suite "integration (core): private containerd + real runc" \
			tests/integration/run.sh $(printf '=%s ' $CORE_TESTS)
		;;
	output-sample)
		run_suite "output integrity: the fixed sample" tests/output/run.sh --sample
		;;
	integration)
		# everything but the core tests (the fast tier has run them)
		run_suite "integration: the rest (scale, robustness, parity, cgroups)" \
			env EXCLUDE="$(echo $CORE_TESTS)" tests/integration/run.sh
		run_suite "integration: calls racing Create" create_race
		run_suite "checkpoint/restore with a real CRIU (ours, the Go shim)" tests/criu/run.sh
		;;
	output)
		run_suite "output integrity: ${OUTPUT_RUNS:-1000} runs (seed ${OUTPUT_SEED:-1})" \
			tests/output/run.sh --runs "${OUTPUT_RUNS:-1000}" --seed "${OUTPUT_SEED:-1}" --jobs 3
		;;
	compat)
		run_suite "compat: containerd 1.7 and 2.1, own and stock" compat
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
	tier_time "$s" $((SECONDS - t0))
done
if [ ${#TIER_TIMES[@]} -gt 1 ]; then
	echo "# wall time per tier:"
	printf '#   %s\n' "${TIER_TIMES[@]}"
fi
tally_line
[ "$TALLY_FAIL" -eq 0 ]
