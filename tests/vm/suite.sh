#!/usr/bin/env bash
# Inside a tests/vm guest: the integration suite with this shim, then with
# the Go shim (Debian's, /usr/bin), and both summaries side by side.  The
# exit status is this shim's run's; the Go shim's failures are there to
# tell ours from the environment's.
#
#   tests/vm/suite.sh [TEST_PATTERN...]      (VM_PROFILE is set by run.sh)
#
# The scale tests are shrunk (TCG runs processes 10-45x slower than the
# host): SCALE_PODS=40 SCALE_EXECS=40 SCALE_ROUNDS=10 unless set.  On the
# initramfs profile every container gets --no-pivot (pivot_root cannot
# work there) except in t_initramfs_no_pivot, which checks just that.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
export SCALE_PODS=${SCALE_PODS:-40} SCALE_EXECS=${SCALE_EXECS:-40} SCALE_ROUNDS=${SCALE_ROUNDS:-10}
export TEST_TIMEOUT=${TEST_TIMEOUT:-400}
[ "${VM_PROFILE:-}" = initramfs ] && export CTR_RUN_FLAGS=--no-pivot
echo "# guest: $(uname -r), cgroup $(stat -f -c %T /sys/fs/cgroup), root $(awk '$5 == "/" { split($0, a, " - "); split(a[2], b, " "); t = b[1] } END { print t }' /proc/self/mountinfo), profile ${VM_PROFILE:-?}"
t0=$SECONDS
tests/integration/run.sh "$@" 2>&1 | tee /tmp/own.log
own_rc=${PIPESTATUS[0]}
t1=$SECONDS
RUNTIME=io.containerd.runc.v2 SHIM_DIR=/usr/bin tests/integration/run.sh "$@" >/tmp/go.log 2>&1
t2=$SECONDS
sed 's/^/# go shim: /' /tmp/go.log | grep -E '^# go shim: (ok|FAIL|[0-9]+ passed)'
echo "# side by side (${VM_PROFILE:-?} guest):"
printf '#   %-24s %-10s %s\n' test own go
names=$(sed -n 's/^\(ok\|FAIL\) \([a-z0-9_]*\).*/\2/p' /tmp/own.log /tmp/go.log | awk '!seen[$0]++')
for n in $names; do
	o=$(grep -m1 -E "^(ok|FAIL) $n( |:|$)" /tmp/own.log | sed 's/ .*//; s/^ok$/ok/')
	g=$(grep -m1 -E "^(ok|FAIL) $n( |:|$)" /tmp/go.log | sed 's/ .*//')
	grep -qE "^ok $n # skip" /tmp/own.log && o=skip
	grep -qE "^ok $n # skip" /tmp/go.log && g=skip
	printf '#   %-24s %-10s %s\n' "$n" "${o:--}" "${g:--}"
done
echo "# own: $(tail -n 1 /tmp/own.log) in $((t1 - t0)) s; go shim: $(tail -n 1 /tmp/go.log) in $((t2 - t1)) s"
tail -n 1 /tmp/own.log
exit "$own_rc"
