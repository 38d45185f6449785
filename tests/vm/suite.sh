#!/usr/bin/env bash
# Inside a tests/vm guest: the integration suite with this shim and, with
# COMPARE=go, then with the Go shim (Debian's, /usr/bin), and the summaries
# side by side.  The exit status is this shim's runs'; the Go shim's
# failures are there to tell ours from the environment's (they are in the
# README's tables; CI does not repeat them).
#
#   tests/vm/suite.sh [TEST_PATTERN...]      (VM_PROFILE is set by run.sh)
#
# Runs: "own" (this shim as io.containerd.runc.v2-c), on the aarch64 board
# also "stock" (the same binary installed as containerd-shim-runc-v2, the
# name of the Go shim, with the runtime io.containerd.runc.v2), then "go"
# if COMPARE=go.
# The last line is the total of this shim's runs, "N passed, N failed".
# The shim is build/ (build/aarch64/ on the aarch64 board).
#
# The scale tests are shrunk (TCG runs processes 10-45x slower than the
# host): SCALE_PODS=40 SCALE_EXECS=40 SCALE_ROUNDS=10 unless set (and the
# upgrade under load: UPGRADE_CONTAINERS=3 UPGRADE_POD=5), and a
# ctr call may take CTR_TIMEOUT=300 s, not 60 (40 execs at once, each a runc
# exec, took more than 60 s for some with either shim).  On the
# initramfs profile every container gets --no-pivot (pivot_root cannot
# work there) except in t_initramfs_no_pivot, which checks just that.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
export SCALE_PODS=${SCALE_PODS:-40} SCALE_EXECS=${SCALE_EXECS:-40} SCALE_ROUNDS=${SCALE_ROUNDS:-10}
export UPGRADE_CONTAINERS=${UPGRADE_CONTAINERS:-3} UPGRADE_POD=${UPGRADE_POD:-5}
export TEST_TIMEOUT=${TEST_TIMEOUT:-400} CTR_TIMEOUT=${CTR_TIMEOUT:-300}
[ "${VM_PROFILE:-}" = initramfs ] && export CTR_RUN_FLAGS=--no-pivot
echo "# guest: $(uname -m) $(uname -r), cgroup $(stat -f -c %T /sys/fs/cgroup), root $(awk '$5 == "/" { split($0, a, " - "); split(a[2], b, " "); t = b[1] } END { print t }' /proc/self/mountinfo), profile ${VM_PROFILE:-?}"
own=$PWD/build
runs=(own)
if [ "${VM_PROFILE:-}" = aarch64 ]; then
	own=$PWD/build/aarch64
	mkdir -p /tmp/stock-shim
	cp "$own/containerd-shim-runc-v2-c" /tmp/stock-shim/containerd-shim-runc-v2
	runs+=(stock)
fi
[ "${COMPARE:-}" = go ] && runs+=(go)
# shellcheck source-path=SCRIPTDIR source=../lib/tally.sh
. tests/lib/tally.sh
rc=0 summary=
for r in "${runs[@]}"; do
	t0=$SECONDS
	case $r in
	own) SHIM_DIR=$own tests/integration/run.sh "$@" 2>&1 | tee "/tmp/$r.log" ;;
	stock)
		RUNTIME=io.containerd.runc.v2 SHIM_DIR=/tmp/stock-shim FORCE_STATIC_TEST=1 \
			tests/integration/run.sh "$@" 2>&1 | tee "/tmp/$r.log" | sed -u 's/^/# stock: /'
		;;
	go) RUNTIME=io.containerd.runc.v2 SHIM_DIR=/usr/bin tests/integration/run.sh "$@" >"/tmp/$r.log" 2>&1 ;;
	esac
	st=${PIPESTATUS[0]}
	last=$(tail -n 1 "/tmp/$r.log")
	summary+="$r: $last in $((SECONDS - t0)) s; "
	[ "$r" = go ] && continue
	[ "$st" -eq 0 ] || rc=1
	tally_add "/tmp/$r.log" "$st" "$r"
done
[ -f /tmp/go.log ] && sed 's/^/# go shim: /' /tmp/go.log | grep -E '^# go shim: (ok|FAIL|[0-9]+ passed)'
echo "# side by side (${VM_PROFILE:-?} guest):"
printf '#   %-24s' test
printf ' %-10s' "${runs[@]}"
echo
names=$(for r in "${runs[@]}"; do cat "/tmp/$r.log"; done |
	sed -n 's/^\(ok\|FAIL\) \([a-z0-9_]*\).*/\2/p' | awk '!seen[$0]++')
for n in $names; do
	printf '#   %-24s' "$n"
	for r in "${runs[@]}"; do
		o=$(grep -m1 -E "^(ok|FAIL) $n( |:|$)" "/tmp/$r.log" | sed 's/ .*//')
		grep -qE "^ok $n # skip" "/tmp/$r.log" && o=skip
		printf ' %-10s' "${o:--}"
	done
	echo
done
echo "# ${summary%; }"
tally_line
exit "$rc"
