# shellcheck shell=bash
#
# The runners' totals.  Every suite ends with a line "N passed, N failed",
# bare or after a one-word label ("suite: N passed, N failed"); a runner
# adds up its suites' and ends with its own.  Sourced by tests/run-tests.sh,
# tests/cross/qemu-user.sh, tests/vm/test-vm.sh, tests/vm/suite.sh and
# .ci/run.
#
#   tally_add FILE STATUS NAME
#       Add FILE's last such line to TALLY_PASS and TALLY_FAIL.  Without
#       one, its "ok ..." and "FAIL..." lines are counted instead, and with
#       none of those either it is one failure.  A nonzero STATUS with no
#       failure counted is one failure too.  What is counted as a failure
#       here is said in a line "FAIL NAME: ...".
#   tally_line
#       Print "TALLY_PASS passed, TALLY_FAIL failed".

TALLY_PASS=0
TALLY_FAIL=0

tally_add() {
	local file=$1 status=$2 name=$3 line p f
	line=$(grep -aE '^([^ ]+: )?[0-9]+ passed, [0-9]+ failed' "$file" | tail -n 1)
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	else
		p=$(grep -ac '^ok ' "$file")
		f=$(grep -ac '^FAIL' "$file")
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			f=1
			echo "FAIL $name: no result lines (exit status $status)"
		fi
	fi
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL $name: exit status $status"
	fi
	TALLY_PASS=$((TALLY_PASS + p))
	TALLY_FAIL=$((TALLY_FAIL + f))
}

tally_line() {
	echo "$TALLY_PASS passed, $TALLY_FAIL failed"
}
