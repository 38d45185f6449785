# shellcheck shell=bash disable=SC2154
# Concurrency: several containers (so several shims) at once.

t_parallel() {
	local i n=${PARALLEL_N:-10} pids=() rc out bad=
	for ((i = 1; i <= n; i++)); do
		run_c --rm "$T_ID-$i" echo "n$i" >"$T_DIR/out.$i" 2>"$T_DIR/err.$i" &
		pids[i]=$!
	done
	for ((i = 1; i <= n; i++)); do
		wait "${pids[i]}"
		rc=$?
		out=$(<"$T_DIR/out.$i")
		if [ "$rc" -ne 0 ] || [ "$out" != "n$i" ]; then
			echo "container $i: exit $rc, stdout '$out', stderr: $(grep -v '^+ ' "$T_DIR/err.$i")"
			bad="$bad $i"
		fi
	done
	[ -z "$bad" ] || fail "containers$bad failed"
	for ((i = 1; i <= n; i++)); do
		ctr_ containers ls -q | grep -qx "$T_ID-$i" && fail "container $T_ID-$i left behind"
	done
	wait_until 10 no_shim_for "$T_ID" || fail "shims left: $(shim_pids "$T_ID")"
}
