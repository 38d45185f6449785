# shellcheck shell=bash disable=SC2154,SC2016
# The container's cgroup through the shim, on whichever cgroup version the
# host has (v1 or hybrid here; v2 in the tests/vm guest): Stats, OOM
# events, Update and Pause/Resume.  Sourced by run.sh.

_cg_v2() { [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; }

# the directory of PID's cgroup for controller CTRL (v1) or the unified one
_cg_dir() {
	local pid=$1 ctrl=$2 line
	if _cg_v2; then
		line=$(grep '^0::' "/proc/$pid/cgroup")
		printf '/sys/fs/cgroup%s\n' "${line#0::}"
	else
		line=$(grep -E "^[0-9]+:([^:]*,)?$ctrl(,[^:]*)?:" "/proc/$pid/cgroup")
		printf '/sys/fs/cgroup/%s%s\n' "$ctrl" "${line##*:}"
	fi
}

# Stats: the Metrics of the cgroup version in use, with real values
t_metrics() {
	local out
	run_c -d "$T_ID" sh -c 'x=$(head -c 4000000 /dev/zero | tr "\0" a); sleep 300' ||
		fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "not running"
	sleep 1
	out=$(ctr_ task metrics "$T_ID") || fail "ctr task metrics failed"
	printf '%s\n' "$out"
	grep -q "pids" <<<"$out" || fail "no pids metrics"
	# pids.current (v2) / pids (v1) is at least the shell and sleep
	awk '$1 ~ /^pids/ && $1 !~ /limit|max/ && $2 + 0 >= 1 { ok = 1 } END { exit !ok }' <<<"$out" ||
		fail "pids metric not >= 1"
	awk '$1 ~ /^memory\.(usage|usage_in_bytes)$/ && $2 + 0 > 0 { ok = 1 } END { exit !ok }' <<<"$out" ||
		fail "memory usage not > 0"
}

# OOM: a container past its memory limit is killed (137) and /tasks/oom
# is published before its exit
t_oom() {
	local rc ep
	events_subscribe "$T_DIR/events"
	ep=$EVENTS_PID
	run_c --rm --memory-limit=33554432 "$T_ID" sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived'
	rc=$?
	sleep 0.5
	kill "$ep" 2>/dev/null
	wait "$ep" 2>/dev/null
	[ "$rc" -eq 137 ] || fail "exit status $rc, want 137"
	grep -q "/tasks/oom.*$T_ID" "$T_DIR/events" || fail "no /tasks/oom event: $(cat "$T_DIR/events")"
	local oom exit
	oom=$(grep -n "/tasks/oom.*$T_ID" "$T_DIR/events" | head -n 1 | cut -d: -f1)
	exit=$(grep -n "/tasks/exit.*$T_ID" "$T_DIR/events" | head -n 1 | cut -d: -f1)
	if [ -z "$exit" ] || [ "$oom" -ge "$exit" ]; then
		fail "the oom event is not before the exit"
	fi
}

# Update: a new memory limit lands in the container's cgroup (sent over the
# shim's socket: ctr 1.6 has no `task update`)
t_update() {
	local pid dir lim
	run_c -d --memory-limit=67108864 "$T_ID" sleep 300 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "not running"
	pid=$(task_field "$T_ID" PID)
	dir=$(_cg_dir "$pid" memory)
	if _cg_v2; then lim=$dir/memory.max; else lim=$dir/memory.limit_in_bytes; fi
	[ "$(cat "$lim")" = 67108864 ] || fail "limit at start: $(cat "$lim")"
	python3 "$HERE/ttrpc_probe.py" "$(shim_socket "$T_ID")" "$T_ID" --update-memory 50331648 ||
		fail "Update failed"
	[ "$(cat "$lim")" = 50331648 ] || fail "limit after update: $(cat "$lim") ($lim)"
}

# Pause/Resume: the freezer of the cgroup version in use
t_pause() {
	local pid dir
	run_c -d "$T_ID" sleep 300 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "not running"
	pid=$(task_field "$T_ID" PID)
	ctr_ task pause "$T_ID" || fail "pause failed"
	wait_status "$T_ID" PAUSED 10 || fail "not PAUSED"
	if _cg_v2; then
		dir=$(_cg_dir "$pid" "")
		grep -qx 'frozen 1' "$dir/cgroup.events" || fail "cgroup.events: $(cat "$dir/cgroup.events")"
	else
		dir=$(_cg_dir "$pid" freezer)
		[ "$(cat "$dir/freezer.state")" = FROZEN ] || fail "freezer.state: $(cat "$dir/freezer.state")"
	fi
	[ "$(proc_state "$pid")" != R ] || fail "the process still runs"
	ctr_ task resume "$T_ID" || fail "resume failed"
	wait_status "$T_ID" RUNNING 10 || fail "not RUNNING after resume"
	if _cg_v2; then
		grep -qx 'frozen 0' "$dir/cgroup.events" || fail "still frozen"
	fi
}
