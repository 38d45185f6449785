#!/usr/bin/env bash
# Unit tests for tools/smaps (the smaps_rollup / smaps summariser).
#
# Uses the binary in $SMAPS when set (e.g. the sanitizer build from
# `make -C tools asan`), otherwise builds build/tools/smaps with
# `make -C tools`. Prints "ok NAME" / "FAIL NAME" lines, then a summary;
# exits 1 when a test failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

if [ -z "${SMAPS:-}" ]; then
    if ! make -s -C "$REPO/tools" >/dev/null; then
        echo "FAIL build"
        echo "0 passed, 1 failed"
        exit 1
    fi
    SMAPS=$REPO/build/tools/smaps
fi
# Sanitizer builds: make any report distinguishable from a normal exit 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=99:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=98:print_stacktrace=1}

TMP=$(mktemp -d /tmp/test_smaps.XXXXXX)
BG_PIDS=()
MAIN_PID=$BASHPID
cleanup() {
    local p
    # A background child killed before it exec'd may run this trap too.
    [ "$BASHPID" = "$MAIN_PID" ] || return 0
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() { echo "ok $1"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $1${2:+ ($2)}"; FAIL=$((FAIL + 1)); }

OUT=$TMP/out
ERR=$TMP/err
RC=0
CRASHED=0
# run ARGS...: run smaps; stdout -> $OUT, stderr -> $ERR, status -> $RC.
run() {
    "$SMAPS" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    if [ "$RC" -ge 98 ] || grep -qE 'Sanitizer|runtime error' "$ERR"; then
        CRASHED=$((CRASHED + 1))
        echo "# crash/sanitizer report running: smaps $*" >&2
        sed 's/^/#   /' "$ERR" >&2
    fi
}

# tsv_field PID COLUMN: value of a column (1-based) of a TSV row.
tsv_field() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c; exit }' "$OUT"; }
# cat_field PID CATEGORY COLUMN: value from a --breakdown --tsv row.
cat_field() {
    awk -F'\t' -v k="$1" -v g="$2" -v c="$3" \
        '$1 == k && $2 == g { print $c; exit }' "$OUT"
}
# json_get EXPR: evaluate a python expression over the parsed JSON in $OUT.
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$OUT" 2>/dev/null; }

# expect_err NAME REGEX ARGS...: exit status 1 (not a crash) and stderr
# matching REGEX.
expect_err() {
    local name=$1 re=$2
    shift 2
    run "$@"
    if [ "$RC" -ne 1 ]; then
        bad "$name" "exit $RC, want 1"
    elif ! grep -qE "$re" "$ERR"; then
        bad "$name" "stderr: $(head -c 200 "$ERR")"
    else
        ok "$name"
    fi
}

# ------------------------------------------------------------------
# synthetic /proc tree

R=$TMP/proc
mkdir -p "$R"

# mapping HEADER RSS PSS PRIV_CLEAN PRIV_DIRTY SWAP: one smaps entry with
# distractor fields that must not be counted.
mapping() {
    printf '%s\n' "$1"
    printf 'Size:               %6d kB\n' $(($2 + 4))
    printf 'KernelPageSize:        4 kB\nMMUPageSize:           4 kB\n'
    printf 'Rss:                %6d kB\n' "$2"
    printf 'Pss:                %6d kB\n' "$3"
    printf 'Pss_Dirty:           999 kB\nShared_Clean:        555 kB\n'
    printf 'Shared_Dirty:        444 kB\n'
    printf 'Private_Clean:      %6d kB\n' "$4"
    printf 'Private_Dirty:      %6d kB\n' "$5"
    printf 'Referenced:          333 kB\nAnonymous:           222 kB\n'
    printf 'Swap:               %6d kB\n' "$6"
    printf 'SwapPss:             777 kB\nLocked:                0 kB\n'
    printf 'THPeligible:           0\nVmFlags: rd wr mr mw me ac sd\n'
}

rollup() { # RSS PSS PRIV_CLEAN PRIV_DIRTY SWAP
    printf '00400000-7ffd00021000 ---p 00000000 00:00 0                          [rollup]\n'
    printf 'Rss:%17d kB\nPss:%17d kB\nPss_Dirty:        888 kB\n' "$1" "$2"
    printf 'Pss_Anon:         111 kB\nShared_Clean:     555 kB\n'
    printf 'Private_Clean:%7d kB\nPrivate_Dirty:%7d kB\n' "$3" "$4"
    printf 'Swap:%16d kB\nSwapPss:          777 kB\n' "$5"
}

status() { # NAME THREADS [STATE]
    printf 'Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t1\nThreads:\t%s\n' \
        "$1" "${3:-S (sleeping)}" "$2"
}

mkproc() { # PID NFDS
    mkdir -p "$R/$1/fd"
    local i
    for ((i = 0; i < $2; i++)); do ln -s /dev/null "$R/$1/fd/$i"; done
}

# pid 100: the executable /usr/bin/app with one mapping of each category.
# category|header|rss|pss|private_clean|private_dirty|swap (category = name)
MAPS100=(
    "rodata|00400000-00401000 r--p 00000000 08:01 1234                       /usr/bin/app|4|4|4|0|0"
    "text|00401000-00405000 r-xp 00001000 08:01 1234                       /usr/bin/app|16|10|12|0|0"
    "data|00405000-00406000 rw-p 00005000 08:01 1234                       /usr/bin/app|4|4|0|4|0"
    "bss|00406000-00408000 rw-p 00000000 00:00 0 |8|8|0|8|0"
    "heap|01000000-01100000 rw-p 00000000 00:00 0                          [heap]|100|90|0|90|20"
    "anonymous|7f0000000000-7f0000100000 rw-p 00000000 00:00 0 |200|150|0|150|50"
    "files|7f0000100000-7f0000200000 r-xp 00000000 08:01 999                        /lib/libc.so.6|300|30|0|0|0"
    "stack|7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]|12|12|0|12|1"
    "special|7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]|4|0|0|0|0"
)
mkproc 100 4
{
    printf 'Rss:                1000 kB\n' # before any header: ignored
    for m in "${MAPS100[@]}"; do
        IFS='|' read -r _ hdr rss pss pc pd sw <<<"$m"
        mapping "$hdr" "$rss" "$pss" "$pc" "$pd" "$sw"
        case $hdr in
        *heap*) # malformed lines between fields are skipped
            printf 'garbage line\nRss: notanumber kB\nRss: 99999999999999999999999 kB\n'
            printf 'Rss 5 kB\n00400000- r-xp\n\n:\nPss:   -3 kB\nSwap: 4 kB trailing\n'
            ;;
        esac
    done
} >"$R/100/smaps"
rollup 5000 4000 100 3000 7 >"$R/100/smaps_rollup"
status app 3 >"$R/100/status"
printf 'app\n' >"$R/100/comm"
ln -s /usr/bin/app "$R/100/exe"

# Expected sums for pid 100 (smaps) and per category.
declare -A CRSS CPSS CPRIV CSWAP
F_RSS=0 F_PSS=0 F_PC=0 F_PD=0 F_SW=0
for m in "${MAPS100[@]}"; do
    IFS='|' read -r cat hdr rss pss pc pd sw <<<"$m"
    F_RSS=$((F_RSS + rss)) F_PSS=$((F_PSS + pss)) F_PC=$((F_PC + pc))
    F_PD=$((F_PD + pd)) F_SW=$((F_SW + sw))
    CRSS[$cat]=$rss CPSS[$cat]=$pss CPRIV[$cat]=$((pc + pd)) CSWAP[$cat]=$sw
done

# pid 101: no smaps_rollup (old kernel) -> smaps is used; no exe link.
mkproc 101 2
{
    mapping "00400000-00410000 r-xp 00000000 08:01 77 /usr/sbin/worker" 40 20 40 0 0
    mapping "00410000-00420000 rw-p 00000000 00:00 0" 60 60 0 60 3
} >"$R/101/smaps"
status worker 1 >"$R/101/status"
printf 'worker\n' >"$R/101/comm"

# pid 102: rollup only, executable replaced on disk ("(deleted)").
mkproc 102 1
rollup 300 200 10 150 0 >"$R/102/smaps_rollup"
status app 7 >"$R/102/status"
printf 'app\n' >"$R/102/comm"
ln -s '/opt/app (deleted)' "$R/102/exe"

# pid 103: hostile name (quotes, tab, invalid UTF-8, control char).
mkproc 103 0
rollup 1 1 0 1 0 >"$R/103/smaps_rollup"
ln -s "$(printf '/bin/we"ird\\\tna\001me\377')" "$R/103/exe"

# pid 104: overlong smaps lines (10000-byte path) do not break parsing.
mkproc 104 0
{
    mapping "00400000-00401000 r-xp 00000000 08:01 5 /$(head -c 10000 /dev/zero | tr '\0' x)" 8 8 8 0 0
    printf 'Rss: %s kB\n' "$(head -c 9000 /dev/zero | tr '\0' 1)"
    mapping "00401000-00402000 rw-p 00000000 00:00 0" 4 4 0 4 0
} >"$R/104/smaps"

# Broken entries.
mkproc 200 0; mkdir "$R/200/smaps_rollup"                  # dir, not a file
mkproc 201 0; mkdir "$R/201/smaps"                         # dir (--full)
mkproc 202 0                                               # no smaps at all
mkproc 203 0; : >"$R/203/smaps_rollup"                     # empty
mkproc 204 0; rollup 1 1 1 1 1 >"$R/204/smaps_rollup"      # zombie
status zombie 1 'Z (zombie)' >"$R/204/status"
printf 'not a pid dir\n' >"$R/205"                         # not a dir

# ------------------------------------------------------------------
# synthetic: rollup and --full totals

run --root "$R" --tsv 100
if [ "$RC" -eq 0 ] && [ "$(tsv_field 100 3)" = 5000 ] && [ "$(tsv_field 100 4)" = 4000 ] &&
    [ "$(tsv_field 100 5)" = 100 ] && [ "$(tsv_field 100 6)" = 3000 ] &&
    [ "$(tsv_field 100 7)" = 7 ] && [ "$(tsv_field 100 10)" = smaps_rollup ]; then
    ok rollup_tsv_values
else bad rollup_tsv_values "$(cat "$OUT" "$ERR")"; fi

if [ "$(tsv_field 100 2)" = app ] && [ "$(tsv_field 100 8)" = 3 ] && [ "$(tsv_field 100 9)" = 4 ]; then
    ok name_threads_fds
else bad name_threads_fds "$(cat "$OUT")"; fi

if [ "$(head -1 "$OUT")" = "$(printf 'pid\tname\trss_kb\tpss_kb\tprivate_clean_kb\tprivate_dirty_kb\tswap_kb\tthreads\tfds\tsource')" ] &&
    [ "$(wc -l <"$OUT")" -eq 2 ]; then
    ok tsv_header_single_row
else bad tsv_header_single_row; fi

run --root "$R" --tsv --full 100
if [ "$RC" -eq 0 ] && [ "$(tsv_field 100 3)" = "$F_RSS" ] && [ "$(tsv_field 100 4)" = "$F_PSS" ] &&
    [ "$(tsv_field 100 5)" = "$F_PC" ] && [ "$(tsv_field 100 6)" = "$F_PD" ] &&
    [ "$(tsv_field 100 7)" = "$F_SW" ] && [ "$(tsv_field 100 10)" = smaps ]; then
    ok full_tsv_sums
else bad full_tsv_sums "want $F_RSS $F_PSS $F_PC $F_PD $F_SW: $(cat "$OUT" "$ERR")"; fi

run --root "$R" --tsv 101
if [ "$RC" -eq 0 ] && [ "$(tsv_field 101 3)" = 100 ] && [ "$(tsv_field 101 4)" = 80 ] &&
    [ "$(tsv_field 101 5)" = 40 ] && [ "$(tsv_field 101 6)" = 60 ] &&
    [ "$(tsv_field 101 7)" = 3 ] && [ "$(tsv_field 101 10)" = smaps ] &&
    [ "$(tsv_field 101 2)" = worker ] && [ "$(tsv_field 101 9)" = 2 ]; then
    ok missing_rollup_falls_back_to_smaps
else bad missing_rollup_falls_back_to_smaps "$(cat "$OUT" "$ERR")"; fi

run --root "$R" --tsv 104
if [ "$RC" -eq 0 ] && [ "$(tsv_field 104 3)" = 12 ]; then
    ok overlong_lines
else bad overlong_lines "$(cat "$OUT" "$ERR")"; fi

# several pids: TOTAL row and JSON totals
T_RSS=$((5000 + 100 + 300)) T_PSS=$((4000 + 80 + 200)) T_PC=$((100 + 40 + 10))
T_PD=$((3000 + 60 + 150)) T_SW=$((7 + 3 + 0))
run --root "$R" --tsv 100 101 102 100
if [ "$RC" -eq 0 ] && [ "$(grep -c . "$OUT")" -eq 5 ] &&
    [ "$(tsv_field TOTAL 3)" = $T_RSS ] && [ "$(tsv_field TOTAL 4)" = $T_PSS ] &&
    [ "$(tsv_field TOTAL 5)" = $T_PC ] && [ "$(tsv_field TOTAL 6)" = $T_PD ] &&
    [ "$(tsv_field TOTAL 7)" = $T_SW ] && [ "$(tsv_field TOTAL 8)" = 11 ] &&
    [ "$(tsv_field TOTAL 9)" = 7 ] && [ "$(tsv_field 102 2)" = app ]; then
    ok tsv_total_row_dedup
else bad tsv_total_row_dedup "$(cat "$OUT" "$ERR")"; fi

run --root "$R" --json 100 101 102
got=$(json_get '"%d %d %d %d %d %d %d" % tuple(d["total"][k] for k in ("processes","rss_kb","pss_kb","private_clean_kb","private_dirty_kb","swap_kb","threads"))')
if [ "$RC" -eq 0 ] && [ "$got" = "3 $T_RSS $T_PSS $T_PC $T_PD $T_SW 11" ]; then
    ok json_totals
else bad json_totals "got '$got'"; fi
if python3 -m json.tool <"$OUT" >/dev/null 2>&1; then ok json_tool_parses; else bad json_tool_parses; fi

got=$(json_get '[p["pid"] for p in d["processes"]] == [100,101,102] and d["processes"][1]["source"] == "smaps" and d["errors"] == []')
[ "$got" = True ] && ok json_processes || bad json_processes "$got"

run --root "$R" 100 101
if [ "$RC" -eq 0 ] && grep -qE '^ +TOTAL +5100 ' "$OUT" && grep -qE '^ +100 +5000 +4000 ' "$OUT" &&
    grep -q 'NAME' "$OUT"; then
    ok table_output
else bad table_output "$(cat "$OUT")"; fi

# ------------------------------------------------------------------
# synthetic: breakdown

run --root "$R" --tsv --breakdown 100
bd_ok=1
for cat in text data rodata bss heap stack anonymous files special; do
    want="${CRSS[$cat]} ${CPSS[$cat]} ${CPRIV[$cat]} ${CSWAP[$cat]} 1"
    got="$(cat_field 100 $cat 3) $(cat_field 100 $cat 4) $(cat_field 100 $cat 5) $(cat_field 100 $cat 6) $(cat_field 100 $cat 7)"
    if [ "$got" != "$want" ]; then
        bd_ok=0
        echo "#   $cat: got '$got' want '$want'" >&2
    fi
done
[ "$RC" -eq 0 ] && [ $bd_ok = 1 ] && ok breakdown_categories || bad breakdown_categories
if [ "$(cat_field 100 total 3)" = "$F_RSS" ] && [ "$(cat_field 100 total 4)" = "$F_PSS" ] &&
    [ "$(cat_field 100 total 5)" = $((F_PC + F_PD)) ] && [ "$(cat_field 100 total 7)" = 9 ]; then
    ok breakdown_total
else bad breakdown_total "$(cat "$OUT")"; fi

run --root "$R" --tsv --maps 100
got=$(awk -F'\t' 'NR > 1 { printf "%s ", $5 }' "$OUT")
want=""
for m in "${MAPS100[@]}"; do want+="${m%%|*} "; done
[ "$RC" -eq 0 ] && [ "$got" = "$want" ] && ok maps_listing || bad maps_listing "got '$got'"

run --root "$R" --json --maps 100 101
got=$(json_get 'd["processes"][0]["breakdown"]["bss"]["rss_kb"], d["processes"][0]["breakdown"]["heap"]["swap_kb"], len(d["processes"][0]["maps"]), d["processes"][1]["breakdown"]["text"]["rss_kb"], d["processes"][1]["breakdown"]["bss"]["rss_kb"]')
[ "$got" = "8 20 9 40 60" ] && ok breakdown_json || bad breakdown_json "got '$got'"
python3 -m json.tool <"$OUT" >/dev/null 2>&1 && ok breakdown_json_parses || bad breakdown_json_parses

run --root "$R" --breakdown --maps 100
if [ "$RC" -eq 0 ] && grep -qE '^bss +8 +8 +8 +0 +1$' "$OUT" && grep -q '\[heap\]' "$OUT"; then
    ok breakdown_table
else bad breakdown_table "$(cat "$OUT")"; fi

# ------------------------------------------------------------------
# synthetic: selection by --name and --cgroup

run --root "$R" --tsv --name app
[ "$RC" -eq 0 ] && [ "$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$OUT")" = "100 102 TOTAL " ] &&
    ok name_exe_basename || bad name_exe_basename "$(cat "$OUT" "$ERR")"

run --root "$R" --tsv --name worker --name app
[ "$RC" -eq 0 ] && [ "$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$OUT")" = "100 101 102 TOTAL " ] &&
    ok name_comm_fallback_multi || bad name_comm_fallback_multi "$(cat "$OUT" "$ERR")"

expect_err name_no_match 'name nosuch: no such process' --root "$R" --name nosuch

mkdir -p "$TMP/cg/sub" "$TMP/cg/empty"
printf '101\n100\nbogus\n101\n' >"$TMP/cg/sub/cgroup.procs"
: >"$TMP/cg/empty/cgroup.procs"
run --root "$R" --tsv --cgroup "$TMP/cg/sub"
[ "$RC" -eq 0 ] && [ "$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$OUT")" = "101 100 TOTAL " ] &&
    ok cgroup_dir || bad cgroup_dir "$(cat "$OUT" "$ERR")"
run --root "$R" --tsv --cgroup "$TMP/cg/sub/cgroup.procs"
[ "$RC" -eq 0 ] && [ "$(grep -c . "$OUT")" -eq 4 ] && ok cgroup_procs_file || bad cgroup_procs_file
(cd "$TMP" && "$SMAPS" --root "$R" --tsv --cgroup ./cg/sub >/dev/null 2>&1) && ok cgroup_relative ||
    bad cgroup_relative
expect_err cgroup_empty 'no processes' --root "$R" --cgroup "$TMP/cg/empty"
expect_err cgroup_missing 'cgroup .*nosuch.*: cannot open' --cgroup "$TMP/cg/nosuch"

# ------------------------------------------------------------------
# bad input

expect_err bad_pid_abc 'pid abc: invalid pid' abc
expect_err bad_pid_zero 'pid 0: invalid pid' 0
expect_err bad_pid_huge 'invalid pid' 99999999999999999999
expect_err nonexistent_pid 'pid 999999999: no such process' 999999999
expect_err synthetic_missing_pid 'pid 300: no such process' --root "$R" 300
expect_err synthetic_not_a_dir 'pid 205: no such process' --root "$R" 205
expect_err rollup_is_directory 'pid 200: cannot read .*smaps_rollup: Is a directory' --root "$R" 200
expect_err smaps_is_directory 'pid 201: cannot read .*smaps: Is a directory' --root "$R" --full 201
expect_err no_smaps_files 'pid 202: cannot read .*smaps: No such file' --root "$R" 202
expect_err empty_rollup 'pid 203: no memory information' --root "$R" 203
expect_err zombie_status 'pid 204: process vanished' --root "$R" 204
expect_err bad_root 'no such process' --root "$TMP/nonexistent" 100

run --root "$R" --tsv 100 abc 202 999999 101
if [ "$RC" -eq 0 ] && [ "$(tsv_field 100 3)" = 5000 ] && [ "$(tsv_field 101 3)" = 100 ] &&
    grep -q 'pid abc: invalid pid' "$ERR" && grep -q 'pid 202: cannot read' "$ERR" &&
    grep -q 'pid 999999: no such process' "$ERR"; then
    ok partial_failure_still_reports
else bad partial_failure_still_reports "rc=$RC $(cat "$OUT" "$ERR")"; fi

run --root "$R" --json 100 abc 200
got=$(json_get 'len(d["processes"]), len(d["errors"]), d["errors"][0]["subject"]')
[ "$RC" -eq 0 ] && [ "$got" = "1 2 pid abc" ] && ok json_errors || bad json_errors "got '$got'"
run --root "$R" --json abc
[ "$RC" -eq 1 ] && python3 -m json.tool <"$OUT" >/dev/null 2>&1 && ok json_nothing_measured_parses ||
    bad json_nothing_measured_parses

run --root "$R" --json 103
got=$(json_get 'd["processes"][0]["name"]')
if [ "$RC" -eq 0 ] && python3 -m json.tool <"$OUT" >/dev/null 2>&1 && [ -n "$got" ]; then
    ok json_hostile_name
else bad json_hostile_name "$(cat "$OUT")"; fi
run --root "$R" --tsv 103
[ "$RC" -eq 0 ] && [ "$(awk -F'\t' 'NR == 2 { print NF }' "$OUT")" = 10 ] && ok tsv_hostile_name ||
    bad tsv_hostile_name

# real processes that vanished / are zombies
true &
gone=$!
wait "$gone"
expect_err vanished_pid "pid $gone: no such process" "$gone"

# The child outlives the exec, so nobody reaps it: a zombie.
bash -c 'sleep 0.3 & echo $! >"$1"; exec sleep 100' _ "$TMP/zpid" &
BG_PIDS+=($!)
for _ in $(seq 50); do
    [ -s "$TMP/zpid" ] && grep -q '^State:.*Z' "/proc/$(cat "$TMP/zpid")/status" 2>/dev/null && break
    sleep 0.1
done
expect_err zombie_pid 'vanished|no memory|no address space' "$(cat "$TMP/zpid")"

# processes exiting while they are measured: never a crash
race_ok=1
for i in $(seq 30); do
    sleep "0.0$((i % 10))" &
    p=$!
    run --maps --json "$p" $$
    if [ "$RC" -ne 0 ] || ! python3 -m json.tool <"$OUT" >/dev/null 2>&1; then race_ok=0; fi
    wait "$p"
done
[ $race_ok = 1 ] && ok exiting_processes || bad exiting_processes

# usage
run -h
[ "$RC" -eq 0 ] && grep -q '^Usage: smaps' "$OUT" && grep -q -- '--breakdown' "$OUT" && ok usage ||
    bad usage
run --bogus 1
[ "$RC" -eq 2 ] && grep -q 'unknown option' "$ERR" && ok bad_option || bad bad_option "rc=$RC"
run
[ "$RC" -eq 2 ] && ok no_arguments || bad no_arguments "rc=$RC"
run --json --tsv 1
[ "$RC" -eq 2 ] && ok json_tsv_exclusive || bad json_tsv_exclusive "rc=$RC"
run --name
[ "$RC" -eq 2 ] && grep -q 'needs an argument' "$ERR" && ok missing_option_argument ||
    bad missing_option_argument "rc=$RC $(cat "$ERR")"

# ------------------------------------------------------------------
# real processes with a known allocation

if gcc -O0 -Wall -Wextra -Werror -o "$TMP/touch_mem" "$HERE/touch_mem.c"; then
    ok build_touch_mem
else
    bad build_touch_mem
fi
"$TMP/touch_mem" 0 "$TMP/ready0" &
P0=$!
BG_PIDS+=($P0)
"$TMP/touch_mem" 4 "$TMP/ready4" &
P4=$!
BG_PIDS+=($P4)
for _ in $(seq 100); do
    [ -e "$TMP/ready0" ] && [ -e "$TMP/ready4" ] && break
    sleep 0.1
done

run --tsv "$P0" "$P4"
r0=$(tsv_field "$P0" 3)
r4=$(tsv_field "$P4" 3)
if [ "$RC" -eq 0 ] && [ -n "$r0" ] && [ -n "$r4" ] && [ $((r4 - r0)) -ge 4096 ]; then
    ok "real_rss_4mib (idle $r0 kB, 4 MiB $r4 kB)"
else bad real_rss_4mib "rc=$RC idle '$r0' 4MiB '$r4' $(cat "$ERR")"; fi
[ "$(tsv_field "$P4" 2)" = touch_mem ] && [ "$(tsv_field "$P4" 8)" = 1 ] &&
    [ "$(tsv_field "$P4" 9)" -ge 3 ] && ok real_name_threads_fds || bad real_name_threads_fds "$(cat "$OUT")"

run --tsv --full "$P0" "$P4"
f0=$(tsv_field "$P0" 3)
f4=$(tsv_field "$P4" 3)
pd4=$(tsv_field "$P4" 6)
if [ "$RC" -eq 0 ] && [ $((f4 - f0)) -ge 4096 ] && [ "$pd4" -ge 4096 ]; then
    ok real_full_rss_4mib
else bad real_full_rss_4mib "idle '$f0' 4MiB '$f4' dirty '$pd4'"; fi

run --tsv --breakdown "$P4"
anon=$(( $(cat_field "$P4" anonymous 5) + $(cat_field "$P4" heap 5) ))
text=$(cat_field "$P4" text 3)
[ "$RC" -eq 0 ] && [ "$anon" -ge 4096 ] && [ "${text:-0}" -gt 0 ] && ok real_breakdown ||
    bad real_breakdown "anon+heap private $anon, text '$text'"

run --tsv --name touch_mem
got=$(awk -F'\t' 'NR > 1 && $1 != "TOTAL" { print $1 }' "$OUT" | sort -n | tr '\n' ' ')
want=$(printf '%s\n' "$P0" "$P4" | sort -n | tr '\n' ' ')
[ "$RC" -eq 0 ] && [ "$got" = "$want" ] && ok real_name_select || bad real_name_select "got '$got'"

run --json --maps "$P4" $$
if [ "$RC" -eq 0 ] && python3 -m json.tool <"$OUT" >/dev/null 2>&1; then
    ok real_json_parses
else bad real_json_parses; fi

run "$P0" "$P4" $$
[ "$RC" -eq 0 ] && grep -q '^ *TOTAL ' "$OUT" && ok real_table || bad real_table

for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG_PIDS=()

[ "$CRASHED" -eq 0 ] && ok no_crashes || bad no_crashes "$CRASHED crashed or sanitizer reports"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
