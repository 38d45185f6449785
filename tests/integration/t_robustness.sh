# shellcheck shell=bash disable=SC2154
# Hostile input on the shim's own socket, and what serving costs it.

# fds and heap of a shim: "fds heap_kb" (heap_kb 0 when there is no [heap])
shim_footprint() {
	local fds heap
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	heap=$(awk '$6 == "[heap]" { split($1, a, "-"); s += strtonum("0x" a[2]) - strtonum("0x" a[1]) }
		END { print int(s / 1024) }' "/proc/$1/maps" 2>/dev/null)
	echo "$fds ${heap:-0}"
}

t_bad_input() {
	local sp bundle addr sock before after
	command -v python3 >/dev/null || skip "no python3"
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	sp=$(shim_pids "$T_ID")
	[ -n "$sp" ] || fail "no shim process"
	bundle=$(bundle_dir "$T_ID")
	addr=$(cat "$bundle/address") || fail "no address file in $bundle"
	sock=${addr#unix://}
	[ -S "$sock" ] || fail "socket $sock missing"
	before=$(shim_footprint "$sp")
	python3 "$HERE/ttrpc_probe.py" "$sock" "$T_ID" || fail "probe failed"
	sleep 0.2
	after=$(shim_footprint "$sp")
	[ "${before%% *}" = "${after%% *}" ] || fail "shim fds went from ${before%% *} to ${after%% *}"
	[ "${after##* }" -le "${before##* }" ] || fail "shim heap grew from ${before##* } to ${after##* } kB"
	pid_alive "$sp" || fail "shim died"
	[ "$(task_field "$T_ID" STATUS)" = RUNNING ] || fail "task no longer RUNNING"
	ctr_ task kill -s SIGKILL "$T_ID" || fail "kill failed"
	wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# serving many requests must not grow the shim: no heap, same fds
t_no_growth() {
	local sp before after i
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	sp=$(shim_pids "$T_ID")
	exec_c "$T_ID" warm echo warm >/dev/null || fail "first exec failed"
	before=$(shim_footprint "$sp")
	for i in 1 2 3 4 5 6 7 8; do
		exec_c "$T_ID" "e$i" echo "$i" >/dev/null || fail "exec $i failed"
		ctr_ task ps "$T_ID" >/dev/null || fail "ps failed"
	done
	after=$(shim_footprint "$sp")
	[ "${before%% *}" = "${after%% *}" ] || fail "shim fds went from ${before%% *} to ${after%% *}"
	[ "${after##* }" -le "${before##* }" ] || fail "heap grew from ${before##* } to ${after##* } kB"
	ctr_ task kill -s SIGKILL "$T_ID"
	wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
	ctr_ task rm "$T_ID" || fail "task rm failed"
}

# delete_status BUNDLE ID: run the shim's `delete` as containerd does after a
# dead shim and print the exit status of its DeleteResponse
delete_status() {
	(cd "$1" && "$SHIM_DIR/$SHIM_BIN_NAME" -namespace "$CTRD_NS" -address "$CTRD_SOCK" \
		-id "$2" -bundle "$1" delete) | python3 -c '
import sys
b = sys.stdin.buffer.read()
i, st = 0, None
while i < len(b):
    key = b[i]; i += 1
    if key & 7 == 0:
        v = s = 0
        while True:
            x = b[i]; i += 1; v |= (x & 0x7f) << s; s += 7
            if not x & 0x80: break
        if key >> 3 == 2: st = v
    elif key & 7 == 2:
        n = b[i]; i += 1 + n
    else: break
print(st if st is not None else 0)'
}

# A shim killed after its container exited (3) and before containerd heard
# of it: the exit journal in the bundle makes `shim delete`, which containerd
# runs for a dead shim, report 3 and not the 137 of a kill (the Go shim's).
t_exit_journal() {
	local pid sp st bundle go=/tmp/go-$T_ID
	run_c -d "$T_ID" sh -c "while [ ! -e $go ]; do sleep 0.1; done; exit 3" ||
		fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	pid=$(task_field "$T_ID" PID)
	bundle=$(bundle_dir "$T_ID")
	sp=$(shim_pids "$T_ID")
	[ -n "$sp" ] || fail "no shim process"
	ctrd_halt || fail "containerd did not stop"
	touch "/proc/$pid/root$go"
	wait_until 10 pid_gone "$pid" || { rm -f "$ROOTFS$go"; fail "the container did not exit"; }
	rm -f "$ROOTFS$go"
	if [ "$RUNTIME" = io.containerd.runc.v2 ]; then
		sleep 1 # the Go shim has no journal to wait for
	else
		wait_until 5 test -s "$bundle/exit" || fail "no exit journal in $bundle"
		echo "journal: $(cat "$bundle/exit")"
	fi
	kill -KILL "$sp"
	wait_until 5 pid_gone "$sp" || fail "the shim did not die"
	st=$(delete_status "$bundle" "$T_ID")
	echo "shim delete after the shim died: exit status $st"
	ctrd_resume || fail "containerd did not come back"
	wait_until 20 grep -q "cleaning up dead shim" "$CTRD_LOG" || fail "containerd did not clean up the dead shim"
	ctr_ containers rm "$T_ID" || fail "container rm failed"
	if [ "$RUNTIME" = io.containerd.runc.v2 ]; then
		skip "the Go shim reports $st (no journal)"
	fi
	[ "$st" = 3 ] || fail "shim delete reports $st, not the container's 3"
}
