#!/usr/bin/env bash
#
# Demo: run one container through the shim with a private containerd.
#
#   tests/demo.sh                       # our shim: build/containerd-shim-runc-v2-c
#   RUNTIME=io.containerd.runc.v2 SHIM_DIR=/usr/bin tests/demo.sh   # stock Go shim
#
# Prints the container's output and the shim's RSS (sampled while the
# container runs); exit status is ctr's.

# shellcheck source-path=SCRIPTDIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/containerd.sh
. "$HERE/lib/containerd.sh"

trap ctrd_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x "$SHIM_DIR/$SHIM_BIN_NAME" ]; then
	echo "demo: $SHIM_DIR/$SHIM_BIN_NAME not found (build it, or set SHIM_DIR)" >&2
	exit 1
fi
ctrd_start || exit 1
ROOTFS=$CTRD_DIR/rootfs
make_busybox_rootfs "$ROOTFS" || exit 1

# The container sleeps briefly so the shim can be sampled while it serves it.
ctr_ run --rm --runtime "$RUNTIME" --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin \
	--rootfs "$ROOTFS" demo1 sh -c 'echo "hello from the C shim"; sleep 0.5' &
ctr_pid=$!
rss=
for ((i = 0; i < 40; i++)); do
	sp=$(shim_pids demo1 | head -n 1)
	if [ -n "$sp" ]; then
		sleep 0.2
		rss=$(rss_kb "$sp")
		[ -n "$rss" ] && break
	fi
	sleep 0.05
done
wait "$ctr_pid"
rc=$?
echo "shim: $SHIM_BIN_NAME (runtime $RUNTIME), RSS ${rss:-?} kB; ctr exit status $rc"
exit "$rc"
