#!/bin/bash
# Run the containerd integration/client tests listed in tests/suite/passing.txt against a shim.
#
#   tests/suite/run.sh BINARY [extra client.test flags, e.g. -test.timeout 10m]
#
# Env: CONTAINERD_SUITE  the suite's run.sh (default: <repo>/../shared/containerd-suite/run.sh)
#      TEST_RUNTIME      passed through to the suite when set (runtime name the tests ask for;
#                        the shim is offered under the matching containerd-shim-A-B name)
#      SUITE_LIST        list of test names to require (default: passing.txt next to this script)
# Exit status: 0 only when every listed test has a "--- PASS: Name" line and no
# "--- FAIL: Name" line in the suite's log (a listed test that did not run, was skipped, or
# left no result counts as failed); 1 otherwise; 2 on usage errors.
# Last line: "suite: N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BINARY [client.test flags]" >&2; exit 2; }
BINARY=$1; shift
[ -x "$BINARY" ] && [ -f "$BINARY" ] || { echo "run.sh: $BINARY is not an executable file" >&2; exit 2; }

if [ -z "${CONTAINERD_SUITE:-}" ]; then
  TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/../.." && pwd)
  CONTAINERD_SUITE="$TOP/../shared/containerd-suite/run.sh"
fi
[ -x "$CONTAINERD_SUITE" ] || { echo "run.sh: suite script not found: $CONTAINERD_SUITE (set CONTAINERD_SUITE)" >&2; exit 2; }

LIST=${SUITE_LIST:-$HERE/passing.txt}
[ -f "$LIST" ] || { echo "run.sh: no test list $LIST" >&2; exit 2; }
mapfile -t TESTS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$' | sort -u)
[ ${#TESTS[@]} -gt 0 ] || { echo "run.sh: $LIST lists no tests" >&2; exit 2; }
for t in "${TESTS[@]}"; do
  [[ $t =~ ^[A-Za-z0-9_]+$ ]] || { echo "run.sh: bad test name in $LIST: '$t'" >&2; exit 2; }
done
REGEX="^($(IFS='|'; echo "${TESTS[*]}"))\$"

echo "suite: running ${#TESTS[@]} tests against $BINARY${TEST_RUNTIME:+ (TEST_RUNTIME=$TEST_RUNTIME)}"
out=$(mktemp "${TMPDIR:-/tmp}/suite-out.XXXXXX")
trap 'rm -f "$out"' EXIT
# TEST_RUNTIME, when set, is inherited from our environment by the suite script.
"$CONTAINERD_SUITE" "$BINARY" -test.run "$REGEX" "$@" 2>&1 | tee "$out"
suite_rc=${PIPESTATUS[0]}

# The suite prints a summary plus "full log: PATH"; the per-test result lines are in that log.
log=$(sed -n 's/^full log: //p' "$out" | tail -1)
if [ -z "$log" ] || [ ! -f "$log" ]; then
  echo "run.sh: the suite left no log (exit status $suite_rc); counting all tests as failed" >&2
  log=/dev/null
fi

# result per listed test: PASS only with a PASS line and no FAIL line
declare -A res=()
while read -r st name; do
  case "$st" in
    FAIL) res[$name]=FAIL ;;
    PASS) [ "${res[$name]:-}" = FAIL ] || res[$name]=PASS ;;
    SKIP) [ -n "${res[$name]:-}" ] || res[$name]=SKIP ;;
  esac
done < <(grep -aoE -- '--- (PASS|FAIL|SKIP): [^ ]+' "$log" | sed -E 's/^--- ([A-Z]+): /\1 /')

passed=0; failed=0; bad=()
for t in "${TESTS[@]}"; do
  if [ "${res[$t]:-}" = PASS ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); bad+=("$t(${res[$t]:-NORESULT})")
  fi
done
[ $failed -eq 0 ] || echo "suite: failed: ${bad[*]}"
echo "suite: $passed passed, $failed failed"
[ $failed -eq 0 ]
