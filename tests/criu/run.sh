#!/usr/bin/env bash
# Checkpoint/restore through ctr with a real CRIU (tests/criu/t_checkpoint.sh),
# for this shim, then for the Go shim side by side (GO=0: ours only).
#
#   tests/criu/run.sh [NAME_PATTERN...]
#
# The CRIU is sid's (tests/criu/fetch-criu.sh), put on the private
# containerd's PATH; when it cannot work on this kernel, the tests are not
# run and that is said.  Last line: "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

rc=0
dir=$("$HERE/fetch-criu.sh") || rc=$?
if [ "$rc" -eq 3 ]; then
	echo "# checkpoint: this CRIU cannot work here; not run"
	echo "0 passed, 0 failed"
	exit 0
elif [ "$rc" -ne 0 ]; then
	echo "FAIL checkpoint setup: tests/criu/fetch-criu.sh failed (status $rc)"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "# $("$dir/criu" --version | head -n 1) from $dir"

passed=0 failed=0 status=0
one() {
	local out
	out=$(mktemp)
	env CTRD_EXTRA_PATH="$dir" CTRD_SNAPSHOTTERS=overlayfs TEST_FILES="$HERE/t_checkpoint.sh" \
		CTRD_NS="ckpt-$$" "$@" "$REPO/tests/integration/run.sh" "${PATTERNS[@]}" 2>&1 | tee "$out"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
	rm -f "$out"
}
PATTERNS=("$@")
# ctr gives checkpoint options (--exit, --image-path, --work-path) only to
# the runtimes named io.containerd.runc.v1/v2: ours is tested under the
# stock name, as a drop-in
stock=$(mktemp -d)
trap 'rm -rf "$stock"' EXIT
ln -s "$REPO/build/containerd-shim-runc-v2-c" "$stock/containerd-shim-runc-v2"
echo "# this shim"
one RUNTIME=io.containerd.runc.v2 SHIM_DIR="$stock"
if [ "${GO:-1}" = 1 ] && [ -x /usr/bin/containerd-shim-runc-v2 ]; then
	echo "# the Go shim, the same tests"
	one RUNTIME=io.containerd.runc.v2 SHIM_DIR=/usr/bin
fi
echo "$passed passed, $failed failed"
exit $status
