#!/usr/bin/env bash
#
# Integration tests: a private containerd drives the shim through ctr.
#
#   tests/integration/run.sh [-v] [NAME_PATTERN...]   (=NAME: exactly that test)
#
#   RUNTIME        runtime name (default io.containerd.runc.v2-c, i.e. our
#                  shim; io.containerd.runc.v2 = the stock Go shim)
#   SHIM_DIR       where containerd-shim-<...> is (default <repo>/build;
#                  /usr/bin for the Go shim); put first in containerd's PATH
#   TEST_TIMEOUT   seconds per test (default 120)
#   FORCE_STATIC_TEST=1  run the static-binary test whatever RUNTIME is
#   CTR_RUN_FLAGS  more `ctr run` flags for every container (words), e.g.
#                  --no-pivot on a host whose root is an initramfs
#   EXCLUDE        test names (words) not to run, whatever the patterns
#   TEST_FILES     the files of tests (words; default tests/integration/t_*.sh;
#                  tests/criu/run.sh gives its own)
#   -v             print each test's full log, not only on failure
#
# Tests are the functions named t_* in tests/integration/t_*.sh; each runs in
# its own subshell with a fresh container id "$T_ID".  Output: one line per
# test, "ok NAME" or "FAIL NAME: reason" (followed by the test's log, indented,
# on failure), then "N passed, N failed".  Exit status 1 if any failed.
#
# Example (stock Go shim):
#   RUNTIME=io.containerd.runc.v2 SHIM_DIR=/usr/bin tests/integration/run.sh

# shellcheck source-path=SCRIPTDIR
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/containerd.sh
. "$HERE/../lib/containerd.sh"

: "${TEST_TIMEOUT:=120}"
VERBOSE=0
PATTERNS=()
for arg in "$@"; do
	case $arg in
	-v) VERBOSE=1 ;;
	-h | --help)
		sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) PATTERNS+=("$arg") ;;
	esac
done

RUN_TAG=$$
T_PID=
PASSED=0
FAILED=0

# ---------------------------------------------------------------- helpers
# (available to the tests, which run in subshells of this script)

# fail MSG: end the current test as failed
fail() {
	printf '%s\n' "$*" >"$T_DIR/reason"
	printf 'FAIL: %s\n' "$*"
	exit 1
}

# skip MSG: end the current test as skipped (counted as passed)
skip() {
	printf '%s\n' "$*" >"$T_DIR/skip"
	exit 0
}

# run_c [ctr-run-flags...] ID CMD [ARG...]: ctr run with our runtime and the
# busybox rootfs.  Flags must come first and be single words (--env=A=B).
run_c() {
	local flags=()
	while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
		flags+=("$1")
		shift
	done
	# shellcheck disable=SC2206 # CTR_RUN_FLAGS: words
	flags+=(${CTR_RUN_FLAGS:-})
	echo "+ ctr run ${flags[*]} ... $*" >&2
	ctr_ run "${flags[@]}" --runtime "$RUNTIME" --fifo-dir "$(ctr_fifo_dir)" \
		--env PATH=/bin --rootfs "$ROOTFS" "$@"
}

# exec_c ID EXEC_ID CMD [ARG...]: ctr task exec
exec_c() {
	local id=$1 eid=$2
	shift 2
	echo "+ ctr task exec $id ($eid) $*" >&2
	ctr_ task exec --fifo-dir "$(ctr_fifo_dir)" --exec-id "$eid" "$id" "$@"
}

# task_field ID FIELD: PID or STATUS column of `ctr task ls` for ID
task_field() {
	local col=3
	[ "$2" = PID ] && col=2
	ctr_ task ls 2>/dev/null | awk -v id="$1" -v c="$col" '$1 == id { print $c }'
}

# wait_status ID STATUS [SECS]: poll `ctr task ls` until ID has STATUS
wait_status() {
	local id=$1 want=$2 secs=${3:-20} i st=
	for ((i = 0; i < secs * 10; i++)); do
		st=$(task_field "$id" STATUS)
		[ "$st" = "$want" ] && return 0
		sleep 0.1
	done
	echo "wait_status: $id is '$st', wanted $want"
	return 1
}

# wait_until SECS CMD...: poll until CMD succeeds
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

pid_alive() { [ -d "/proc/$1" ] && [ "$(proc_state "$1")" != Z ]; }
pid_gone() { ! [ -d "/proc/$1" ]; }
no_shim_for() { [ -z "$(shim_pids "$1")" ]; }

# proc_state PID / proc_ppid PID: from /proc/PID/stat (comm may hold spaces)
proc_state() {
	local s
	s=$({ cat "/proc/$1/stat"; } 2>/dev/null) || return 1
	s=${s##*) }
	printf '%s\n' "${s%% *}"
}
proc_ppid() {
	local s
	s=$({ cat "/proc/$1/stat"; } 2>/dev/null) || return 1
	s=${s##*) }
	s=${s#* }
	printf '%s\n' "${s%% *}"
}

# zombies_of PID...: zombie processes whose parent is one of PIDs
# ("pid ppid comm" lines).
zombies_of() {
	local f s rest p pp comm want=" $* "
	for f in /proc/[0-9]*/stat; do
		s=$({ cat "$f"; } 2>/dev/null) || continue
		rest=${s##*) }
		[ "${rest%% *}" = Z ] || continue
		p=${s%% *}
		rest=${rest#* }
		pp=${rest%% *}
		case $want in *" $pp "*) ;; *) continue ;; esac
		comm=${s#*(}
		comm=${comm%)*}
		printf '%s %s %s\n' "$p" "$pp" "$comm"
	done
}

# descendants PID: all descendants of PID (children first listed last)
descendants() {
	local f s rest p pp kids=() k
	for f in /proc/[0-9]*/stat; do
		s=$({ cat "$f"; } 2>/dev/null) || continue
		rest=${s##*) }
		rest=${rest#* }
		pp=${rest%% *}
		[ "$pp" = "$1" ] || continue
		p=${s%% *}
		kids+=("$p")
	done
	for k in "${kids[@]}"; do
		descendants "$k"
		printf '%s\n' "$k"
	done
}

kill_tree() {
	local p
	for p in $(descendants "$1") "$1"; do kill -KILL "$p" 2>/dev/null; done
}

# shim_socket ID: path of the shim's ttrpc socket, from the bundle's address
# file; failing that, the listening unix socket the shim holds open.
shim_socket() {
	local id=$1 a sp ino inodes=
	if [ -f "$(bundle_dir "$id")/address" ]; then
		a=$(<"$(bundle_dir "$id")/address")
		printf '%s\n' "${a#unix://}"
		return 0
	fi
	sp=$(shim_pids "$id" | head -n 1)
	[ -n "$sp" ] || return 1
	for a in /proc/"$sp"/fd/*; do
		ino=$(readlink "$a" 2>/dev/null) || continue
		case $ino in socket:\[*\]) inodes="$inodes ${ino//[!0-9]/}" ;; esac
	done
	# /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path
	awk -v inodes="$inodes " '
		NR > 1 && NF >= 8 && $6 == "01" && index(inodes, " " $7 " ") && $8 ~ /^\// { print $8; exit }
	' "/proc/$sp/net/unix"
}

# ---------------------------------------------------------------- runner

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$T_PID" ]; then
		kill_tree "$T_PID"
		kill -KILL -- "-$T_PID" 2>/dev/null
	fi
	ctrd_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

selected() {
	local p
	case " ${EXCLUDE:-} " in *" $1 "*) return 1 ;; esac
	[ ${#PATTERNS[@]} -eq 0 ] && return 0
	for p in "${PATTERNS[@]}"; do
		# "=NAME": that test only
		[[ $p == =* ]] && { [[ $1 == "${p#=}" ]] && return 0; continue; }
		# shellcheck disable=SC2053 # glob match intended
		[[ $1 == $p || $1 == *"$p"* ]] && return 0
	done
	return 1
}

report_log() {
	[ -s "$1" ] || return 0
	sed 's/^/    # /' "$1" | tail -n "${2:-40}"
}

run_one() {
	local name=$1 rc start reason
	# shellcheck disable=SC2034 # used by the tests
	T_ID="${name//_/-}-$RUN_TAG"
	T_DIR=$CTRD_DIR/t/$name
	mkdir -p "$T_DIR"
	# own process group (set -m), so stragglers can be killed as a group
	set -m
	("t_$name") >"$T_DIR/log" 2>&1 </dev/null &
	T_PID=$!
	set +m
	start=$SECONDS
	# a test file may give one of its tests more time: timeout_NAME=SECS
	local limit_var="timeout_$name" limit=$TEST_TIMEOUT
	[ -n "${!limit_var:-}" ] && [ "${!limit_var}" -gt "$limit" ] && limit=${!limit_var}
	while kill -0 "$T_PID" 2>/dev/null && [ $((SECONDS - start)) -lt "$limit" ]; do
		sleep 0.05
	done
	if kill -0 "$T_PID" 2>/dev/null; then
		kill_tree "$T_PID"
		wait "$T_PID" 2>/dev/null
		printf 'timed out after %ss\n' "$limit" >"$T_DIR/reason"
		rc=1
	else
		wait "$T_PID"
		rc=$?
	fi
	kill -KILL -- "-$T_PID" 2>/dev/null
	T_PID=
	# a test that restarted containerd (ctrd_resume) says its new pid
	if [ -s "$CTRD_DIR/containerd.pid" ]; then
		CTRD_PID=$(<"$CTRD_DIR/containerd.pid")
		rm -f "$CTRD_DIR/containerd.pid"
	fi
	# leftovers must not leak into the next test
	ctrd_cleanup_containers
	if ! kill -0 "$CTRD_PID" 2>/dev/null; then
		echo "containerd died during the test" >>"$T_DIR/reason"
		rc=1
	fi
	if [ "$rc" -eq 0 ]; then
		PASSED=$((PASSED + 1))
		if [ -f "$T_DIR/skip" ]; then
			echo "ok $name # skip $(head -n 1 "$T_DIR/skip")"
		else
			echo "ok $name"
		fi
		[ "$VERBOSE" = 1 ] && report_log "$T_DIR/log" 1000
	else
		FAILED=$((FAILED + 1))
		reason=$(head -n 1 "$T_DIR/reason" 2>/dev/null)
		echo "FAIL $name: ${reason:-exit status $rc}"
		report_log "$T_DIR/log" "$([ "$VERBOSE" = 1 ] && echo 1000 || echo 40)"
	fi
	if ! kill -0 "$CTRD_PID" 2>/dev/null; then
		echo "# containerd died; restarting it"
		ctrd_stop
		ctrd_start || return 1
		ROOTFS=$CTRD_DIR/rootfs
		make_busybox_rootfs "$ROOTFS" || return 1
	fi
	return 0
}

main() {
	local f name names=()
	# shellcheck disable=SC2206 # TEST_FILES: words
	local files=(${TEST_FILES:-"$HERE"/t_*.sh})
	for f in "${files[@]}"; do
		# shellcheck source=/dev/null
		. "$f"
	done
	# file order, then order inside each file
	while read -r name; do
		selected "$name" && names+=("$name")
	done < <(sed -n 's/^t_\([A-Za-z0-9_]*\)() *{.*/\1/p' "${files[@]}")

	echo "# runtime $RUNTIME, shim $SHIM_DIR/$SHIM_BIN_NAME"
	if [ ! -x "$SHIM_DIR/$SHIM_BIN_NAME" ]; then
		echo "FAIL setup: $SHIM_DIR/$SHIM_BIN_NAME not found (set SHIM_DIR / build it)"
		echo "0 passed, 1 failed"
		return 1
	fi
	if ! ctrd_start; then
		echo "FAIL setup: private containerd did not start"
		echo "0 passed, 1 failed"
		return 1
	fi
	ROOTFS=$CTRD_DIR/rootfs
	if ! make_busybox_rootfs "$ROOTFS"; then
		echo "FAIL setup: could not build the busybox rootfs"
		echo "0 passed, 1 failed"
		return 1
	fi
	echo "# containerd pid $CTRD_PID, dir $CTRD_DIR"

	for name in "${names[@]}"; do
		run_one "$name" || break
	done
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

main
