#!/usr/bin/env bash
#
# Diagnostic (not part of run.sh): what State and Kill answer while a task's
# Create (runc create) is still in flight. containerd lists a task as soon as
# its shim has started, so `ctr task ls` / `ctr task kill` can reach the shim
# before Create has returned. The Go shim holds its service lock during Create,
# so those calls wait and then see the created task (CREATED + pid, kill works).
#
#   tests/compat/create-race.sh [N]      (N containers, default 10)
#
# Environment as for tests/integration/run.sh (RUNTIME, SHIM_DIR,
# CONTAINERD_BIN_DIR). Compare with the Go shim, e.g.:
#   RUNTIME=io.containerd.runc.v2 SHIM_DIR=/usr/bin tests/compat/create-race.sh
# Prints the statuses `ctr task ls` showed before RUNNING, the errors of
# `ctr task kill` sent during creation, and containerd's "unknown status"
# warnings. Exit status 1 if an UNKNOWN status or a "no such container" kill
# error was seen.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/containerd.sh
. "$HERE/../lib/containerd.sh"
N=${1:-10}

trap ctrd_stop EXIT
ctrd_start || exit 1
make_busybox_rootfs "$CTRD_DIR/rootfs" || exit 1
: >"$CTRD_DIR/seen"
: >"$CTRD_DIR/killerr"

run_bg() {
	ctr_ run -d --runtime "$RUNTIME" --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin \
		--rootfs "$CTRD_DIR/rootfs" "$1" sleep 100 >/dev/null 2>&1 &
}

for ((i = 1; i <= N; i++)); do
	# State while creating
	id=st-$i-$$
	run_bg "$id"
	cp=$!
	for ((j = 0; j < 200; j++)); do
		st=$(ctr_ task ls 2>/dev/null | awk -v id="$id" '$1 == id { print $3 }')
		[ -n "$st" ] && echo "$st" >>"$CTRD_DIR/seen"
		[ "$st" = RUNNING ] && break
	done
	wait "$cp"
	ctrd_cleanup_containers

	# Kill while creating
	id=kr-$i-$$
	run_bg "$id"
	cp=$!
	for ((j = 0; j < 100; j++)); do
		out=$(ctr_ task kill -s SIGKILL "$id" 2>&1) && break
		printf '%s\n' "${out//$id/ID}" >>"$CTRD_DIR/killerr"
	done
	wait "$cp"
	ctrd_cleanup_containers
done

echo "# runtime $RUNTIME, containerd $(ctrd_version "$(command -v containerd)")"
echo "# ctr task ls statuses seen while starting:"
sort "$CTRD_DIR/seen" | uniq -c
echo "# ctr task kill errors while creating (not found before the shim starts is normal):"
sort "$CTRD_DIR/killerr" | uniq -c
n=$(grep -c 'unknown status' "$CTRD_LOG")
echo "# containerd 'unknown status' warnings: $n"
grep -m 2 'unknown status' "$CTRD_LOG"
if grep -qx UNKNOWN "$CTRD_DIR/seen" || grep -q 'no such container' "$CTRD_DIR/killerr"; then
	exit 1
fi
exit 0
