#!/usr/bin/env bash
#
# Memory footprint of idle containers, per shim.
#
#   tools/bench-memory.sh [--pod|--both] [EXTRA_SHIM...]
#
# For every shim under test (ours, io.containerd.runc.v2-c; Debian's Go shim,
# io.containerd.runc.v2; any extra containerd-shim-X-Y binary given, runtime
# io.containerd.X.Y) and every N: start a private containerd, start N idle
# busybox containers (`ctr run -d ... sleep 100000`), wait until all are
# RUNNING, let them settle, then record per-shim-process RSS and PSS (median
# and max), the totals, threads and open fds per shim process, and the
# binary size; then kill and remove everything and stop containerd.
#
# Pod mode (--pod, or BENCH_POD=1): N pods of two containers each; both get
# the OCI annotation io.containerd.runc.v2.group=<pod> (`ctr run
# --annotation`), which is what the runc v2 shims read from config.json to
# serve a group from one shim process, so N shims serve 2N containers.
#
# Pod curve (BENCH_BIGPOD_N="1 10 100 500"): one pod of N containers, all in
# one shim process, to show what each added container costs a pod shim.
#
# Environment:
#   BENCH_N="1 10 100"   container counts (single mode)
#   BENCH_BIGPOD_N=""    container counts of the one-pod curve (none if empty)
#   BENCH_POD=0|1|both   single mode only (default), pod mode only, or both
#   BENCH_POD_N          pod counts (default: BENCH_N)
#   BENCH_JOBS=4         concurrent `ctr run -d` while starting containers
#   BENCH_SETTLE=2       seconds to wait once all are RUNNING
#   BENCH_OUT=bench      output directory (memory.tsv)
#
# Output: a markdown table on stdout, bench/memory.tsv (all sizes in kB).

# shellcheck source-path=SCRIPTDIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"

: "${BENCH_N:=1 10 100}"
: "${BENCH_POD:=0}"
: "${BENCH_POD_N:=$BENCH_N}"
: "${BENCH_JOBS:=4}"
: "${BENCH_SETTLE:=2}"
: "${BENCH_BIGPOD_N:=}"

extras=()
for a in "$@"; do
	case $a in
	--pod) BENCH_POD=1 ;;
	--both) BENCH_POD=both ;;
	-h | --help)
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*) bench_die "unknown option $a" ;;
	*) extras+=("$a") ;;
	esac
done
case $BENCH_POD in
0 | '') modes=(single) ;;
1) modes=(pod) ;;
both) modes=(single pod) ;;
*) bench_die "BENCH_POD must be 0, 1 or both" ;;
esac
[ -n "$BENCH_BIGPOD_N" ] && modes+=(bigpod)

cleanup() {
	ctrd_stop
	bench_tmp_cleanup
	runc_sweep
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_tmp_init
bench_shims_init "${extras[@]}"
bench_rootfs
smaps_init
mkdir -p "$BENCH_OUT" || exit 1
TSV=$BENCH_OUT/memory.tsv

COLS="mode	n	containers	shim	runtime	shims	rss_med_kb	rss_max_kb	pss_med_kb	pss_max_kb	rss_total_kb	pss_total_kb	threads_med	threads_max	fds_med	fds_max	binary_kb	start_s	note"
printf '%s\n' "$COLS" >"$TSV"

# start_unit MODE K RUNTIME: start container K (single) or pod K (two
# containers of one group); errors go to $BENCH_TMP/err.K
start_unit() {
	local mode=$1 k=$2 rt=$3 id
	local -a common=(run -d --runtime "$rt" --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin)
	if [ "$mode" = single ]; then
		ctr_ "${common[@]}" --rootfs "$BENCH_ROOTFS" "c$k" sleep 100000 \
			>/dev/null 2>"$BENCH_TMP/err.$k" || return 1
	elif [ "$mode" = bigpod ]; then
		ctr_ "${common[@]}" --annotation "io.containerd.runc.v2.group=bigpod" \
			--rootfs "$BENCH_ROOTFS" "g$k" sleep 100000 \
			>/dev/null 2>"$BENCH_TMP/err.$k" || return 1
	else
		for id in "p$k-a" "p$k-b"; do
			ctr_ "${common[@]}" --annotation "io.containerd.runc.v2.group=pod$k" \
				--rootfs "$BENCH_ROOTFS" "$id" sleep 100000 \
				>/dev/null 2>"$BENCH_TMP/err.$k" || return 1
		done
	fi
	rm -f "$BENCH_TMP/err.$k"
}

# run_one MODE N SHIM_INDEX: one measurement; its TSV row goes to $BENCH_TMP/row
# (not run in a subshell, so the EXIT trap can stop containerd)
run_one() {
	local mode=$1 n=$2 i=$3 rt=${SHIM_RTS[$3]} name=${SHIM_NAMES[$3]}
	local want k t0 t1 start_s note=ok pids mem size
	want=$n
	[ "$mode" = pod ] && want=$((2 * n))
	ctrd_start || bench_die "containerd did not start"
	rm -f "$BENCH_TMP"/err.*
	t0=$(now_us)
	local -a jp=()
	for ((k = 1; k <= n; k++)); do
		start_unit "$mode" "$k" "$rt" &
		jp+=("$!")
		# at most BENCH_JOBS at once (containerd is a job too: skip it)
		while [ "$(jobs -rp | grep -cvx "$CTRD_PID")" -ge "$BENCH_JOBS" ]; do
			wait -n
		done
	done
	wait "${jp[@]}" 2>/dev/null
	if ! wait_running "$want" $((60 + want)); then
		note="only $(count_running) of $want RUNNING"
	fi
	t1=$(now_us)
	start_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
	for k in "$BENCH_TMP"/err.*; do
		[ -f "$k" ] || continue
		bench_log "$name: start failed: $(head -c 300 "$k")"
		[ "$note" = ok ] && note="start errors"
	done
	sleep "$BENCH_SETTLE"
	pids=$(shim_pids)
	# shellcheck disable=SC2086 # pids is a list
	mem=$(proc_mem $pids)
	size=$(($(stat -L -c %s "${SHIM_EXES[i]}") / 1024))
	awk -v mode="$mode" -v n="$n" -v want="$want" -v shim="$name" -v rt="$rt" \
		-v size="$size" -v start="$start_s" -v note="$note" '
	function med(a, m,   t) { return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
	function srt(a, m,   i, j, t) {
		for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	}
	NF >= 5 { m++; r[m] = $2; p[m] = $3; th[m] = $4; fd[m] = $5; rt_ += $2; pt += $3 }
	END {
		if (m == 0) {
			printf "%s\t%d\t%d\t%s\t%s\t0\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%d\t%s\t%s\n", mode, n, want, shim, rt, size, start, note "; no shim process found"
			exit
		}
		srt(r, m); srt(p, m); srt(th, m); srt(fd, m)
		printf "%s\t%d\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%g\t%d\t%g\t%d\t%d\t%s\t%s\n",
			mode, n, want, shim, rt, m, med(r, m), r[m], med(p, m), p[m], rt_, pt,
			med(th, m), th[m], med(fd, m), fd[m], size, start, note
	}' <<<"$mem" >"$BENCH_TMP/row"
	remove_all_containers
	ctrd_stop
	runc_sweep
}

bench_log "memory: shims ${SHIM_NAMES[*]}; modes ${modes[*]}; N=$BENCH_N (pods: $BENCH_POD_N)"
memory_md_header
for mode in "${modes[@]}"; do
	counts=$BENCH_N
	[ "$mode" = pod ] && counts=$BENCH_POD_N
	[ "$mode" = bigpod ] && counts=$BENCH_BIGPOD_N
	for n in $counts; do
		for i in "${!SHIM_NAMES[@]}"; do
			bench_log "memory: $mode N=$n ${SHIM_NAMES[i]}"
			run_one "$mode" "$n" "$i"
			cat "$BENCH_TMP/row" >>"$TSV"
			memory_md_rows <"$BENCH_TMP/row"
		done
	done
done
bench_log "memory: wrote $TSV"
