# shellcheck shell=bash source-path=SCRIPTDIR
#
# Shared helpers for tools/bench-memory.sh and tools/bench-speed.sh.
# Source it after setting nothing in particular; it sources
# tests/lib/containerd.sh (private containerd, ctr_, shim_pids, ...).
#
# Shims under test (bench_shims_init [EXTRA_BINARY...]):
#   ours   BENCH_C_SHIM  (default <repo>/build/containerd-shim-runc-v2-c)
#          runtime io.containerd.runc.v2-c
#   Go     BENCH_GO_SHIM (default /usr/bin/containerd-shim-runc-v2)
#          runtime io.containerd.runc.v2
#   extra  each argument: a containerd-shim-X-Y binary (path, or name in PATH),
#          runtime io.containerd.X.Y (X may contain dashes: the split is at
#          the last one, the inverse of containerd's own naming rule).
# Every shim is copied (a snapshot: a rebuild during the run changes nothing)
# into one temporary directory, BENCH_BIN_DIR, which is put first in
# containerd's PATH; binary names must therefore be unique. SHIM_BINS holds
# the original paths, SHIM_EXES the copies that are run.

BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_LIB_DIR/.." && pwd)

# a namespace of our own: containerd 1.6 keeps runc state in the global
# /run/containerd/runc/<namespace>, so concurrent runs must not share one
: "${CTRD_NS:=bench-$$}"
# shellcheck source=../tests/lib/containerd.sh
. "$BENCH_REPO/tests/lib/containerd.sh"

: "${BENCH_OUT:=$BENCH_REPO/bench}"
: "${BENCH_C_SHIM:=$BENCH_REPO/build/containerd-shim-runc-v2-c}"
: "${BENCH_GO_SHIM:=/usr/bin/containerd-shim-runc-v2}"
GO_RUNTIME=io.containerd.runc.v2

SHIM_NAMES=() # binary basenames, also the label used in tables
SHIM_RTS=()   # runtime names
SHIM_BINS=()  # absolute paths of the real binaries
SHIM_EXES=()  # the copies in BENCH_BIN_DIR, which are what runs
BENCH_TMP=
BENCH_BIN_DIR=
BENCH_ROOTFS=

bench_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# bench_tmp_init: private temp dir (removed by bench_tmp_cleanup)
bench_tmp_init() {
	BENCH_TMP=$(mktemp -d /tmp/bench.XXXXXX) || bench_die "mktemp failed"
	BENCH_BIN_DIR=$BENCH_TMP/bin
	mkdir -p "$BENCH_BIN_DIR"
}

bench_tmp_cleanup() {
	[ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ] && rm -rf "$BENCH_TMP"
	BENCH_TMP=
}

# runtime_for_binary NAME: containerd-shim-X-Y -> io.containerd.X.Y
runtime_for_binary() {
	local n=${1##*/} rest
	case $n in
	containerd-shim-*-*) ;;
	*) return 1 ;;
	esac
	rest=${n#containerd-shim-}
	case $rest in -* | *-) return 1 ;; esac
	printf 'io.containerd.%s.%s\n' "${rest%-*}" "${rest##*-}"
}

_bench_add_shim() {
	local bin=$1 rt=$2 name i
	name=${bin##*/}
	[ -x "$bin" ] || bench_die "$bin: not an executable (build it first: make)"
	for i in "${!SHIM_NAMES[@]}"; do
		[ "${SHIM_NAMES[i]}" = "$name" ] &&
			bench_die "two shims named $name: binary names must be unique"
	done
	# containerd derives the binary name from the runtime name
	[ "$(shim_binary_name "$rt")" = "$name" ] ||
		bench_die "$bin: runtime $rt would not resolve to this binary"
	SHIM_NAMES+=("$name")
	SHIM_EXES+=("$BENCH_BIN_DIR/$name")
	SHIM_RTS+=("$rt")
	SHIM_BINS+=("$(readlink -f "$bin")")
	# a copy, so that a rebuild during the run cannot mix two versions
	cp "$(readlink -f "$bin")" "$BENCH_BIN_DIR/$name" || bench_die "cannot copy $bin"
}

# bench_shims_init [EXTRA...]: fill SHIM_* (needs bench_tmp_init first)
bench_shims_init() {
	local a bin rt
	_bench_add_shim "$BENCH_C_SHIM" io.containerd.runc.v2-c
	_bench_add_shim "$BENCH_GO_SHIM" "$GO_RUNTIME"
	for a in "$@"; do
		bin=$a
		case $bin in */*) ;; *) bin=$(command -v "$a") || bench_die "$a: not found" ;; esac
		rt=$(runtime_for_binary "$bin") ||
			bench_die "$a: name must be containerd-shim-<name>-<version>"
		_bench_add_shim "$bin" "$rt"
	done
	SHIM_DIR=$BENCH_BIN_DIR
}

# go_index: index of the Go shim in SHIM_* (the baseline for ratios)
go_index() {
	local i
	for i in "${!SHIM_RTS[@]}"; do
		[ "${SHIM_RTS[i]}" = "$GO_RUNTIME" ] && { echo "$i"; return; }
	done
	echo 1
}

# bench_rootfs: one shared busybox rootfs under BENCH_TMP
bench_rootfs() {
	[ -n "$BENCH_ROOTFS" ] && return 0
	BENCH_ROOTFS=$BENCH_TMP/rootfs
	make_busybox_rootfs "$BENCH_ROOTFS" || bench_die "cannot build the busybox rootfs"
}

# now_us: wall clock in microseconds (bash builtin, no fork)
now_us() {
	local t=${EPOCHREALTIME/[.,]/}
	printf '%s\n' "$((10#$t))"
}

# stamp VAR: VAR=now in microseconds, without forking (for timing)
stamp() {
	local t=${EPOCHREALTIME/[.,]/}
	printf -v "$1" '%s' "$((10#$t))"
}

# daemon_pids ADDRESS ID [any]: pids of shim processes started with
# -address ADDRESS and -id ID. Without "any", a process whose last argument
# is start or delete (the short-lived commands) is left out.
daemon_pids() {
	local addr=$1 id=$2 any=${3:-} f p cmd
	while IFS= read -r f; do
		p=${f#/proc/}
		p=${p%/cmdline}
		cmd=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
		case " $cmd" in *" -address $addr "*) ;; *) continue ;; esac
		case " $cmd" in *" -id $id "*) ;; *) continue ;; esac
		case "$cmd" in *containerd-shim*) ;; *) continue ;; esac
		if [ -z "$any" ]; then
			case "$cmd" in *" start " | *" delete ") continue ;; esac
		fi
		printf '%s\n' "$p"
	done < <(grep -lsaF -- "$addr" /proc/[0-9]*/cmdline)
}

# stats: reads numbers (one per line) on stdin, prints
#   n median min max p25 p75    (linear interpolation between ranks)
stats() {
	sort -g | awk '
	{ v[NR] = $1 }
	function q(p,   h, lo) {
		if (NR == 1) return v[1]
		h = (NR - 1) * p + 1; lo = int(h)
		return lo >= NR ? v[NR] : v[lo] + (h - lo) * (v[lo + 1] - v[lo])
	}
	END {
		if (NR == 0) { print "0 - - - - -"; exit }
		printf "%d %.6g %.6g %.6g %.6g %.6g\n", NR, q(0.5), v[1], v[NR], q(0.25), q(0.75)
	}'
}

# ---------------------------------------------------------------------------
# Memory of processes: "pid rss pss threads fds" lines, kB.
# Uses build/tools/smaps (make -C tools) when it exists, else /proc directly.

SMAPS_BIN=
smaps_init() {
	SMAPS_BIN=${SMAPS:-$BENCH_REPO/build/tools/smaps}
	if [ ! -x "$SMAPS_BIN" ]; then
		make -C "$BENCH_REPO/tools" >/dev/null 2>&1 || true
	fi
	if [ -x "$SMAPS_BIN" ] && "$SMAPS_BIN" --tsv $$ >/dev/null 2>&1; then
		return 0
	fi
	bench_log "smaps tool not available; reading /proc/PID/smaps_rollup directly"
	SMAPS_BIN=
}

# proc_mem PID...: one "pid rss pss threads fds" line per live process
proc_mem() {
	[ $# -gt 0 ] || return 0
	if [ -n "$SMAPS_BIN" ]; then
		"$SMAPS_BIN" --tsv "$@" 2>/dev/null | awk -F '\t' '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$1 ~ /^[0-9]+$/ {
			print $c["pid"], $c["rss_kb"], $c["pss_kb"], $c["threads"], $c["fds"]
		}'
		return 0
	fi
	local p rss pss thr fds f
	for p in "$@"; do
		f=/proc/$p/smaps_rollup
		[ -r "$f" ] || f=/proc/$p/smaps
		read -r rss pss < <(awk '/^Rss:/ { r += $2 } /^Pss:/ { s += $2 }
			END { if (NR) print r, s }' "$f" 2>/dev/null)
		[ -n "$rss" ] || continue
		thr=$(awk '/^Threads:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		fds=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		echo "$p $rss $pss ${thr:--} $fds"
	done
}

# ---------------------------------------------------------------------------
# containers

# ctr_cmd: the ctr_ command line, one word a line (for xargs)
ctr_cmd() {
	printf '%s\n' timeout -k 5 "$CTR_TIMEOUT" ctr --address "$CTRD_SOCK" -n "$CTRD_NS"
}

# count_running: number of RUNNING tasks in our namespace
count_running() {
	ctr_ task ls 2>/dev/null | awk '$3 == "RUNNING" { n++ } END { print n + 0 }'
}

# wait_running N TIMEOUT_S: wait until N tasks are RUNNING
wait_running() {
	local want=$1 t=$2 end n
	end=$(($(now_us) + t * 1000000))
	while :; do
		n=$(count_running)
		[ "$n" -ge "$want" ] && return 0
		[ "$(now_us)" -lt "$end" ] || {
			bench_log "only $n of $want tasks RUNNING after ${t}s"
			return 1
		}
		sleep 0.2
	done
}

# remove_all_containers: SIGKILL every task (in parallel), then delete tasks
# and containers (ctr containers rm deletes a stopped task too).
remove_all_containers() {
	local ids end
	ids=$(ctr_ containers ls -q 2>/dev/null)
	[ -n "$ids" ] || return 0
	local -a ctr
	mapfile -t ctr < <(ctr_cmd)
	printf '%s\n' "$ids" | xargs -r -P 8 -I '{}' "${ctr[@]}" task kill -s SIGKILL '{}' >/dev/null 2>&1
	end=$(($(now_us) + 30000000))
	while [ "$(count_running)" -gt 0 ] && [ "$(now_us)" -lt "$end" ]; do sleep 0.1; done
	printf '%s\n' "$ids" | xargs -r -P 4 -n 20 "${ctr[@]}" containers rm >/dev/null 2>&1
	ids=$(ctr_ containers ls -q 2>/dev/null)
	[ -z "$ids" ] || ctrd_cleanup_containers
}

# runc_sweep: delete runc state left in our namespace after containerd has
# been stopped (a shim that did not clean up; warns with the ids), and the
# namespace's empty cgroups
runc_sweep() {
	local root=/run/containerd/runc/$CTRD_NS d ids=
	[ -d "$root" ] || return 0
	for d in "$root"/*/; do
		[ -d "$d" ] || continue
		d=${d%/}
		ids="$ids ${d##*/}"
		runc --root "$root" delete -f "${d##*/}" >/dev/null 2>&1 || rm -rf "$d"
	done
	[ -z "$ids" ] || bench_log "warning: runc state left behind for:$ids (removed)"
	rmdir "$root" 2>/dev/null || :
	# empty cgroups of our namespace (the namespace is ours alone)
	while IFS= read -r d; do
		[ -d "$d/$CTRD_NS" ] && find "$d/$CTRD_NS" -depth -type d -exec rmdir {} + 2>/dev/null
	done < <(_ctrd_cgroup_dirs)
	return 0
}

# proc_alive PID: true if PID exists and is not a zombie
proc_alive() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	case $st in Z* | X*) return 1 ;; esac
	return 0
}

# wait_gone PID TIMEOUT_S: wait until PID has exited (a zombie counts as gone:
# killed daemons are reparented to init, which may reap them late)
wait_gone() {
	local p=$1 i
	for ((i = 0; i < $2 * 100; i++)); do
		proc_alive "$p" || return 0
		sleep 0.01
	done
	return 1
}

# machine_info: "key<TAB>value" lines describing the machine
machine_info() {
	local cg=v1
	[ -f /sys/fs/cgroup/cgroup.controllers ] && cg=v2
	printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	printf 'cores\t%s\n' "$(nproc)"
	printf 'memory\t%s MiB\n' "$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'os\t%s\n' "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
	printf 'cgroup\t%s\n' "$cg"
	printf 'containerd\t%s\n' "$(containerd --version 2>/dev/null | awk '{ print $3 }')"
	printf 'runc\t%s\n' "$(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }')"
	printf 'load\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------------------
# markdown

memory_md_header() {
	echo "| shim | mode | N | containers | shim processes | RSS median | RSS max | PSS median | PSS max | RSS total | PSS total | threads/shim | fds/shim | binary | start all |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
}

# memory_md_rows: memory.tsv rows (no header) on stdin -> markdown rows
memory_md_rows() {
	awk -F '\t' '$1 != "mode" {
		printf "| %s | %s | %s | %s | %s | %s kB | %s kB | %s kB | %s kB | %s kB | %s kB | %s%s | %s%s | %s kB | %s s |%s\n",
			$4, $1, $2, $3, $6, $7, $8, $9, $10, $11, $12,
			$13, ($14 != $13 ? " (max " $14 ")" : ""), $15, ($16 != $15 ? " (max " $16 ")" : ""),
			$17, $18, ($19 != "ok" ? " " $19 : "")
	}'
}

# speed_md TSV: speed.tsv as a markdown table
speed_md() {
	echo "| metric | shim | runs | median | p25 - p75 | min - max | vs Go shim |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	awk -F '\t' '
	function f(v) {
		if (v == "-") return v
		return sprintf(v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v)
	}
	NR > 1 {
		printf "| %s | %s | %s | %s %s | %s - %s | %s - %s | %s |\n",
			$12, $2, $5, f($6), $4, f($9), f($10), f($7), f($8), ($11 == "-" ? "-" : $11 "x")
	}' "$1"
}
