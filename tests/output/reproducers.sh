#!/usr/bin/env bash
#
# The two reproducers of the output-loss report, N times each, with this
# shim and the Go shim under one private containerd:
#
#   small  sh -c 'head -c 3000000 /dev/zero > /tmp/x; echo e >&2; cat /tmp/x'
#   big    sh -c 'sleep 0.5; dd if=/dev/zero bs=1048576 count=512'
#
# each under `ctr run --rm ... | cat > file`.  Per shim: runs with every byte,
# bytes lost, and for "big" the worst shim CPU of a run (every shim process,
# in a cpuacct cgroup of the shim's own, runc kept out) per MiB.
#
#   tests/output/reproducers.sh [N] [small|big]...   (default 1000, both)
#   SHIMS="ours go"    which shims
#
# Manual (it takes long: about 0.3 s a run for small, 2 s for big); its
# figures are in the README.  Exit status 1 if ours lost a byte.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/containerd.sh
. "$HERE/../lib/containerd.sh"
N=${1:-1000}
shift || true
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(small big)
: "${SHIMS:=ours go}"
CTRD_NS=repro-$$

WORK=$(mktemp -d /tmp/repro.XXXXXX)
CG=
if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
	CG=/sys/fs/cgroup/cpuacct/repro-$$
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG=/sys/fs/cgroup/repro-$$
fi
cleanup() {
	ctrd_stop
	[ -n "$CG" ] && for d in "$CG"/*/ "$CG"; do rmdir "$d" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
# the shims behind wrappers that enter their cgroup; runc moved out
mkdir -p "$WORK/bin" "$CG/ours" "$CG/go" "$CG/runc"
wrap() { # NAME REAL CGROUP
	printf '#!/bin/sh\necho $$ >%s/cgroup.procs\nexec %s "$@"\n' "$3" "$2" >"$WORK/bin/$1"
	chmod +x "$WORK/bin/$1"
}
cp "$CTRD_REPO/build/containerd-shim-runc-v2-c" "$WORK/ours.real"
wrap containerd-shim-runc-v2-c "$WORK/ours.real" "$CG/ours"
wrap containerd-shim-runc-v2 /usr/bin/containerd-shim-runc-v2 "$CG/go"
wrap runc "$(command -v runc)" "$CG/runc"
SHIM_DIR=$WORK/bin
ctrd_start || exit 1
make_busybox_rootfs "$CTRD_DIR/rootfs" || exit 1

usage_ns() {
	if [ -f "$1/cpuacct.usage" ]; then cat "$1/cpuacct.usage"; else
		awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' "$1/cpu.stat"
	fi
}

lost_ours=0
for c in "${cases[@]}"; do
	case $c in
	small)
		cmd='head -c 3000000 /dev/zero > /tmp/x.$$; echo e >&2; cat /tmp/x.$$; rm /tmp/x.$$'
		want=3000000
		;;
	big)
		cmd='sleep 0.5; dd if=/dev/zero bs=1048576 count=512 2>/dev/null'
		want=536870912
		;;
	*) echo "unknown case $c" >&2; exit 2 ;;
	esac
	for s in $SHIMS; do
		rt=io.containerd.runc.v2-c
		[ "$s" = go ] && rt=io.containerd.runc.v2
		full=0 lost=0 worst=0 t0=$SECONDS
		for ((i = 1; i <= N; i++)); do
			before=$(usage_ns "$CG/$s")
			ctr_ run --rm --runtime "$rt" --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin \
				--rootfs "$CTRD_DIR/rootfs" "r$$-$s-$i" sh -c "$cmd" 2>/dev/null |
				cat >"$WORK/out"
			got=$(stat -c %s "$WORK/out")
			if [ "$got" = "$want" ]; then full=$((full + 1)); else lost=$((lost + want - got)); fi
			if [ "$c" = big ]; then
				for ((k = 0; k < 300; k++)); do
					[ -s "$CG/$s/cgroup.procs" ] || break
					sleep 0.01
				done
				used=$(($(usage_ns "$CG/$s") - before))
				[ "$used" -gt "$worst" ] && worst=$used
			fi
		done
		line="$c, $s: $full of $N runs complete, lost bytes: $lost, $((SECONDS - t0)) s"
		[ "$c" = big ] && line+=$(awk -v w="$worst" 'BEGIN { printf ", worst shim CPU %.1f ms = %.3f ms/MiB", w / 1e6, w / 1e6 / 512 }')
		echo "$line"
		[ "$s" = ours ] && lost_ours=$((lost_ours + lost + N - full))
	done
done
[ "$lost_ours" -eq 0 ]
