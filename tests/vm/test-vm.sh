#!/usr/bin/env bash
# `make test-vm`: the integration suite in each guest profile (tests/vm/run.sh)
# with this shim and the Go shim side by side (tests/vm/suite.sh), then the
# total of this shim's results as "N passed, N failed".
#
#   tests/vm/test-vm.sh [PROFILE...]     (default: v2 initramfs)
#   VM_TIMEOUT  seconds per guest (default 2400)
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profiles=("$@")
[ ${#profiles[@]} -eq 0 ] && profiles=(v2 initramfs)
pass=0 fail=0
for p in "${profiles[@]}"; do
	echo "== vm: $p guest"
	log=$(mktemp)
	"$HERE/run.sh" -p "$p" -t "${VM_TIMEOUT:-2400}" -- tests/vm/suite.sh 2>&1 |
		grep -v '^\[ *[0-9.]*\] ' | sed -u 's/^| //' | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		pass=$((pass + BASH_REMATCH[1]))
		fail=$((fail + BASH_REMATCH[2]))
	else
		echo "FAIL vm $p: no result from the guest (status $rc)"
		fail=$((fail + 1))
	fi
	rm -f "$log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
