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
