#!/usr/bin/env bash
#
# The output-integrity matrix (tests/output/matrix.py) through a private
# containerd and real runc.
#
#   tests/output/run.sh [--sample] [--runs N] [--seed S] [--jobs J] [--only K]
#
#   --sample     the fixed sample, every kind of case once (make test)
#   --runs N     N cases drawn from the seeded generator (make check: 1000)
#   COMPARE=go   run the same cases with the Go shim too, its losses
#                reported beside ours (they never fail the run); without
#                it, the Go shim runs every 10th case of a draw of 100 or
#                more, so its figure is always there
#   RUNTIME, SHIM_DIR, CONTAINERD_BIN_DIR  as for tests/integration/run.sh
#
# Ends with "lost bytes: N in M runs" per shim and "N passed, N failed"
# (ours).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/containerd.sh
. "$HERE/../lib/containerd.sh"

CTRD_NS=output-$$
export CTRD_NS
args=("$@")
runs=0
for ((i = 0; i < ${#args[@]}; i++)); do
	[ "${args[$i]}" = --runs ] && runs=${args[$((i + 1))]}
done

ctrd_start || {
	echo "FAIL output matrix: containerd did not start"
	echo "0 passed, 1 failed"
	exit 1
}
WORK=$(mktemp -d /tmp/outm.XXXXXX)
cleanup() {
	# a restart may have given containerd a new pid
	[ -s "$WORK/ctrd.pid" ] && CTRD_PID=$(<"$WORK/ctrd.pid")
	ctrd_stop
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/fifo"
make_busybox_rootfs "$CTRD_DIR/rootfs" || exit 1
echo "$CTRD_PID" >"$WORK/ctrd.pid"

# containerd restarted in place: same config, state and socket; its shims
# keep running and are found again
cat >"$WORK/restart.sh" <<EOF
p=\$(cat '$WORK/ctrd.pid')
kill -TERM "\$p"
for i in \$(seq 200); do kill -0 "\$p" 2>/dev/null || break; sleep 0.05; done
PATH='$SHIM_DIR':\$PATH setsid containerd --config '$CTRD_DIR/config.toml' \
	>>'$CTRD_LOG' 2>&1 </dev/null &
echo \$! >'$WORK/ctrd.pid'
for i in \$(seq 400); do
	ctr --address '$CTRD_SOCK' version >/dev/null 2>&1 && exit 0
	sleep 0.05
done
echo "containerd did not come back" >&2
exit 1
EOF

rts=(--runtime "$RUNTIME=ours")
if [ "${COMPARE:-}" = go ]; then
	rts+=(--runtime "io.containerd.runc.v2=go shim")
fi
CTRD_SOCK=$CTRD_SOCK CTRD_NS=$CTRD_NS ROOTFS=$CTRD_DIR/rootfs WORK=$WORK \
	CTRD_RESTART="sh $WORK/restart.sh" python3 "$HERE/matrix.py" "${rts[@]}" "$@"
rc=$?
if [ "${COMPARE:-}" != go ] && [ "$runs" -ge 100 ]; then
	# the Go shim's figure on a tenth of the draw, for comparison only
	CTRD_SOCK=$CTRD_SOCK CTRD_NS=$CTRD_NS ROOTFS=$CTRD_DIR/rootfs WORK=$WORK \
		CTRD_RESTART="sh $WORK/restart.sh" python3 "$HERE/matrix.py" \
		--runtime "io.containerd.runc.v2=go shim" "$@" --runs $((runs / 10)) |
		grep -E '^# |^FAIL' | sed -e 's/^FAIL/# go shim: FAIL/'
fi
exit $rc
