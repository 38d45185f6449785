#!/usr/bin/env bash
# Unit tests for tools/cgexec, the bench's wrapper that charges a program's
# CPU to a cgroup (tools/bench-speed.sh, shim_cpu): it joins the cgroup its
# NAME.cg names, execs the real program with the same argv, logs what it
# cost its parent's cgroup, and measures itself with --calibrate.
#
# Uses $CGEXEC when set, else build/tools/cgexec. Needs root and a cpuacct
# (v1) or v2 cgroup hierarchy. Prints "ok NAME" / "FAIL NAME", then a
# summary; exits 1 when a test failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CGEXEC=${CGEXEC:-$REPO/build/tools/cgexec}
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }

if [ -d /sys/fs/cgroup/cpuacct ] && [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
	CG=/sys/fs/cgroup/cpuacct/test-cgexec-$$
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG=/sys/fs/cgroup/test-cgexec-$$
else
	echo "FAIL no cpuacct or v2 cgroup hierarchy"
	echo "0 passed, 1 failed"
	exit 1
fi
TMP=$(mktemp -d /tmp/test_cgexec.XXXXXX)
cleanup() {
	rmdir "$CG/a" "$CG/cal" "$CG" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$CG/a" "$CG/cal" || { echo "FAIL mkdir $CG"; echo "0 passed, 1 failed"; exit 1; }

# a "program" that reports its argv and its cgroup
cat >"$TMP/prog" <<'EOF'
#!/bin/sh
printf '%s\n' "$@" >"$(dirname "$0")/argv"
cat /proc/self/cgroup >"$(dirname "$0")/cgroup"
exit 7
EOF
chmod +x "$TMP/prog"
cp "$CGEXEC" "$TMP/wrapped"
printf '%s\n%s\n%s\n' "$CG/a/cgroup.procs" "$TMP/prog" "$TMP/log" >"$TMP/wrapped.cg"

"$TMP/wrapped" one "two words" -x 2>"$TMP/err"
rc=$?
if [ "$rc" = 7 ] && [ "$(cat "$TMP/argv")" = "$(printf 'one\ntwo words\n-x')" ]; then
	ok "execs the program with the same argv and its exit status"
else
	bad "execs the program with the same argv and its exit status" "rc $rc, argv '$(cat "$TMP/argv" 2>/dev/null)', $(cat "$TMP/err")"
fi
if grep -q "test-cgexec-$$/a\$" "$TMP/cgroup"; then
	ok "the program runs in the cgroup named"
else
	bad "the program runs in the cgroup named" "$(cat "$TMP/cgroup")"
fi
# the log: pid, CPU used before the move (ns, > 0), argv[1..]
if read -r pid ns rest <"$TMP/log" && [ "$pid" -gt 0 ] && [ "$ns" -gt 0 ] && [ "$rest" = "one two words -x" ]; then
	ok "logs its pid, the CPU it cost its parent's cgroup and the argv"
else
	bad "logs its pid, the CPU it cost its parent's cgroup and the argv" "$(cat "$TMP/log")"
fi

# without a log line it logs nothing and still runs
printf '%s\n%s\n' "$CG/a/cgroup.procs" "$TMP/prog" >"$TMP/wrapped.cg"
rm -f "$TMP/log"
"$TMP/wrapped" x 2>/dev/null
rc=$?
if [ "$rc" = 7 ] && [ ! -e "$TMP/log" ]; then
	ok "two lines: no log"
else
	bad "two lines: no log" "rc $rc"
fi

# --calibrate: N starts of a wrapper, each logged
cp "$CGEXEC" "$TMP/cal"
printf '%s\n%s\n%s\n' "$CG/cal/cgroup.procs" "$(type -P true)" "$TMP/cal.log" >"$TMP/cal.cg"
if "$CGEXEC" --calibrate 5 "$TMP/cal" && [ "$(wc -l <"$TMP/cal.log")" = 5 ]; then
	ok "--calibrate 5 starts the wrapper 5 times, each logged"
else
	bad "--calibrate 5 starts the wrapper 5 times, each logged" "$(wc -l <"$TMP/cal.log" 2>/dev/null) lines"
fi

# bad configurations: a clear message and 127, the program never runs
# refused NAME PATTERN: the wrapper, as its .cg is now, exits 127 with a
# message matching PATTERN and never starts the program
refused() {
	local out rc
	rm -f "$TMP/argv"
	out=$("$TMP/wrapped" x 2>&1)
	rc=$?
	if [ "$rc" = 127 ] && [[ $out == *$2* ]] && [ ! -e "$TMP/argv" ]; then
		ok "$1"
	else
		bad "$1" "rc $rc, '$out'"
	fi
}
printf '%s\n' "$CG/a/cgroup.procs" >"$TMP/wrapped.cg"
refused "one line only: refused" "want two lines"
printf '%s\n%s\n' "$CG/nonexistent/cgroup.procs" "$TMP/prog" >"$TMP/wrapped.cg"
refused "a cgroup that is not there: refused" "cannot open"
rm -f "$TMP/wrapped.cg"
refused "no .cg file: refused, naming it" "wrapped.cg"
printf '%s\n%s\n' "$CG/a/cgroup.procs" "$TMP/nonexistent" >"$TMP/wrapped.cg"
refused "a program that is not there: refused" "cannot exec"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
