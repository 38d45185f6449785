#!/bin/bash
# Run the containerd integration/client tests listed in tests/suite/passing.txt against a shim.
#
#   tests/suite/run.sh BINARY [extra client.test flags, e.g. -test.timeout 10m]
#
# Env: CONTAINERD_SUITE  the suite's run.sh (default: <repo>/../shared/containerd-suite/run.sh)
#      TEST_RUNTIME      passed through to the suite when set (runtime name the tests ask for;
#                        the shim is offered under the matching containerd-shim-A-B name)
#      SUITE_LIST        list of test names to require (default: passing.txt next to this script,
#                        and checkpoint.txt when a working criu is there)
#      SUITE_CRIU        1 (default): fetch criu (tests/criu/fetch-criu.sh) and, if it works on
#                        this kernel, also require the six TestCheckpoint* tests, run with criu
#                        enabled: the shim is offered through a wrapper that puts that criu first
#                        on its PATH (runc finds criu there). 0: -no-criu, as before.
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

LISTS=("${SUITE_LIST:-$HERE/passing.txt}")
[ -f "${LISTS[0]}" ] || { echo "run.sh: no test list ${LISTS[0]}" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/suite-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "${SUITE_CRIU:-1}" = 1 ]; then
  TOP=$(cd "$HERE/../.." && pwd)
  criu_rc=0
  criu_dir=$("$TOP/tests/criu/fetch-criu.sh" 2>"$work/criu.log") || criu_rc=$?
  case $criu_rc in
  0)
    # the shim, with that criu first on its PATH (and on runc's, which it starts)
    printf '#!/bin/sh\nPATH=%s:$PATH\nexport PATH\nexec %s "$@"\n' \
      "$criu_dir" "$(readlink -f "$BINARY")" >"$work/shim"
    chmod 755 "$work/shim"
    BINARY=$work/shim
    export CRIU_FLAG=
    [ -z "${SUITE_LIST:-}" ] && LISTS+=("$HERE/checkpoint.txt")
    echo "suite: checkpoint tests with $("$criu_dir/criu" --version | head -n 1) ($criu_dir)"
    ;;
  3)
    echo "suite: the checkpoint tests are not run: this CRIU cannot work here"
    sed 's/^/  /' "$work/criu.log"
    ;;
  *)
    sed 's/^/  /' "$work/criu.log"
    echo "run.sh: tests/criu/fetch-criu.sh failed (status $criu_rc); SUITE_CRIU=0 runs without criu" >&2
    exit 2
    ;;
  esac
fi
mapfile -t TESTS < <(cat "${LISTS[@]}" | sed -e 's/#.*//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u)
[ ${#TESTS[@]} -gt 0 ] || { echo "run.sh: ${LISTS[*]} list no tests" >&2; exit 2; }
for t in "${TESTS[@]}"; do
  [[ $t =~ ^[A-Za-z0-9_]+$ ]] || { echo "run.sh: bad test name in ${LISTS[*]}: '$t'" >&2; exit 2; }
done
REGEX="^($(IFS='|'; echo "${TESTS[*]}"))\$"

echo "suite: running ${#TESTS[@]} tests against $BINARY${TEST_RUNTIME:+ (TEST_RUNTIME=$TEST_RUNTIME)}"
out=$work/out
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
