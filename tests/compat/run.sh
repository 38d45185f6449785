#!/usr/bin/env bash
#
# Compatibility matrix: the integration tests (tests/integration/run.sh)
# against several containerd versions, with our shim under its own runtime
# name and installed as the stock runc shim.
#
#   tests/compat/run.sh [-v] [TEST_PATTERN...]
#
# containerd versions (COMPAT_SUITES, default "system trixie sid"):
#   system   the containerd on PATH (bookworm: 1.6)
#   SUITE    Debian's containerd package of that suite (trixie: 1.7, sid: 2.x),
#            unpacked by tests/compat/fetch-containerd.sh (cached)
# For each, two runs:
#   own      RUNTIME=io.containerd.runc.v2-c, SHIM_DIR=a copy of build/
#   stock    build/containerd-shim-runc-v2-c copied as containerd-shim-runc-v2
#            into a temp dir put first on containerd's PATH,
#            RUNTIME=io.containerd.runc.v2; before the tests, a container is
#            run and its shim process is checked to be our binary
#            (/proc/PID/exe is the copy, same bytes, `-v` names
#            containerd-shim-runc-v2-c).
# -v and TEST_PATTERNs are passed to tests/integration/run.sh.
# Builds the shim with `make` if build/containerd-shim-runc-v2-c is missing.
# Logs: COMPAT_LOG_DIR (default: a new /tmp/compat.XXXXXX, kept): per run
# LABEL-KIND.log (the tests), .verify, .containerd (containerd's own log;
# its unusual warnings/errors are counted in the NOTE column).
# COMPAT_OFFLINE=1: use the containerd packages unpacked before, no archive.
#
# Output: one line per combination, a table, then "N passed, N failed"
# (the tests of every combination). Exit status 1 if any failed.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHIM=$REPO/build/containerd-shim-runc-v2-c
: "${COMPAT_SUITES:=system trixie sid}"

case "${1:-}" in
-h | --help)
	sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac

LOG_DIR=${COMPAT_LOG_DIR:-$(mktemp -d /tmp/compat.XXXXXX)}
mkdir -p "$LOG_DIR"
WORK=$(mktemp -d /tmp/compat-shim.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# One snapshot of the binary for the whole matrix (a rebuild meanwhile does
# not mix versions): OWN_DIR/containerd-shim-runc-v2-c and, as the stock
# shim, STOCK_DIR/containerd-shim-runc-v2.
OWN_DIR=$WORK/own
STOCK_DIR=$WORK/stock
mkdir -p "$OWN_DIR" "$STOCK_DIR"

if [ ! -x "$SHIM" ]; then
	echo "# building the shim (make)"
	make -C "$REPO" >"$LOG_DIR/make.log" 2>&1 || {
		tail -n 30 "$LOG_DIR/make.log"
		echo "FAIL build: make failed (log $LOG_DIR/make.log)"
		echo "0 passed, 1 failed"
		exit 1
	}
fi
cp "$SHIM" "$OWN_DIR/containerd-shim-runc-v2-c"
cp "$SHIM" "$STOCK_DIR/containerd-shim-runc-v2"
SHIM=$OWN_DIR/containerd-shim-runc-v2-c
echo "# shim: $("$SHIM" -v 2>&1 | tr -s ' \n' ' ')sha256 $(sha256sum "$SHIM" | cut -c1-16)"

PASSED=0
FAILED=0
TESTS_OK=0
TESTS_BAD=0
ROWS=()

# verify_stock BIN_DIR: with a private containerd (BIN_DIR or PATH) and
# SHIM_DIR=$STOCK_DIR, run a container as io.containerd.runc.v2 and check
# that its shim process is our binary. Prints what it saw.
verify_stock() {
	(
		export CONTAINERD_BIN_DIR=$1 RUNTIME=io.containerd.runc.v2 SHIM_DIR=$STOCK_DIR CTRD_NS=compat
		[ -n "$CONTAINERD_BIN_DIR" ] || unset CONTAINERD_BIN_DIR
		# shellcheck source-path=SCRIPTDIR source=../lib/containerd.sh
		. "$HERE/../lib/containerd.sh"
		trap 'ctrd_stop' EXIT
		ctrd_start || { echo "private containerd did not start"; exit 1; }
		make_busybox_rootfs "$CTRD_DIR/rootfs" || exit 1
		id=verify-$$
		ctr_ run -d --runtime "$RUNTIME" --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin --rootfs "$CTRD_DIR/rootfs" \
			"$id" sleep 60 || { echo "ctr run failed"; tail -n 20 "$CTRD_LOG"; exit 1; }
		rc=1
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(shim_pids "$id")
			[ -n "$pids" ] && break
			sleep 0.2
		done
		[ -n "$pids" ] || echo "no shim process found for $id"
		for p in $pids; do
			exe=$(readlink "/proc/$p/exe")
			ver=$("/proc/$p/exe" -v 2>&1 | head -n 1)
			echo "shim pid $p exe $exe ($(stat -Lc %s "/proc/$p/exe") bytes), -v: $ver"
			if [ "$exe" = "$STOCK_DIR/containerd-shim-runc-v2" ] && cmp -s "/proc/$p/exe" "$SHIM" &&
				[ "${ver%:}" = containerd-shim-runc-v2-c ]; then
				rc=0
			else
				echo "that is NOT our shim (a copy of $SHIM)"
				rc=1
				break
			fi
		done
		ctr_ task kill -s SIGKILL "$id" >/dev/null 2>&1
		exit $rc
	)
}

# combo LABEL KIND BIN_DIR: one integration run; appends to ROWS
combo() {
	local label=$1 kind=$2 bin=$3 log start secs line res note='' d n
	shift 3
	log=$LOG_DIR/$label-$kind.log
	start=$SECONDS
	{
		echo "### containerd $label, $kind"
		if [ "$kind" = stock ]; then
			if verify_stock "$bin" >"$log.verify" 2>&1; then
				note="shim verified: $(grep -m1 '^shim pid' "$log.verify" | sed 's/ exe .*//')"
			else
				note="shim NOT verified"
			fi
			cat "$log.verify"
			env ${bin:+CONTAINERD_BIN_DIR="$bin"} RUNTIME=io.containerd.runc.v2 SHIM_DIR="$STOCK_DIR" \
				FORCE_STATIC_TEST=1 CTRD_KEEP_LOG=1 "$REPO/tests/integration/run.sh" "$@"
		else
			env ${bin:+CONTAINERD_BIN_DIR="$bin"} RUNTIME=io.containerd.runc.v2-c SHIM_DIR="$OWN_DIR" \
				CTRD_KEEP_LOG=1 "$REPO/tests/integration/run.sh" "$@"
		fi
	} >"$log" 2>&1 </dev/null
	secs=$((SECONDS - start))
	# containerd's log (kept by CTRD_KEEP_LOG=1 as /tmp/containerd-ctrd.X.log)
	d=$(sed -n 's|^# containerd pid [0-9]*, dir /tmp/\(ctrd\.[A-Za-z0-9]*\)$|\1|p' "$log" | tail -n 1)
	if [ -n "$d" ] && [ -f "/tmp/containerd-$d.log" ]; then
		mv "/tmp/containerd-$d.log" "$log.containerd"
		# warnings/errors beyond the usual ones (plugins we disabled, shim exits,
		# ctr's exit code notes, 2.x's shim log copy race)
		n=$(grep -E 'level=(warning|error)' "$log.containerd" | grep -cvE \
			'failed to load plugin|cleaning up after shim disconnected|exit with non-zero exit code|copy shim log|OCI runtime create failed')
		[ "$n" -eq 0 ] || note="${note:+$note; }containerd: $n warning/error line(s), e.g. $(grep -E 'level=(warning|error)' "$log.containerd" | grep -vE \
			'failed to load plugin|cleaning up after shim disconnected|exit with non-zero exit code|copy shim log|OCI runtime create failed' |
			sed -n '1s/^time="[^"]*" //p' | cut -c1-80)"
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ] && [ "${line%% *}" -gt 0 ] && [ "${line#* passed, }" = "0 failed" ] &&
		[ "${note#shim NOT verified}" = "$note" ]; then
		res=PASS
		PASSED=$((PASSED + 1))
		TESTS_OK=$((TESTS_OK + ${line%% *}))
	else
		res=FAIL
		FAILED=$((FAILED + 1))
		if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
			TESTS_OK=$((TESTS_OK + BASH_REMATCH[1]))
			TESTS_BAD=$((TESTS_BAD + BASH_REMATCH[2]))
		fi
		TESTS_BAD=$((TESTS_BAD + 1)) # the combination itself
	fi
	printf '%s containerd %s %s: %s%s (%ss, log %s)\n' "$res" "$label" "$kind" "${line:-no result}" \
		"${note:+; $note}" "$secs" "$log"
	if [ "$res" = FAIL ]; then
		grep -E '^(FAIL|#)|shim NOT|NOT our shim|no shim process' "$log" | sed 's/^/    /' | head -n 20
	fi
	ROWS+=("$(printf '%-8s %-26s %-6s %-22s %5ss  %s' "$res" "$label" "$kind" "${line:-no result}" "$secs" "$note")")
}

for suite in $COMPAT_SUITES; do
	bin=
	if [ "$suite" != system ]; then
		if ! bin=$("$HERE/fetch-containerd.sh" "$suite" 2>"$LOG_DIR/fetch-$suite.log"); then
			sed 's/^/    /' "$LOG_DIR/fetch-$suite.log" | tail -n 10
			echo "FAIL containerd $suite: could not fetch it"
			ROWS+=("$(printf '%-8s %-26s %-6s %s' FAIL "$suite" - "fetch failed")")
			FAILED=$((FAILED + 2))
			TESTS_BAD=$((TESTS_BAD + 2))
			continue
		fi
	fi
	ctrd=${bin:+$bin/}containerd
	ver=$("$ctrd" --version 2>/dev/null | awk '{ print $3 }')
	[ -n "$ver" ] || ver=unknown
	label=$ver-$suite
	echo "# containerd $ver ($suite): $(command -v "$ctrd")"
	combo "$label" own "$bin" "$@"
	combo "$label" stock "$bin" "$@"
done

echo
printf '%-8s %-26s %-6s %-22s %6s  %s\n' RESULT CONTAINERD SHIM TESTS TIME NOTE
for r in "${ROWS[@]}"; do printf '%s\n' "$r"; done
echo "# logs: $LOG_DIR"
echo "# combinations: $PASSED passed, $FAILED failed"
# the total counts the tests of every combination (a failed combination
# counts once more)
echo "$TESTS_OK passed, $TESTS_BAD failed"
[ "$FAILED" -eq 0 ]
