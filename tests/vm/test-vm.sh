#!/usr/bin/env bash
# `make test-vm`: the integration suite in each guest profile (tests/vm/run.sh)
# with this shim (and, with COMPARE=go, the Go shim side by side:
# tests/vm/suite.sh), then the total of this shim's results as "N passed,
# N failed".
#
#   tests/vm/test-vm.sh [--all] [PROFILE...]     (default: v2 initramfs aarch64)
#   VM_TIMEOUT  seconds per guest (default 2400)
#
# The v2 guest runs the whole suite.  The initramfs guest, whose point is
# the root filesystem (no pivot_root), and the aarch64 board, whose point is
# the architecture, run the tests that start containers in the ordinary
# ways (INITRAMFS_TESTS, AARCH64_TESTS), not the scale and hostile-client
# ones, which take most of a TCG guest's time and do not depend on either;
# --all (make test-vm-all) runs the whole suite there too.  On the board
# the suite runs three times: this shim as io.containerd.runc.v2-c, this
# shim installed as the stock containerd-shim-runc-v2, the arm64 Go shim.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
all=0
[ "${1:-}" = --all ] && { all=1; shift; }
profiles=("$@")
: "${INITRAMFS_TESTS:=echo exit_codes exit_sigkill nosuchcmd stdin stderr binary_logger metrics oom
update pause detached =exec shim_cleanup events pod_group orphans_killed parallel runc_options_argv
shim_cgroup initramfs_no_pivot static no_huge_pages}"
: "${AARCH64_TESTS:=echo exit_codes exit_sigkill nosuchcmd stdin stderr binary_logger metrics oom
update pause detached =exec shim_cleanup events pod_group orphans_killed parallel runc_options_argv
shim_cgroup static no_huge_pages}"
[ ${#profiles[@]} -eq 0 ] && profiles=(v2 initramfs aarch64)
# shellcheck source-path=SCRIPTDIR source=../lib/tally.sh
. "$HERE/../lib/tally.sh"
for p in "${profiles[@]}"; do
	echo "== vm: $p guest"
	log=$(mktemp)
	tests=()
	# shellcheck disable=SC2206 # a list of words
	[ "$p" = initramfs ] && [ "$all" = 0 ] && tests=($INITRAMFS_TESTS)
	# shellcheck disable=SC2206 # a list of words
	[ "$p" = aarch64 ] && [ "$all" = 0 ] && tests=($AARCH64_TESTS)
	"$HERE/run.sh" -p "$p" -t "${VM_TIMEOUT:-2400}" -- tests/vm/suite.sh "${tests[@]}" 2>&1 |
		grep --line-buffered -v '^\[ *[0-9.]*\] ' | sed -u 's/^| //' | tee "$log"
	rc=${PIPESTATUS[0]}
	tally_add "$log" "$rc" "vm $p guest"
	rm -f "$log"
done
tally_line
[ "$TALLY_FAIL" -eq 0 ]
