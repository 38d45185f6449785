# shellcheck shell=bash disable=SC2154
# Detached containers, exec, events, and what is left after delete.

t_detached() {
	local pid st
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	st=$(task_field "$T_ID" STATUS)
	[ "$st" = RUNNING ] || fail "task status '$st', want RUNNING"
	pid=$(task_field "$T_ID" PID)
	case $pid in '' | 0 | *[!0-9]*) fail "task pid '$pid'" ;; esac
	pid_alive "$pid" || fail "task pid $pid is not a live process"
	grep -qx sleep "/proc/$pid/comm" || fail "task pid $pid is $(cat "/proc/$pid/comm"), want sleep"
	ctr_ task kill -s SIGKILL "$T_ID" || fail "ctr task kill failed"
	wait_status "$T_ID" STOPPED 20 || fail "task not STOPPED after SIGKILL"
	pid_alive "$pid" && fail "pid $pid still alive after STOPPED"
	ctr_ task rm "$T_ID" || fail "ctr task rm failed"
	ctr_ task ls -q | grep -qx "$T_ID" && fail "task still listed after task rm"
	ctr_ containers rm "$T_ID" || fail "ctr container rm failed"
	ctr_ containers ls -q | grep -qx "$T_ID" && fail "container still listed after container rm"
	return 0
}

t_exec() {
	local out rc sp z n st
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	sp=$(shim_pids "$T_ID")
	[ -n "$sp" ] || fail "no shim process for $T_ID"

	out=$(exec_c "$T_ID" e1 echo hi)
	rc=$?
	[ "$rc" -eq 0 ] || fail "exec echo: exit status $rc"
	[ "$out" = hi ] || fail "exec echo: stdout '$out', want 'hi'"

	exec_c "$T_ID" e2 sh -c 'exit 5'
	rc=$?
	[ "$rc" -eq 5 ] || fail "exec 'exit 5': exit status $rc, want 5"

	# ctr task exec sends CloseIO on stdin EOF: cat must see EOF and exit
	out=$(printf 'abc\n' | exec_c "$T_ID" e3 cat)
	rc=$?
	[ "$rc" -eq 0 ] || fail "exec cat: exit status $rc (124 = hung: stdin EOF not delivered?)"
	[ "$out" = abc ] || fail "exec cat: stdout '$out', want 'abc'"

	# exec ids can be reused once the previous one is gone
	out=$(exec_c "$T_ID" e1 echo again)
	[ "$out" = again ] || fail "reused exec id: stdout '$out'"

	z=$(zombies_of "$sp")
	[ -z "$z" ] || fail "zombie children of the shim after execs: $z"
	n=$(ctr_ task ps "$T_ID" | awk 'NR > 1' | wc -l)
	[ "$n" -eq 1 ] || fail "ctr task ps lists $n processes, want 1 (init)"
	st=$(task_field "$T_ID" STATUS)
	[ "$st" = RUNNING ] || fail "init status '$st' after execs, want RUNNING"
}

# the shim (and its socket, bundle, runc state) go away after delete, and
# nothing it started is left as a zombie
t_shim_cleanup() {
	local sp sock pid bundle z
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	sp=$(shim_pids "$T_ID")
	[ -n "$sp" ] || fail "no shim process with -id $T_ID"
	[ "$(wc -w <<<"$sp")" -eq 1 ] || fail "several shim processes for $T_ID: $sp"
	grep -q "$SHIM_BIN_NAME" "/proc/$sp/cmdline" || fail "shim $sp is not $SHIM_BIN_NAME"
	echo "shim pid $sp: $(tr '\0' ' ' <"/proc/$sp/cmdline")"
	echo "shim RSS $(rss_kb "$sp") kB"
	bundle=$(bundle_dir "$T_ID")
	sock=$(shim_socket "$T_ID")
	echo "shim socket $sock"
	[ -n "$sock" ] || fail "could not find the shim's socket"
	[ -S "$sock" ] || fail "shim socket $sock does not exist while running"
	pid=$(task_field "$T_ID" PID)
	[ "$(proc_ppid "$pid")" = "$sp" ] || fail "container init $pid has parent $(proc_ppid "$pid"), want the shim $sp"

	ctr_ task kill -s SIGKILL "$T_ID" || fail "ctr task kill failed"
	wait_status "$T_ID" STOPPED 20 || fail "task not STOPPED after SIGKILL"
	wait_until 5 pid_gone "$pid" || fail "container init $pid not reaped by the shim ($(proc_state "$pid"))"
	ctr_ task rm "$T_ID" || fail "ctr task rm failed"
	ctr_ containers rm "$T_ID" || fail "ctr container rm failed"

	wait_until 10 pid_gone "$sp" || fail "shim $sp still there after delete (state $(proc_state "$sp"))"
	[ -e "$sock" ] && fail "shim socket $sock left behind"
	[ -e "$bundle" ] && fail "bundle $bundle left behind"
	[ -e "/run/containerd/runc/$CTRD_NS/$T_ID" ] && fail "runc state /run/containerd/runc/$CTRD_NS/$T_ID left behind"
	z=$(zombies_of "$CTRD_PID" "$$" "$BASHPID" "$sp")
	[ -z "$z" ] || fail "zombies left: $z"
	return 0
}

# events_subscribe FILE: `ctr events` into FILE in the background (its pid
# in EVENTS_PID), returning once the subscription is live: it has seen a
# namespace label of ours.  It lasts as long as the test (whose process
# group goes at its end), not CTR_TIMEOUT: a pod started on a slow guest
# takes longer than that before its exits come.
events_subscribe() {
	local i
	CTR_TIMEOUT=86400 ctr_ events >"$1" 2>&1 &
	EVENTS_PID=$!
	for ((i = 1; i <= 100; i++)); do
		ctr_ namespaces label "$CTRD_NS" "probe=$T_ID-$i" >/dev/null
		grep -q "probe\":\"$T_ID-" "$1" && break
		sleep 0.1
	done
	ctr_ namespaces label "$CTRD_NS" probe= >/dev/null
	grep -q "probe\":\"$T_ID-" "$1" || { kill "$EVENTS_PID"; fail "ctr events never subscribed"; }
}

# /tasks/create, /tasks/start, /tasks/exit, /tasks/delete in that order,
# with the right exit status and pid
t_events() {
	local ep topics rc spid epid
	events_subscribe "$T_DIR/events"
	ep=$EVENTS_PID

	run_c --rm "$T_ID" sh -c 'exit 7'
	rc=$?
	[ "$rc" -eq 7 ] || { kill "$ep"; fail "ctr run exit status $rc, want 7"; }
	wait_until 10 grep -q "/tasks/delete.*\"container_id\":\"$T_ID\"" "$T_DIR/events"
	kill "$ep"
	wait "$ep" 2>/dev/null
	grep -F "\"$T_ID\"" "$T_DIR/events"
	topics=$(grep -F "\"container_id\":\"$T_ID\"" "$T_DIR/events" |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\/tasks\//) { printf "%s ", $i; break } }')
	[ "$topics" = "/tasks/create /tasks/start /tasks/exit /tasks/delete " ] ||
		fail "task events: '$topics', want create start exit delete"
	grep "/tasks/exit" "$T_DIR/events" | grep -F "\"$T_ID\"" | grep -q '"exit_status":7' ||
		fail "/tasks/exit lacks exit_status 7"
	spid=$(grep "/tasks/start" "$T_DIR/events" | grep -F "\"$T_ID\"" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
	epid=$(grep "/tasks/exit" "$T_DIR/events" | grep -F "\"$T_ID\"" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
	if [ -z "$spid" ] || [ "$spid" != "$epid" ]; then
		fail "start pid '$spid' != exit pid '$epid'"
	fi
}

# containers of one group (the pod label) share one shim, which stays until
# the last of them is deleted, then exits and removes its socket
t_pod_group() {
	local a=${T_ID}-a b=${T_ID}-b g=pod-$T_ID sa sb addr_a addr_b out
	run_c -d "--annotation=io.containerd.runc.v2.group=$g" "$a" sleep 100 ||
		fail "run $a failed"
	run_c -d "--annotation=io.containerd.runc.v2.group=$g" "$b" sleep 100 ||
		fail "run $b failed"
	wait_status "$a" RUNNING 20 || fail "$a not RUNNING"
	wait_status "$b" RUNNING 20 || fail "$b not RUNNING"
	addr_a=$(cat "$(bundle_dir "$a")/address") || fail "no address for $a"
	addr_b=$(cat "$(bundle_dir "$b")/address") || fail "no address for $b"
	[ "$addr_a" = "$addr_b" ] || fail "group members got different sockets: $addr_a $addr_b"
	sa=$(shim_pids "$a")
	sb=$(shim_pids "$b")
	[ -n "$sa" ] || fail "no shim for $a"
	[ -z "$sb" ] || [ "$sb" = "$sa" ] || fail "a second shim ($sb) for $b"
	out=$(exec_c "$b" e1 echo via-shared-shim) || fail "exec in $b failed"
	[ "$out" = via-shared-shim ] || fail "exec output '$out'"

	ctr_ task kill -s SIGKILL "$a" || fail "kill $a failed"
	wait_status "$a" STOPPED 20 || fail "$a not STOPPED"
	ctr_ task rm "$a" || fail "task rm $a failed"
	[ "$(task_field "$b" STATUS)" = RUNNING ] || fail "$b stopped with $a"
	pid_alive "$sa" || fail "shared shim exited while $b still runs"

	ctr_ task kill -s SIGKILL "$b" || fail "kill $b failed"
	wait_status "$b" STOPPED 20 || fail "$b not STOPPED"
	ctr_ task rm "$b" || fail "task rm $b failed"
	wait_until 10 pid_gone "$sa" || fail "shared shim $sa still alive after both deleted"
	[ -S "${addr_a#unix://}" ] && fail "socket ${addr_a#unix://} left behind"
	ctr_ containers rm "$a" "$b" || fail "container rm failed"
}

# without a pid namespace of its own, what the init leaves behind is killed
# when it exits, before its exit is reported
t_orphans_killed() {
	local secs=$((90000 + RANDOM)) orphan init st spec=$T_DIR/spec.json
	command -v python3 >/dev/null || skip "no python3"
	# ctr's default spec with the host's pid namespace (no pid entry)
	ctr_ oci spec | python3 -c '
import json, sys
s = json.load(sys.stdin)
s["linux"]["namespaces"] = [n for n in s["linux"]["namespaces"] if n["type"] != "pid"]
s["root"] = {"path": sys.argv[1], "readonly": False}
s["process"]["args"] = ["sh", "-c", "sleep %s & exec sleep %d" % (sys.argv[2], int(sys.argv[2]) + 1)]
s["process"]["env"] = ["PATH=/bin"]
# a leaf cgroup of its own, as ctr gives the containers it makes: the
# spec'"'"'s own is the namespace'"'"'s, which has children (cgroup v2 puts no
# process in a cgroup that has)
s["linux"]["cgroupsPath"] = "/%s/%s" % (sys.argv[4], sys.argv[5])
json.dump(s, open(sys.argv[3], "w"))
' "$ROOTFS" "$secs" "$spec" "$CTRD_NS" "$T_ID" || fail "cannot write the spec"
	# shellcheck disable=SC2086 # CTR_RUN_FLAGS: words
	ctr_ run -d ${CTR_RUN_FLAGS:-} --runtime "$RUNTIME" --fifo-dir "$(ctr_fifo_dir)" --config "$spec" "$T_ID" ||
		fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	wait_until 10 pgrep -fx "sleep $secs" >/dev/null || fail "no background sleep"
	orphan=$(pgrep -fx "sleep $secs")
	init=$(task_field "$T_ID" PID)
	if [ -z "$orphan" ] || [ "$orphan" = "$init" ]; then
		fail "orphan '$orphan' init '$init'"
	fi
	# watch the events, and look at the orphan the moment the exit shows
	local ep i
	events_subscribe "$T_DIR/events"
	ep=$EVENTS_PID
	ctr_ task kill -s SIGKILL "$T_ID" || { kill "$ep"; fail "kill failed"; }
	for ((i = 0; i < 4000; i++)); do
		grep -q "/tasks/exit.*$T_ID" "$T_DIR/events" && break
		sleep 0.005
	done
	st=$(proc_state "$orphan" 2>/dev/null)
	kill "$ep" 2>/dev/null
	wait "$ep" 2>/dev/null
	grep -q "/tasks/exit.*$T_ID" "$T_DIR/events" || fail "no exit event"
	[ -z "$st" ] || [ "$st" = Z ] || fail "orphan $orphan still running ($st) when the exit was published"
	wait_status "$T_ID" STOPPED 20 || fail "task not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# output into a FIFO nobody reads: once the pipes are full (they may grow to 1
# MiB each while output streams) the copy stalls;
# Delete waits for it (~10 s, as the Go shim does), then completes anyway
t_delete_stalled_output() {
	local t0 t1 fifo=$T_DIR/out.fifo
	mkfifo "$fifo" || fail "mkfifo failed"
	run_c -d "--log-uri=file://$fifo" "$T_ID" sh -c 'head -c 4000000 /dev/zero; exec sleep 1000' ||
		fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	sleep 0.5
	ctr_ task kill -s SIGKILL "$T_ID" || fail "kill failed"
	wait_status "$T_ID" STOPPED 20 || fail "task not STOPPED"
	t0=$(date +%s)
	ctr_ task rm "$T_ID" || fail "task rm failed"
	t1=$(date +%s)
	[ $((t1 - t0)) -ge 8 ] || fail "delete took $((t1 - t0)) s: it did not wait for the output"
	[ $((t1 - t0)) -le 30 ] || fail "delete took $((t1 - t0)) s"
	ctr_ task ls -q | grep -qx "$T_ID" && fail "task still listed"
	return 0
}
