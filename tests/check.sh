#!/usr/bin/env bash
#
# `make check`: every tier CI runs, with the wall time of each at the end,
# then the total as "N passed, N failed".  .ci/run calls it.
#
#   tests/check.sh [TIER...]        (default: all of them, in this order)
#
#   fast        make test: unit, daemon, core integration, output sample
#   integration the other integration tests (scale: a pod of 500, 10 000
#               Waits, 1000 connections; robustness, parity, cgroups;
#               checkpoint/restore with sid's CRIU, ours and the Go shim)
#   output      the output-integrity matrix, 1000 runs (OUTPUT_RUNS)
#   compat      containerd 1.7 and 2.1, own and stock
#   bench       the benchmarks' smoke test
#   suite       containerd's own integration suite (../shared)
#   cross       make test-cross (aarch64, armhf, riscv64 under qemu-user)
#   packaging   make test-packaging
#   vm          make test-vm (cgroup v2, initramfs root, aarch64 board)
#
# COMPARE=go adds the Go shim's comparison runs (compat, the guests, the
# whole output matrix); they never count, and are not in CI.
# What the later tiers download (containerd packages, guest kernels, the
# board) is fetched in the background while the first tiers run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# shellcheck source=lib/tally.sh
. tests/lib/tally.sh

tiers=("$@")
[ ${#tiers[@]} -eq 0 ] && tiers=(fast integration output compat bench suite cross packaging vm)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
TIMES=()

want() { case " ${tiers[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

# fetches for the later tiers, overlapping the first ones (each script is
# idempotent and caches; the tier runs it again and finds it done)
prefetch=()
if want compat; then
	tests/compat/fetch-containerd.sh trixie >"$logs/fetch-trixie" 2>&1 &
	prefetch+=($!)
	tests/compat/fetch-containerd.sh sid >"$logs/fetch-sid" 2>&1 &
	prefetch+=($!)
fi
if want integration || want suite; then
	tests/criu/fetch-criu.sh >"$logs/fetch-criu" 2>&1 &
	prefetch+=($!)
fi
if want vm; then
	{ tests/vm/fetch-kernel.sh && tests/vm/fetch-arm64.sh; } >"$logs/fetch-vm" 2>&1 &
	prefetch+=($!)
fi

# tier NAME CMD...: run it, count it, time it
tier() {
	local name=$1 t0=$SECONDS
	shift
	echo "== check: $name"
	"$@" 2>&1 | tee "$logs/$name"
	tally_add "$logs/$name" "${PIPESTATUS[0]}" "$name"
	TIMES+=("$(printf '%-12s %3d:%02d' "$name" $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)))")
}

containerd_suite() {
	local suite=${CONTAINERD_SUITE:-} d
	if [ -z "$suite" ]; then
		for d in "$PWD/../shared" /work/shared; do
			if [ -x "$d/containerd-suite/run.sh" ]; then
				suite=$d/containerd-suite/run.sh
				break
			fi
		done
	fi
	if [ -z "$suite" ]; then
		echo "# containerd's integration suite is not on this machine; not run"
		echo "0 passed, 0 failed"
		return 0
	fi
	CONTAINERD_SUITE=$suite tests/suite/run.sh build/containerd-shim-runc-v2-c
}

start=$SECONDS
for t in "${tiers[@]}"; do
	case $t in
	fast | integration | output | compat | bench)
		if [ "$t" = compat ] || [ "$t" = vm ]; then
			for p in "${prefetch[@]}"; do wait "$p"; done
			prefetch=()
		fi
		tier "$t" tests/run-tests.sh "$t"
		;;
	suite) tier suite containerd_suite ;;
	cross) tier cross make --no-print-directory test-cross ;;
	packaging) tier packaging make --no-print-directory test-packaging ;;
	vm)
		for p in "${prefetch[@]}"; do wait "$p"; done
		prefetch=()
		tier vm make --no-print-directory test-vm
		;;
	*)
		echo "unknown tier $t" >&2
		exit 2
		;;
	esac
done
echo "# check: wall time per tier (total $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s):"
printf '#   %s\n' "${TIMES[@]}"
echo "check: ${tiers[*]}"
tally_line
[ "$TALLY_FAIL" -eq 0 ]
