#!/usr/bin/env bash
# Unit tests for tests/lib/tally.sh, the runners' totals: which line of a
# suite's output is its result, and what counts as a failure when there is
# none or the suite's exit status says otherwise.  Prints "ok NAME" /
# "FAIL NAME: why" lines, then "N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/test_tally.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0

# case NAME STATUS WANT_PASS WANT_FAIL < OUTPUT: a fresh tally of OUTPUT
case_() {
	local label=$1 status=$2 want="$3 passed, $4 failed" got
	cat >"$TMP/out"
	got=$(
		# shellcheck source-path=SCRIPTDIR source=../lib/tally.sh
		. "$HERE/../lib/tally.sh"
		tally_add "$TMP/out" "$status" "$label" >/dev/null
		tally_line
	)
	if [ "$got" = "$want" ]; then
		echo "ok $label"
		pass=$((pass + 1))
	else
		echo "FAIL $label: $got, want $want"
		fail=$((fail + 1))
	fi
}

case_ bare 0 3 1 <<'EOF'
ok a
2 passed, 0 failed
3 passed, 1 failed
EOF
case_ labelled 1 89 2 <<'EOF'
suite: failed: TestA TestB
suite: 89 passed, 2 failed
EOF
case_ comment_lines_are_not_results 0 44 0 <<'EOF'
# own: 22 passed, 0 failed in 260 s; stock: 22 passed, 0 failed in 250 s
# go shim: 21 passed, 1 failed
44 passed, 0 failed
# vm: aarch64 guest ran 838 s (qemu status 0)
EOF
case_ no_summary_counts_lines 0 2 1 <<'EOF'
ok one
FAIL two: broken
ok three
EOF
case_ nothing_is_a_failure 0 0 1 </dev/null
case_ failing_status_is_a_failure 2 5 1 <<'EOF'
5 passed, 0 failed
EOF
case_ failing_status_with_failures_adds_none 1 5 2 <<'EOF'
5 passed, 2 failed
EOF

# two suites add up, and the failures are said
got=$(
	# shellcheck source-path=SCRIPTDIR source=../lib/tally.sh
	. "$HERE/../lib/tally.sh"
	printf '4 passed, 0 failed\n' >"$TMP/a"
	: >"$TMP/b"
	tally_add "$TMP/a" 0 first
	tally_add "$TMP/b" 0 second
	tally_line
)
if [ "$got" = $'FAIL second: no result lines (exit status 0)\n4 passed, 1 failed' ]; then
	echo "ok sums_and_says"
	pass=$((pass + 1))
else
	echo "FAIL sums_and_says: $got"
	fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
