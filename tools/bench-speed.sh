#!/usr/bin/env bash
#
# Speed of each shim under test, against Debian's Go shim.
#
#   tools/bench-speed.sh [EXTRA_SHIM...]
#
# Shims are interleaved (A B A B ...) within each measurement round, all
# served by one private containerd, and every figure is summarised over
# BENCH_RUNS rounds as median, p25-p75, min-max, and median / Go median.
#
#   run_rm     `ctr run --rm ... /bin/true`, end to end wall time.
#   start_cmd  the shim's `start` command, run the way containerd runs it
#              (cwd = a bundle with a `runc spec` config.json and a `log`
#              FIFO that we read, stdin /dev/null, GOMAXPROCS=2,
#              TTRPC_ADDRESS, -namespace -address -publish-binary -id start)
#              with a fake -address; timed from exec to exit. The daemon it
#              leaves behind is then found by its command line, killed by
#              pid, and its socket removed.
#   shim_cpu   CPU time (user+sys) of every shim process of one
#              container's life (`ctr run --rm ... sleep 1`): `start`, the
#              daemon, `delete` and any re-exec, each shim's in a cpuacct
#              cgroup of its own (cgroup v2: cpu.stat usage_usec) that a
#              wrapper in front of its binary enters before exec.  runc
#              is kept out of it by a runc wrapper that moves to another
#              cgroup first (the few hundred microseconds /bin/sh takes to
#              get there per runc call still count, for every shim alike);
#              the container's own processes are in the container's cgroup.
#   daemon_cpu the shim daemon alone over the same life (the figure
#              shim_cpu was before 2026-12-04): the sum of
#              /proc/PID/task/*/schedstat run times, sampled every 10 ms
#              while the daemon lives (at most 10 ms of the shutdown tail
#              is missed).
#   exec_cpu   CPU of the shim's processes (as shim_cpu, through the same
#              wrappers) per `ctr task exec ... /bin/true` into a running
#              container, over BENCH_EXEC_N execs one after the other, net
#              of the wrapper's calibrated cost per runc call.  runc's own
#              time (~60 ms of wall time per exec here) is not in it.
#   parallel   BENCH_CONC (50) `ctr run --rm ... /bin/true` started at once,
#              wall time until all have exited.
#   stdout_cpu shim daemon CPU (as daemon_cpu) over a container that writes
#              512 MiB to stdout (`head -c 512M /dev/zero`) read by ctr: the
#              copy's cost when the reader is the slower side.  What ctr
#              delivers is counted and hashed (sha256): a short or wrong
#              stream is a FAIL line and the bench exits 1.  The report
#              gives the worst run per MiB against the 0.15 ms/MiB target.
#   state_rate 1000 State calls written at once (pipelined) on the shim's
#              own socket for a running container, calls per second until
#              the last answer (tools/state_rate.py); state_cpu, the
#              daemon's CPU over those calls (schedstat before and after).
#
# Environment:
#   BENCH_RUNS=10        rounds
#   BENCH_WARMUP=1       untimed rounds before run_rm and start_cmd
#   BENCH_CONC=50        containers in the parallel test
#   BENCH_METRICS="run_rm start_cmd shim_cpu daemon_cpu exec_cpu parallel stdout_cpu state_rate"
#   BENCH_EXEC_N=20      execs per exec_cpu round
#   BENCH_OUT=bench      output directory (speed.tsv, speed-raw.tsv)
#
# Output: a markdown table on stdout, bench/speed.tsv, bench/speed-raw.tsv.

# shellcheck source-path=SCRIPTDIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"

: "${BENCH_RUNS:=10}"
: "${BENCH_WARMUP:=1}"
: "${BENCH_CONC:=50}"
: "${BENCH_METRICS:=run_rm start_cmd shim_cpu daemon_cpu exec_cpu parallel stdout_cpu state_rate}"

extras=()
for a in "$@"; do
	case $a in
	-h | --help)
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*) bench_die "unknown option $a" ;;
	*) extras+=("$a") ;;
	esac
done

CAT_PID=
LOG_FD=
SLEEP_FD=
cleanup() {
	[ -n "$CAT_PID" ] && kill "$CAT_PID" 2>/dev/null
	cg_cleanup
	[ -n "$LOG_FD" ] && exec {LOG_FD}>&-
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
mkdir -p "$BENCH_OUT" || exit 1
RAW=$BENCH_OUT/speed-raw.tsv
TSV=$BENCH_OUT/speed.tsv
printf 'metric\tshim\tround\tvalue\n' >"$RAW"
# a descriptor read() can wait on with a timeout (sleep without forking)
exec {SLEEP_FD}<> <(:)

ctrd_start || bench_die "containerd did not start"
FIFO_DIR=$(ctr_fifo_dir)
FAILS=$BENCH_TMP/fails
: >"$FAILS"

# record METRIC SHIM_INDEX ROUND VALUE
record() { printf '%s\t%s\t%s\t%s\n' "$1" "${SHIM_NAMES[$2]}" "$3" "$4" >>"$RAW"; }
fail() {
	bench_log "$*"
	printf '%s\n' "$*" >>"$FAILS"
}
# us_to UNIT_DIVISOR US: microseconds -> ms (1000) or s (1000000), 3 decimals
us_to() { awk -v d="$1" -v v="$2" 'BEGIN { printf "%.3f", v / d }'; }

# --- run_rm ---------------------------------------------------------------
run_rm_once() { # I ROUND -> value (ms) on stdout, or nothing on failure
	local i=$1 r=$2 t0 t1
	stamp t0
	if ctr_ run --rm --runtime "${SHIM_RTS[i]}" --fifo-dir "$FIFO_DIR" --env PATH=/bin \
		--rootfs "$BENCH_ROOTFS" "rm-$r-$i" /bin/true >/dev/null 2>"$BENCH_TMP/err"; then
		stamp t1
		us_to 1000 $((t1 - t0))
	else
		fail "run_rm ${SHIM_NAMES[i]} round $r: $(head -c 200 "$BENCH_TMP/err")"
		remove_all_containers
	fi
}

# --- start_cmd ------------------------------------------------------------
BUNDLE=$BENCH_TMP/bundle
FAKE=$BENCH_TMP/fake.sock
start_cmd_setup() {
	mkdir -p "$BUNDLE" || exit 1
	(cd "$BUNDLE" && runc spec) || bench_die "runc spec failed"
	# containerd opens the shim's log FIFO for reading before `start`
	mkfifo "$BUNDLE/log" || bench_die "mkfifo failed"
	exec {LOG_FD}<>"$BUNDLE/log"
	cat <&"$LOG_FD" >/dev/null &
	CAT_PID=$!
	CTRD_BIN=$(command -v containerd)
}
start_cmd_once() {
	local i=$1 r=$2 id="st$$-$1-$2" t0 t1 rc addr p pids
	cd "$BUNDLE" || return
	stamp t0
	GOMAXPROCS=2 TTRPC_ADDRESS=$FAKE.ttrpc "${SHIM_EXES[i]}" -namespace "$CTRD_NS" \
		-address "$FAKE" -publish-binary "$CTRD_BIN" -id "$id" start \
		</dev/null >"$BENCH_TMP/out" 2>"$BENCH_TMP/err"
	rc=$?
	stamp t1
	cd - >/dev/null || return
	addr=$(<"$BENCH_TMP/out")
	# the daemon it left behind (before or after its exec)
	pids=$(daemon_pids "$FAKE" "$id" any)
	if [ -z "$pids" ]; then
		fail "start_cmd ${SHIM_NAMES[i]}: no daemon left behind (rc $rc, $(head -c 200 "$BENCH_TMP/err"))"
	fi
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	for p in $pids; do wait_gone "$p" 5; done
	case $addr in unix:///*) rm -f "${addr#unix://}" ;; esac
	rm -f "$BUNDLE/address"
	if [ "$rc" -ne 0 ] || [ "${addr#unix://}" = "$addr" ]; then
		fail "start_cmd ${SHIM_NAMES[i]} round $r: rc $rc, out '$addr', $(head -c 200 "$BENCH_TMP/err")"
		return
	fi
	us_to 1000 $((t1 - t0))
}

# --- shim_cpu -------------------------------------------------------------
# cpu_ns PID: CPU_ST=process state (X if gone), CPU_NS=run time of all its
# threads in ns (builtins only: no fork while sampling)
CPU_ST=X
CPU_NS=0
cpu_ns() {
	local p=$1 st f ns
	CPU_ST=X
	CPU_NS=0
	{ read -r st <"/proc/$p/stat"; } 2>/dev/null || return
	st=${st##*) }
	CPU_ST=${st%% *}
	for f in "/proc/$p"/task/*/schedstat; do
		{ read -r ns _ <"$f"; } 2>/dev/null && CPU_NS=$((CPU_NS + ns))
	done
}
# life_cpu METRIC I ROUND ID CMD...: `ctr run --rm ... ID CMD...` with its
# stdout counted and hashed into $BENCH_TMP/sum ("BYTES SHA256"); the shim
# daemon's CPU over its life in ms
life_cpu() {
	local m=$1 i=$2 r=$3 id=$4 cp p="" k last=0 rc
	shift 4
	{
		ctr_ run --rm --runtime "${SHIM_RTS[i]}" --fifo-dir "$FIFO_DIR" --env PATH=/bin \
			--rootfs "$BENCH_ROOTFS" "$id" "$@" 2>"$BENCH_TMP/err"
		echo $? >"$BENCH_TMP/rc"
	} | python3 -c "$HASHER" >"$BENCH_TMP/sum" &
	cp=$!
	for ((k = 0; k < 500; k++)); do
		p=$(daemon_pids "$CTRD_SOCK" "$id" | head -n 1)
		[ -n "$p" ] && break
		kill -0 "$cp" 2>/dev/null || break
		read -r -t 0.01 -u "$SLEEP_FD"
	done
	if [ -n "$p" ]; then
		while :; do
			cpu_ns "$p"
			case $CPU_ST in X | Z) break ;; esac
			[ "$CPU_NS" -gt "$last" ] && last=$CPU_NS
			read -r -t 0.01 -u "$SLEEP_FD"
		done
	fi
	wait "$cp"
	rc=$(cat "$BENCH_TMP/rc" 2>/dev/null || echo '?')
	if [ "$rc" != 0 ] || [ -z "$p" ] || [ "$last" -eq 0 ]; then
		fail "$m ${SHIM_NAMES[i]} round $r: ctr rc $rc, shim pid '${p}', $(head -c 200 "$BENCH_TMP/err")"
		remove_all_containers
		return
	fi
	us_to 1000000 "$last"
}
daemon_cpu_once() { life_cpu daemon_cpu "$1" "$2" "dcpu-$2-$1" sleep 1; }

# counts and hashes its stdin: "BYTES SHA256"
HASHER='import hashlib, sys
h = hashlib.sha256(); n = 0
while True:
    b = sys.stdin.buffer.read1(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())'

# --- shim_cpu: every process of a shim, in a cgroup of its own ---------------
CG_BASE=
CGEXEC=${CGEXEC:-$BENCH_REPO/build/tools/cgexec}
# every wrapped start, delete and runc call appends what it cost the cgroup
# it left (tools/cgexec.c); BENCH_CGEXEC_LOG=FILE keeps that log
CGEXEC_LOG=
CAL_LOG=
CG_V2=0
cg_setup() {
	local i real
	[ -n "$CG_BASE" ] && return 0
	if [ -d /sys/fs/cgroup/cpuacct ] && [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
		CG_BASE=/sys/fs/cgroup/cpuacct/bench-$$
	elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		CG_BASE=/sys/fs/cgroup/bench-$$
		CG_V2=1
	else
		bench_die "shim_cpu: no cpuacct hierarchy and no cgroup v2"
	fi
	mkdir -p "$CG_BASE/runc" || bench_die "shim_cpu: cannot make $CG_BASE"
	real=$(command -v runc) || bench_die "shim_cpu: no runc"
	[ -x "$CGEXEC" ] || bench_die "shim_cpu: no $CGEXEC (make tools)"
	CGEXEC_LOG=${BENCH_CGEXEC_LOG:-$BENCH_TMP/cgexec.log}
	: >"$CGEXEC_LOG"
	# the wrapper's own cost, measured beside each life (shim_cpu_once)
	mkdir -p "$CG_BASE/cal"
	CAL_LOG=$BENCH_TMP/cal.log
	cp "$CGEXEC" "$BENCH_TMP/cal-wrapper"
	printf '%s\n%s\n%s\n' "$CG_BASE/cal/cgroup.procs" "$(type -P true)" "$CAL_LOG" \
		>"$BENCH_TMP/cal-wrapper.cg"
	cp "$CGEXEC" "$BENCH_BIN_DIR/runc"
	printf '%s\n%s\n%s\n' "$CG_BASE/runc/cgroup.procs" "$real" "$CGEXEC_LOG" >"$BENCH_BIN_DIR/runc.cg"
	for i in "${!SHIM_NAMES[@]}"; do
		mkdir -p "$CG_BASE/$i"
		mv "${SHIM_EXES[i]}" "${SHIM_EXES[i]}.real"
		cp "$CGEXEC" "${SHIM_EXES[i]}"
		printf '%s\n%s\n%s\n' "$CG_BASE/$i/cgroup.procs" "${SHIM_EXES[i]}.real" "$CGEXEC_LOG" \
			>"${SHIM_EXES[i]}.cg"
	done
}
# the binaries as they were (the other metrics run them bare)
cg_cleanup() {
	local i d
	[ -n "$CG_BASE" ] || return 0
	rm -f "$BENCH_BIN_DIR/runc" "$BENCH_BIN_DIR/runc.cg"
	for i in "${!SHIM_NAMES[@]}"; do
		rm -f "${SHIM_EXES[i]}.cg"
		[ -f "${SHIM_EXES[i]}.real" ] && mv -f "${SHIM_EXES[i]}.real" "${SHIM_EXES[i]}"
	done
	for d in "$CG_BASE"/*/ "$CG_BASE"; do rmdir "$d" 2>/dev/null; done
	CG_BASE=
}
# cg_usage DIR: CPU used in it so far, in ns
cg_usage() {
	if [ "$CG_V2" = 1 ]; then
		awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' "$1/cpu.stat"
	else
		cat "$1/cpuacct.usage"
	fi
}
# runc_calls LINES ID: the wrapped runc calls logged after line LINES whose
# argv names ID (start and delete, the shim's own, are the lines with
# -namespace)
runc_calls() {
	tail -n +$(($1 + 1)) "$CGEXEC_LOG" |
		awk -v id="$2" '$3 != "-namespace" { for (k = 3; k <= NF; k++) if ($k == id) { n++; break } } END { print n + 0 }'
}
# the median CPU a wrapped call costs its parent's cgroup when the parent
# is a program that does nothing else: the wrapper's own share, in ns
cal_median() {
	: >"$CAL_LOG"
	"$CGEXEC" --calibrate 15 "$BENCH_TMP/cal-wrapper" || return
	awk '{ print $2 }' "$CAL_LOG" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
shim_cpu_once() {
	local i=$1 r=$2 id="cpu-$2-$1" before after k lines calls cal net
	lines=$(wc -l <"$CGEXEC_LOG")
	before=$(cg_usage "$CG_BASE/$i")
	ctr_ run --rm --runtime "${SHIM_RTS[i]}" --fifo-dir "$FIFO_DIR" --env PATH=/bin \
		--rootfs "$BENCH_ROOTFS" "$id" sleep 1 >/dev/null 2>"$BENCH_TMP/err" || {
		fail "shim_cpu ${SHIM_NAMES[i]} round $r: $(head -c 200 "$BENCH_TMP/err")"
		remove_all_containers
		return
	}
	# the daemon and a delete may still be on their way out
	for ((k = 0; k < 500; k++)); do
		[ -s "$CG_BASE/$i/cgroup.procs" ] || break
		read -r -t 0.01 -u "$SLEEP_FD"
	done
	after=$(cg_usage "$CG_BASE/$i")
	calls=$(runc_calls "$lines" "$id")
	cal=$(cal_median)
	if [ -n "$cal" ]; then
		net=$((after - before - calls * cal))
		record shim_cpu_net "$i" "$r" "$(us_to 1000000 "$net")"
		record shim_cpu_runc_calls "$i" "$r" "$calls"
		record cgexec_cost "$i" "$r" "$(us_to 1000000 "$cal")"
	fi
	us_to 1000000 $((after - before))
}

# remove_container ID: kill its task, delete it (retrying while the exit is
# on its way) and the container
remove_container() {
	local k
	ctr_ task kill -s KILL "$1" >/dev/null 2>&1
	for ((k = 0; k < 300; k++)); do
		ctr_ task delete "$1" >/dev/null 2>&1 && break
		read -r -t 0.02 -u "$SLEEP_FD"
	done
	ctr_ container delete "$1" >/dev/null 2>&1
}

# --- exec_cpu: the shim's CPU per exec probe ---------------------------------
EXEC_N=${BENCH_EXEC_N:-20}
exec_cpu_once() {
	local i=$1 r=$2 id="ex-$2-$1" before after lines calls cal k
	ctr_ run -d --runtime "${SHIM_RTS[i]}" --fifo-dir "$FIFO_DIR" --env PATH=/bin \
		--rootfs "$BENCH_ROOTFS" "$id" sleep 600 >/dev/null 2>"$BENCH_TMP/err" || {
		fail "exec_cpu ${SHIM_NAMES[i]} round $r: $(head -c 200 "$BENCH_TMP/err")"
		remove_all_containers
		return
	}
	lines=$(wc -l <"$CGEXEC_LOG")
	before=$(cg_usage "$CG_BASE/$i")
	for ((k = 1; k <= EXEC_N; k++)); do
		ctr_ task exec --fifo-dir "$FIFO_DIR" --exec-id "p$k" "$id" /bin/true \
			>/dev/null 2>"$BENCH_TMP/err" || {
			fail "exec_cpu ${SHIM_NAMES[i]} round $r exec $k: $(head -c 200 "$BENCH_TMP/err")"
			break
		}
	done
	after=$(cg_usage "$CG_BASE/$i")
	calls=$(runc_calls "$lines" "$id")
	cal=$(cal_median)
	remove_container "$id"
	[ -n "$cal" ] || return
	# per exec, net of the wrapper in front of each runc call
	us_to 1000000 $(((after - before - calls * cal) / EXEC_N))
}

# --- stdout_cpu -----------------------------------------------------------
STDOUT_WANT=
stdout_cpu_once() {
	local v got
	[ -n "$STDOUT_WANT" ] || STDOUT_WANT=$(head -c 536870912 /dev/zero | python3 -c "$HASHER")
	v=$(life_cpu stdout_cpu "$1" "$2" "out-$2-$1" head -c 536870912 /dev/zero)
	got=$(cat "$BENCH_TMP/sum" 2>/dev/null)
	if [ "$got" != "$STDOUT_WANT" ]; then
		fail "FAIL stdout_cpu ${SHIM_NAMES[$1]} round $2: ctr delivered '${got:-nothing}', want '$STDOUT_WANT' (bytes sha256)"
		echo "${SHIM_NAMES[$1]}" >>"$BENCH_TMP/lost"
	fi
	[ -n "$v" ] && echo "$v"
}

# --- state_rate -----------------------------------------------------------
state_rate_once() {
	local i=$1 r=$2 id="st-$2-$1" v k
	ctr_ run -d --runtime "${SHIM_RTS[i]}" --fifo-dir "$FIFO_DIR" --env PATH=/bin \
		--rootfs "$BENCH_ROOTFS" "$id" sleep 600 >/dev/null 2>"$BENCH_TMP/err" || {
		fail "state_rate ${SHIM_NAMES[i]} round $r: $(head -c 200 "$BENCH_TMP/err")"
		return
	}
	# the daemon's CPU over the 1000 calls too (schedstat, before and after)
	local dp c0 c1
	dp=$(daemon_pids "$CTRD_SOCK" "$id" | head -n 1)
	cpu_ns "${dp:-0}"
	c0=$CPU_NS
	v=$(python3 "$HERE/state_rate.py" "$(bundle_dir "$id")/address" "$id" 1000 \
		2>"$BENCH_TMP/err")
	cpu_ns "${dp:-0}"
	c1=$CPU_NS
	[ -n "$v" ] && [ -n "$dp" ] && [ "$c1" -gt "$c0" ] &&
		record state_cpu "$i" "$r" "$(us_to 1000000 $((c1 - c0)))"
	remove_container "$id"
	if [ -z "$v" ]; then
		fail "state_rate ${SHIM_NAMES[i]} round $r: $(head -c 200 "$BENCH_TMP/err")"
		return
	fi
	echo "$v"
}

# --- parallel -------------------------------------------------------------
parallel_once() {
	local i=$1 r=$2 k t0 t1 bad=0 p
	local -a jp=()
	stamp t0
	for ((k = 1; k <= BENCH_CONC; k++)); do
		ctr_ run --rm --runtime "${SHIM_RTS[i]}" --fifo-dir "$FIFO_DIR" --env PATH=/bin \
			--rootfs "$BENCH_ROOTFS" "par-$r-$i-$k" /bin/true >/dev/null 2>"$BENCH_TMP/perr.$k" &
		jp+=("$!")
	done
	for p in "${jp[@]}"; do wait "$p" || bad=$((bad + 1)); done
	stamp t1
	if [ "$bad" -ne 0 ]; then
		fail "parallel ${SHIM_NAMES[i]} round $r: $bad of $BENCH_CONC failed: $(cat "$BENCH_TMP"/perr.* | sort | uniq -c | head -n 3)"
		remove_all_containers
		return
	fi
	us_to 1000000 $((t1 - t0))
}

# --- driver ---------------------------------------------------------------
run_metric() { # METRIC FUNC WARMUP
	local m=$1 fn=$2 warm=$3 r i v
	for ((r = 1; r <= warm; r++)); do
		for i in "${!SHIM_NAMES[@]}"; do "$fn" "$i" "w$r" >/dev/null; done
	done
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for i in "${!SHIM_NAMES[@]}"; do
			v=$("$fn" "$i" "$r")
			[ -n "$v" ] && record "$m" "$i" "$r" "$v"
		done
	done
}

describe() {
	case $1 in
	run_rm) echo "ctr run --rm /bin/true (wall)" ;;
	start_cmd) echo "shim start command (wall)" ;;
	shim_cpu) echo "shim CPU, user+sys, one container life (start, daemon, delete), as measured" ;;
	exec_cpu) echo "shim CPU per exec of /bin/true (ctr task exec: Exec, Start, Wait, Delete), net of the measuring wrapper" ;;
	state_cpu) echo "shim daemon CPU for 1000 pipelined State calls" ;;
	shim_cpu_net) echo "shim CPU, one container life, net of the measuring wrapper in front of each runc call" ;;
	shim_cpu_runc_calls) echo "runc calls per container life (start, daemon and delete together)" ;;
	cgexec_cost) echo "the measuring wrapper's own CPU per wrapped call (calibration)" ;;
	daemon_cpu) echo "shim daemon CPU only, user+sys, one container life" ;;
	parallel) echo "$BENCH_CONC x ctr run --rm concurrently (wall)" ;;
	stdout_cpu) echo "shim CPU for 512 MiB of container stdout" ;;
	state_rate) echo "1000 pipelined State calls (calls/s, higher is better)" ;;
	esac
}
unit_of() {
	case $1 in
	parallel) echo s ;;
	state_rate) echo calls/s ;;
	shim_cpu_runc_calls) echo calls ;;
	*) echo ms ;;
	esac
}

bench_log "speed: shims ${SHIM_NAMES[*]}; metrics $BENCH_METRICS; $BENCH_RUNS rounds"
for m in $BENCH_METRICS; do
	bench_log "speed: $m"
	case $m in
	run_rm) run_metric run_rm run_rm_once "$BENCH_WARMUP" ;;
	start_cmd)
		start_cmd_setup
		run_metric start_cmd start_cmd_once "$BENCH_WARMUP"
		;;
	shim_cpu)
		cg_setup
		run_metric shim_cpu shim_cpu_once 0
		cg_cleanup
		;;
	daemon_cpu) run_metric daemon_cpu daemon_cpu_once 0 ;;
	exec_cpu)
		cg_setup
		run_metric exec_cpu exec_cpu_once 0
		cg_cleanup
		;;
	parallel) run_metric parallel parallel_once 0 ;;
	stdout_cpu) run_metric stdout_cpu stdout_cpu_once 0 ;;
	state_rate) run_metric state_rate state_rate_once 0 ;;
	*) bench_die "unknown metric $m" ;;
	esac
done

# summary: metric shim runtime unit runs median min max p25 p75 ratio desc
gi=$(go_index)
printf 'metric\tshim\truntime\tunit\truns\tmedian\tmin\tmax\tp25\tp75\tratio_vs_go\tdescription\n' >"$TSV"
SUMMARY_METRICS=$BENCH_METRICS
[[ " $BENCH_METRICS " == *" shim_cpu "* ]] &&
	SUMMARY_METRICS=${SUMMARY_METRICS/shim_cpu/shim_cpu shim_cpu_net shim_cpu_runc_calls cgexec_cost}
[[ " $BENCH_METRICS " == *" state_rate "* ]] &&
	SUMMARY_METRICS=${SUMMARY_METRICS/state_rate/state_rate state_cpu}
for m in $SUMMARY_METRICS; do
	gmed=$(awk -F '\t' -v m="$m" -v s="${SHIM_NAMES[gi]}" '$1 == m && $2 == s { print $4 }' "$RAW" | stats | cut -d' ' -f2)
	for i in "${!SHIM_NAMES[@]}"; do
		read -r n med mn mx p25 p75 < <(awk -F '\t' -v m="$m" -v s="${SHIM_NAMES[i]}" \
			'$1 == m && $2 == s { print $4 }' "$RAW" | stats)
		ratio=$(awk -v a="$med" -v b="$gmed" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "${SHIM_NAMES[i]}" \
			"${SHIM_RTS[i]}" "$(unit_of "$m")" "$n" "$med" "$mn" "$mx" "$p25" "$p75" \
			"$ratio" "$(describe "$m")" >>"$TSV"
	done
done

speed_md "$TSV"
if [[ " $BENCH_METRICS " == *" stdout_cpu "* ]]; then
	# the target for the copy: at most 0.15 ms of shim CPU per MiB, every run
	awk -F '\t' -v s="${SHIM_NAMES[0]}" '$1 == "stdout_cpu" && $2 == s {
		if ($4 + 0 > max) max = $4 + 0; n++ }
		END { if (n) printf "\nstdout_cpu, %s: worst of %d runs %.1f ms for 512 MiB = %.3f ms/MiB (target <= 0.15): %s\n",
			s, n, max, max / 512, max / 512 <= 0.15 ? "ok" : "OVER" }' "$RAW"
fi
cp "$FAILS" "$BENCH_OUT/speed-failures.txt"
if [ -s "$FAILS" ]; then
	echo
	echo "Failures: $(wc -l <"$FAILS")"
	sed 's/^/- /' "$FAILS"
fi
bench_log "speed: wrote $TSV and $RAW"
if [ -s "$BENCH_TMP/lost" ]; then
	echo "FAIL: output lost in stdout_cpu by: $(sort -u "$BENCH_TMP/lost" | tr '\n' ' ')" >&2
	exit 1
fi
