# shellcheck shell=bash disable=SC2154
# Scale and load through the real containerd: a pod of hundreds of
# containers in one shim, hundreds of execs, a thousand connections, ten
# thousand parked Waits, a client that never reads, and an exec racing a
# kill -9 and a recreate.  SCALE_PODS / SCALE_EXECS / SCALE_ROUNDS shrink
# them for a quick run.

: "${SCALE_PODS:=500}" "${SCALE_EXECS:=500}" "${SCALE_ROUNDS:=100}"
# shellcheck disable=SC2034 # read by run_one
timeout_pod_500=900 timeout_exec_500=600 timeout_kill_exec_loop=600 timeout_waits_10000=300

# in_batches N CMD...: run CMD i for i = 1..N, 20 at a time; counts failures
in_batches() {
	local n=$1 i p bad=0
	shift
	local -a pids=()
	for ((i = 1; i <= n; i++)); do
		"$@" "$i" &
		pids+=("$!")
		if ((${#pids[@]} == 20 || i == n)); then
			for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
			pids=()
		fi
	done
	return "$bad"
}

pod_run() { run_c -d "--annotation=io.containerd.runc.v2.group=pod-$T_ID" "$T_ID-$1" sleep 86400 >/dev/null 2>>"$T_DIR/err"; }
pod_rm() { ctr_ task rm "$T_ID-$1" >/dev/null 2>>"$T_DIR/err"; }

# one shim serves every container of the pod; every exit is published;
# all are deleted and the shim exits after the last
t_pod_500() {
	local n=$SCALE_PODS shims shim rss exits i pids
	events_subscribe "$T_DIR/events"
	in_batches "$n" pod_run || fail "$? of $n containers failed to start: $(grep -v "^+ " "$T_DIR/err" | sort | uniq -c | head -3)"
	shims=$(shim_pids | sort -u)
	[ "$(printf '%s\n' "$shims" | grep -c .)" = 1 ] || fail "shims: $shims"
	shim=$shims
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$shim/status")
	echo "# $n containers in one shim: RSS $rss kB"
	[ "$(ctr_ task ls | awk -v p="$T_ID-" 'index($1, p) == 1 && $3 == "RUNNING"' | wc -l)" = "$n" ] ||
		fail "not all $n RUNNING"
	pids=$(ctr_ task ls | awk -v p="$T_ID-" 'index($1, p) == 1 { print $2 }')
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL $pids || fail "kill failed"
	wait_until 60 test "$(grep -c "/tasks/exit.*\"$T_ID-" "$T_DIR/events")" -ge "$n"
	exits=$(grep "/tasks/exit" "$T_DIR/events" | grep -o "\"container_id\":\"$T_ID-[0-9]*\"" | sort -u | wc -l)
	[ "$exits" = "$n" ] || fail "exits published for $exits of $n containers"
	grep "/tasks/exit" "$T_DIR/events" | grep -F "\"$T_ID-" | grep -vq '"exit_status":137' &&
		fail "an exit status other than 137"
	in_batches "$n" pod_rm || fail "$? deletes failed: $(grep -v "^+ " "$T_DIR/err" | sort | uniq -c | head -3)"
	wait_until 20 pid_gone "$shim" || fail "shim $shim still alive after the last delete"
	kill "$EVENTS_PID" 2>/dev/null
	local -a ids=()
	for ((i = 1; i <= n; i++)); do
		ids+=("$T_ID-$i")
		if ((${#ids[@]} == 100 || i == n)); then
			ctr_ containers rm "${ids[@]}" || fail "container rm failed"
			ids=()
		fi
	done
	return 0
}

exec_one() {
	local i=$1 out err rc
	out=$(ctr_ task exec --fifo-dir "$(ctr_fifo_dir)" --exec-id "e$i" "$T_ID" \
		sh -c "echo out$i; echo err$i >&2; exit $((i % 200))" 2>"$T_DIR/err.$i")
	rc=$?
	err=$(grep -v '^time=' "$T_DIR/err.$i")
	rm -f "$T_DIR/err.$i"
	if [ "$rc" != $((i % 200)) ] || [ "$out" != "out$i" ] || [ "$err" != "err$i" ]; then
		echo "exec $i: exit $rc, stdout '$out', stderr '$err'" >>"$T_DIR/bad"
		return 1
	fi
}

# piped stdout and stderr, every exit code right, 50 at a time
t_exec_500() {
	local n=$SCALE_EXECS i p
	local -a pids=()
	run_c -d "$T_ID" sleep 86400 || fail "run failed"
	wait_status "$T_ID" RUNNING 20 || fail "not RUNNING"
	for ((i = 1; i <= n; i++)); do
		exec_one "$i" &
		pids+=("$!")
		if ((${#pids[@]} == 50 || i == n)); then
			for p in "${pids[@]}"; do wait "$p"; done
			pids=()
		fi
	done
	[ -s "$T_DIR/bad" ] && fail "$(wc -l <"$T_DIR/bad") of $n execs wrong: $(head -3 "$T_DIR/bad")"
	ctr_ task kill -s SIGKILL "$T_ID"
	wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# load_start MODE ARGS...: shim_load.py on our container's shim, its stdin
# a FIFO held on fd 7, its output in $T_DIR/load
load_start() {
	mkfifo "$T_DIR/ctl" || fail "mkfifo"
	python3 "$HERE/shim_load.py" "$@" <"$T_DIR/ctl" >"$T_DIR/load" 2>&1 &
	LOAD_PID=$!
	exec 7>"$T_DIR/ctl"
	wait_until 120 grep -q '^ok\|^FAIL' "$T_DIR/load" || fail "shim_load did not start: $(cat "$T_DIR/load")"
	grep -q '^FAIL' "$T_DIR/load" && fail "$(cat "$T_DIR/load")"
	return 0
}

load_end() {
	echo go >&7
	exec 7>&-
	wait "$LOAD_PID" || fail "$(cat "$T_DIR/load")"
	cat "$T_DIR/load"
}

# 1000 connections open to one shim while containerd keeps being served
t_conns_1000() {
	local out
	command -v python3 >/dev/null || skip "no python3"
	run_c -d "$T_ID" sleep 86400 || fail "run failed"
	wait_status "$T_ID" RUNNING 20 || fail "not RUNNING"
	load_start conns "$(bundle_dir "$T_ID")/address" "$T_ID" 1000
	out=$(exec_c "$T_ID" e1 echo served) || fail "exec with 1000 connections open failed"
	[ "$out" = served ] || fail "exec output '$out'"
	load_end
	ctr_ task kill -s SIGKILL "$T_ID"
	wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# 10 000 Waits parked; State on another connection answers at once; all
# are answered with the exit
t_waits_10000() {
	command -v python3 >/dev/null || skip "no python3"
	run_c -d "$T_ID" sleep 86400 || fail "run failed"
	wait_status "$T_ID" RUNNING 20 || fail "not RUNNING"
	load_start waits "$(bundle_dir "$T_ID")/address" "$T_ID" 10000 10
	[ "$(task_field "$T_ID" STATUS)" = RUNNING ] || fail "containerd's State failed"
	ctr_ task kill -s SIGKILL "$T_ID" || fail "kill failed"
	load_end
	wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# a client that writes and never reads: bounded shim memory, containerd
# still served
t_never_reads() {
	local shim
	command -v python3 >/dev/null || skip "no python3"
	run_c -d "$T_ID" sleep 86400 || fail "run failed"
	wait_status "$T_ID" RUNNING 20 || fail "not RUNNING"
	shim=$(shim_pids "$T_ID" | head -n 1)
	load_start noread "$(bundle_dir "$T_ID")/address" "$T_ID" "$shim"
	[ "$(task_field "$T_ID" STATUS)" = RUNNING ] || fail "containerd not served"
	load_end
	ctr_ task kill -s SIGKILL "$T_ID"
	wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# kill -9 of the init while an exec starts, then delete and recreate under
# the same id: no container ever reports another's state
t_kill_exec_loop() {
	local r pid st ep out
	for ((r = 1; r <= SCALE_ROUNDS; r++)); do
		run_c -d "$T_ID" sleep 86400 >/dev/null || fail "round $r: run failed"
		pid=$(task_field "$T_ID" PID)
		st=$(task_field "$T_ID" STATUS)
		[ "$st" = RUNNING ] && [ -n "$pid" ] && [ "$pid" != 0 ] ||
			fail "round $r: new container is '$st' pid '$pid'"
		grep -q "sleep" "/proc/$pid/cmdline" 2>/dev/null ||
			fail "round $r: reported pid $pid is not its init"
		ctr_ task exec --fifo-dir "$(ctr_fifo_dir)" --exec-id "x$r" "$T_ID" sleep 86400 \
			>/dev/null 2>&1 &
		ep=$!
		kill -KILL "$pid"
		wait_status "$T_ID" STOPPED 20 || fail "round $r: not STOPPED after kill -9"
		wait "$ep" 2>/dev/null
		out=$(ctr_ task rm "$T_ID" 2>&1) || fail "round $r: task rm: $out"
		ctr_ containers rm "$T_ID" || fail "round $r: container rm failed"
	done
	echo "# $SCALE_ROUNDS rounds"
}
