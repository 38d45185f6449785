#!/usr/bin/env bash
#
# Footprint and speed of containerd-shim-runc-v2-c against Debian's Go shim:
# runs tools/bench-memory.sh and tools/bench-speed.sh, then writes
# bench/report.md and the chart bench/rss.png (total RSS vs N, gnuplot).
#
#   tools/bench.sh [EXTRA_SHIM...]     (make bench)
#   BENCH_QUICK=1 tools/bench.sh       smoke mode: N=2, 1 pod, 2 rounds,
#                                      5 concurrent containers; < 1 minute
#
# Extra arguments are more containerd-shim-X-Y binaries to compare (runtime
# io.containerd.X.Y). Everything that bench-memory.sh and bench-speed.sh read
# from the environment can be set (BENCH_N, BENCH_RUNS, ...); defaults here:
# BENCH_N="1 10 100", pods BENCH_POD_N="10" (BENCH_POD=both), BENCH_RUNS=10,
# BENCH_CONC=50. BENCH_OUT (default bench/) receives memory.tsv, speed.tsv,
# speed-raw.tsv, report.md, rss.png, bench.log and board/memory.tsv (the
# memory phase on the emulated aarch64 board, N=1 and 10; BENCH_BOARD=0:
# not run).

# shellcheck source-path=SCRIPTDIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"

case ${1:-} in -h | --help)
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
	exit 0
	;;
esac

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	MODE=quick
	: "${BENCH_N:=2}" "${BENCH_POD_N:=1}" "${BENCH_RUNS:=2}" "${BENCH_CONC:=5}"
	: "${BENCH_BIGPOD_N:=3}"
	: "${BENCH_WARMUP:=0}" "${BENCH_SETTLE:=0.5}"
else
	MODE=full
	: "${BENCH_N:=1 10 100}" "${BENCH_POD_N:=10}" "${BENCH_RUNS:=10}" "${BENCH_CONC:=50}"
	: "${BENCH_BIGPOD_N:=1 10 100 500}"
	: "${BENCH_WARMUP:=1}" "${BENCH_SETTLE:=2}"
fi
: "${BENCH_POD:=both}" "${BENCH_JOBS:=4}"
export BENCH_N BENCH_POD_N BENCH_BIGPOD_N BENCH_RUNS BENCH_CONC BENCH_WARMUP BENCH_SETTLE \
	BENCH_POD BENCH_JOBS BENCH_OUT BENCH_C_SHIM BENCH_GO_SHIM CTRD_NS

# One snapshot of every binary, shared by both phases and the report (so a
# rebuild while the bench runs cannot mix versions).
trap bench_tmp_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_tmp_init
bench_shims_init "$@"
BENCH_C_SHIM=${SHIM_EXES[0]}
BENCH_GO_SHIM=${SHIM_EXES[1]}
snap_extras=("${SHIM_EXES[@]:2}")

mkdir -p "$BENCH_OUT" || exit 1
LOG=$BENCH_OUT/bench.log
REPORT=$BENCH_OUT/report.md
: >"$LOG"
rm -f "$BENCH_OUT/memory.tsv" "$BENCH_OUT/speed.tsv" "$BENCH_OUT/speed-raw.tsv" \
	"$BENCH_OUT/speed-failures.txt" "$BENCH_OUT/rss.png" "$REPORT"

machine=$(machine_info)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
rc=0
t0=0 t1=0 t2=0 t3=0

stamp t0
bench_log "bench ($MODE): memory"
"$HERE/bench-memory.sh" "${snap_extras[@]}" 2> >(tee -a "$LOG" >&2) || rc=1
stamp t1
bench_log "bench ($MODE): speed"
"$HERE/bench-speed.sh" "${snap_extras[@]}" 2> >(tee -a "$LOG" >&2) || rc=1
stamp t2
mem_s=$(((t1 - t0) / 1000000))
speed_s=$(((t2 - t1) / 1000000))

# an upgrade in place: its time, the pause a client sees, idle RSS before
# and after (tools/bench-upgrade.sh)
bench_log "bench ($MODE): upgrade in place"
UPGRADE_OUT=$BENCH_OUT/upgrade.txt
if [ "$MODE" = quick ]; then up_n="1"; up_runs=2; else up_n="1 20"; up_runs=10; fi
# shellcheck disable=SC2086 # a list of sizes
BENCH_RUNS=$up_runs "$HERE/bench-upgrade.sh" $up_n >"$UPGRADE_OUT" 2>>"$LOG" || {
	bench_log "the upgrade phase failed (see $UPGRADE_OUT)"
	rc=1
}
cat "$UPGRADE_OUT" >&2

# the idle footprint on the emulated aarch64 board (tests/vm/run.sh -p
# aarch64: Debian's arm64 kernel, containerd, runc and Go shim), this
# shim's aarch64 build against the arm64 Go shim; BENCH_BOARD=0 skips it
BOARD_MEM=$BENCH_OUT/board/memory.tsv
board_s=0
rm -rf "$BENCH_OUT/board"
if [ "${BENCH_BOARD:-1}" = 1 ] && command -v qemu-system-aarch64 >/dev/null; then
	bench_log "bench ($MODE): memory on the emulated aarch64 board"
	board_n="1 10"
	[ "$MODE" = quick ] && board_n=1
	if make -s --no-print-directory -C "$BENCH_REPO" ARCH=aarch64 all >>"$LOG" 2>&1; then
		VM_OUT=$BENCH_OUT/board "$BENCH_REPO/tests/vm/run.sh" -p aarch64 -t 1500 -- env \
			BENCH_C_SHIM="$BENCH_REPO/build/aarch64/containerd-shim-runc-v2-c" BENCH_OUT=/results/out \
			BENCH_N="$board_n" BENCH_POD=0 BENCH_BIGPOD_N= BENCH_SETTLE="$BENCH_SETTLE" SMAPS=/nonexistent \
			tools/bench-memory.sh >>"$LOG" 2>&1 || { bench_log "the board's memory phase failed (see $LOG)"; rc=1; }
	else
		bench_log "make ARCH=aarch64 failed (see $LOG)"
		rc=1
	fi
	stamp t3
	board_s=$(((t3 - t2) / 1000000))
fi

# ---------------------------------------------------------------------------
# chart: total RSS of all shim processes vs N (single mode), one line a shim

MEM=$BENCH_OUT/memory.tsv
SPEED=$BENCH_OUT/speed.tsv
chart=
if command -v gnuplot >/dev/null && [ -s "$MEM" ]; then
	dat=$(mktemp /tmp/bench-rss.XXXXXX)
	plots=
	idx=0
	mapfile -t shims < <(awk -F '\t' 'NR > 1 && $1 == "single" && !seen[$4]++ { print $4 }' "$MEM")
	for s in "${shims[@]}"; do
		awk -F '\t' -v s="$s" 'NR > 1 && $1 == "single" && $4 == s && $11 != "-" {
			printf "%s %.3f %.3f\n", $2, $11 / 1024, $12 / 1024 }' "$MEM" >>"$dat"
		printf '\n\n' >>"$dat"
		plots="$plots${plots:+, }'$dat' index $idx using 1:2 with linespoints lw 2 pt 7 title '$s'"
		idx=$((idx + 1))
	done
	if [ "$idx" -gt 0 ] && gnuplot 2>>"$LOG" <<EOF; then
set terminal pngcairo size 900,560 font 'sans,10'
set output '$BENCH_OUT/rss.png'
set title 'Total RSS of the shim processes vs number of idle containers (one shim each)'
set xlabel 'containers (N)'
set ylabel 'total RSS of all shim processes (MiB)'
set logscale xy
set grid
set key top left
set format y '%g'
plot $plots
EOF
		chart=rss.png
	else
		bench_log "gnuplot failed; no chart"
	fi
	rm -f "$dat"
else
	bench_log "gnuplot not installed (apt-get install gnuplot-nox) or no data; no chart"
fi

# ---------------------------------------------------------------------------
# report

kv() { awk -F '\t' -v k="$1" '$1 == k { print $2 }' <<<"$machine"; }
shim_rows() {
	local i name rt exe ver size
	for i in "${!SHIM_NAMES[@]}"; do
		name=${SHIM_NAMES[i]} rt=${SHIM_RTS[i]} exe=${SHIM_EXES[i]}
		ver=$("$exe" -v 2>/dev/null | awk '/Version:|Revision:/ { printf "%s%s %s", sep, $1, $2; sep = ", " }')
		size=$(stat -L -c %s "$exe")
		printf '| %s | %s | %s | %s | %s |\n' "$name" "$rt" "${SHIM_BINS[i]}" \
			"$(awk -v s="$size" 'BEGIN { printf "%.0f kB", s / 1024 }')" "${ver:-?}"
	done
}

# size per architecture: each cross build (make ARCH=...; built here if its
# toolchain is there), against the goal (200 KiB on x86_64, 256 KiB elsewhere)
arch_rows() {
	local a b size goal
	for a in x86_64 aarch64 armhf riscv64; do
		b=build/$a/containerd-shim-runc-v2-c
		make -s --no-print-directory ARCH="$a" "$b" >/dev/null 2>&1 || true
		[ -x "$b" ] || { printf '| %s | not built | | |\n' "$a"; continue; }
		size=$(stat -c %s "$b")
		goal=262144
		[ "$a" = x86_64 ] && goal=204800
		printf '| %s | %s | %.1f KiB | %s |\n' "$a" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1024 }')" \
			"$([ "$size" -le "$goal" ] && echo "within $((goal / 1024)) KiB" || echo "OVER $((goal / 1024)) KiB")"
	done
}

# summary: one row per shim, key figures (N=1 and the largest N, single mode)
summary_rows() {
	awk -F '\t' -v speed="$SPEED" '
	BEGIN {
		while ((getline l < speed) > 0) {
			split(l, f, "\t")
			if (f[1] == "metric") continue
			med[f[1], f[2]] = f[6]; ratio[f[1], f[2]] = f[11]; unit[f[1]] = f[4]
		}
	}
	function sp(m, s) {
		if (!((m, s) in med) || med[m, s] == "-") return "-"
		return sprintf("%s %s (%sx)", fmt(med[m, s]), unit[m], ratio[m, s])
	}
	function fmt(v) { return sprintf(v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v) }
	NR > 1 && $1 == "single" {
		if (!($4 in first)) { first[$4] = NR; order[++ns] = $4 }
		if (!($4 in n1) || $2 < n1[$4]) { n1[$4] = $2; r1[$4] = $7; p1[$4] = $9; th[$4] = $13; fd[$4] = $15 }
		if ($2 >= nmax[$4]) { nmax[$4] = $2; rt[$4] = $11; pt[$4] = $12 }
	}
	END {
		for (i = 1; i <= ns; i++) {
			s = order[i]
			printf "| %s | %s kB | %s kB | %s | %s | %s MiB | %s MiB | %s | %s | %s | %s | %s |\n", s,
				r1[s], p1[s], th[s], fd[s], sprintf("%.1f", rt[s] / 1024), sprintf("%.1f", pt[s] / 1024),
				sp("run_rm", s), sp("start_cmd", s), sp("shim_cpu_net", s), sp("exec_cpu", s), sp("parallel", s)
		}
	}' "$MEM"
}

nmin=$(tr ' ' '\n' <<<"$BENCH_N" | grep . | sort -n | head -n 1)
nmax=$(tr ' ' '\n' <<<"$BENCH_N" | grep . | sort -n | tail -n 1)
{
	echo "# containerd-shim-runc-v2-c: footprint and speed against the Go shim"
	echo
	echo "Generated by \`tools/bench.sh\` ($MODE mode) on $started; memory phase ${mem_s} s, speed phase ${speed_s} s."
	echo
	echo "## Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPU | $(kv cpu) |"
	echo "| cores | $(kv cores) |"
	echo "| memory | $(kv memory) |"
	echo "| kernel | $(kv kernel) |"
	echo "| OS | $(kv os) |"
	echo "| cgroup | $(kv cgroup) |"
	echo "| containerd | $(kv containerd) |"
	echo "| runc | $(kv runc) |"
	echo "| load average at start | $(kv load) |"
	echo
	echo "## Shims"
	echo
	echo "| shim | runtime | binary | size | version |"
	echo "|---|---|---|---:|---|"
	shim_rows
	echo
	echo "## Binary size per architecture"
	echo
	echo "Static, stripped, musl 1.2.3 (tools: Debian's cross gcc 12). aarch64 keeps its 64 KiB segment alignment, which 16K/64K-page kernels need."
	echo
	echo "| architecture | bytes | size | goal |"
	echo "|---|---:|---:|---|"
	arch_rows
	echo
	if [ -s "$BOARD_MEM" ]; then
		echo "## Memory on the emulated aarch64 board"
		echo
		echo "The memory phase (method below) in tests/vm's aarch64 board: qemu-system-aarch64 -M virt -cpu cortex-a72 (TCG), 2 vCPUs, Debian's arm64 kernel $(awk '$1 == "package" { print $2 }' "$BENCH_REPO/tests/vm/arm64.pin") (transparent huge pages: always), containerd, runc and the Go shim from Debian's arm64 packages; this shim is build/aarch64. ${board_s} s."
		echo
		memory_md_header
		memory_md_rows <"$BOARD_MEM"
		echo
	fi
	echo "## Summary"
	echo
	echo "Memory: idle single-container shims, N=$nmin (per shim process) and N=$nmax (total)."
	echo "Speed: medians over $BENCH_RUNS rounds, in brackets the ratio to the Go shim's median."
	echo
	echo "| shim | RSS/shim N=$nmin | PSS/shim N=$nmin | threads | fds | RSS total N=$nmax | PSS total N=$nmax | ctr run --rm | start command | shim CPU per life | shim CPU per exec | $BENCH_CONC concurrent |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	[ -s "$MEM" ] && summary_rows
	echo
	echo "## Memory"
	echo
	echo "Method: for each shim and N, a fresh private containerd (runc, busybox-static"
	echo "rootfs, no snapshotter) runs N idle containers (\`ctr run -d ... sleep 100000\`,"
	echo "$BENCH_JOBS at a time); once all are RUNNING and ${BENCH_SETTLE} s have passed, every shim"
	echo "process serving that containerd (found by its \`-address\`) is measured:"
	echo "RSS and PSS from /proc/PID/smaps_rollup (build/tools/smaps), threads from"
	echo "/proc/PID/status, open fds from /proc/PID/fd. Totals are sums over the shim"
	echo "processes. PSS charges shared pages (the shim's text) pro rata, so PSS per"
	echo "shim falls as N grows. Then every container is killed and removed and"
	echo "containerd is stopped. \"pod\" rows: N pods of two containers that share one"
	echo "shim through the OCI annotation \`io.containerd.runc.v2.group=<pod>\`"
	echo "(\`ctr run --annotation\`), which both shims read from config.json."
	echo "\"bigpod\" rows: one pod of N containers, all served by one shim process"
	echo "(the pod curve: what each added container costs a pod shim)."
	echo "\"start all\" is the wall time to start all containers and see them RUNNING."
	echo
	memory_md_header
	[ -s "$MEM" ] && memory_md_rows <"$MEM"
	echo
	if [ -s "$MEM" ] && grep -q '^bigpod' "$MEM"; then
		echo "Pod curve, RSS of the one pod shim per added container (from N=1):"
		echo
		awk -F '\t' '$1 == "bigpod" {
			if (!($4 in base)) { base[$4] = $7; bn[$4] = $2 }
			else if ($7 != "-") printf "- %s: N=%d, %d kB, %.1f kB per added container\n", $4, $2, $7, ($7 - base[$4]) / ($2 - bn[$4])
		}' "$MEM"
		echo
	fi
	if [ -n "$chart" ]; then
		echo "![total RSS vs N]($chart)"
		echo
	fi
	echo "## Speed"
	echo
	echo "Method: one private containerd serves all shims; within every round the"
	echo "shims are measured one after the other (A B A B ...), for $BENCH_RUNS rounds"
	echo "(after $BENCH_WARMUP untimed warm-up rounds for the first two metrics)."
	echo
	echo "- **ctr run --rm /bin/true**: wall time of the whole \`ctr run --rm\` (create, start,"
	echo "  wait, delete, shim shutdown)."
	echo "- **shim start command**: the shim binary run as containerd runs it (cwd = a"
	echo "  bundle with a \`runc spec\` config.json and a \`log\` FIFO, stdin /dev/null,"
	echo "  GOMAXPROCS=2 and TTRPC_ADDRESS in the environment, \`-namespace -address"
	echo "  -publish-binary -id ... start\`), with a fake \`-address\`; timed from fork to"
	echo "  exit, which is when containerd gets the socket address. The daemon it leaves"
	echo "  behind is found by its command line, killed by pid, and its socket removed."
	echo "- **shim CPU per life**: user+sys CPU of every shim process (\`start\`, the"
	echo "  daemon, \`delete\`) over one \`ctr run --rm ... sleep 1\`: each shim binary"
	echo "  sits behind a static wrapper (tools/cgexec.c) that puts it in a cgroup of"
	echo "  its own, and runc behind one that moves it out; the wrapper's own cost,"
	echo "  measured beside every life (\`cgexec --calibrate\`), is taken off per runc"
	echo "  call (the raw figure is shim_cpu in speed.tsv). The daemon alone"
	echo "  (schedstat, sampled every 10 ms) is daemon_cpu."
	echo "- **shim CPU per exec**: the same cgroups, over 20 \`ctr task exec ... /bin/true\`"
	echo "  into a running container, net of the wrapper per runc call."
	echo "- **$BENCH_CONC concurrent**: $BENCH_CONC \`ctr run --rm ... /bin/true\` launched at"
	echo "  once; wall time until the last has exited."
	echo
	[ -s "$SPEED" ] && speed_md "$SPEED"
	if [ -s "$BENCH_OUT/speed-failures.txt" ]; then
		echo
		echo "Failed measurements (left out of the statistics):"
		echo
		sed 's/^/- /' "$BENCH_OUT/speed-failures.txt"
	fi
	echo
	echo "## Upgrade in place"
	echo
	echo "tools/bench-upgrade.sh: a shim serving a pod, upgraded between two builds"
	echo "(make upgrade-variants); no other shim can do it, so there is no ratio."
	echo
	[ -s "$UPGRADE_OUT" ] && sed 's/^/- /' "$UPGRADE_OUT"
	echo
	echo "Raw data: memory.tsv, speed.tsv, speed-raw.tsv, upgrade.txt; log: bench.log."
	if [ -f "$HERE/bench-findings.md" ]; then
		echo
		cat "$HERE/bench-findings.md"
	fi
} >"$REPORT"

bench_log "bench ($MODE): wrote $REPORT${chart:+ and $BENCH_OUT/$chart} (memory ${mem_s}s, speed ${speed_s}s)"
exit "$rc"
