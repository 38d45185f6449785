#!/usr/bin/env bash
#
# Smoke test of the benchmarks: runs `BENCH_QUICK=1 tools/bench.sh` into a
# temporary directory (bench/ is left alone) and checks that the report has
# a row for our shim and for the Go shim in the memory table and in the
# speed table (every metric), with numbers in them, and that no measurement
# failed (stdout_cpu's lost bytes among them).  The board's memory phase
# (a TCG boot that nothing here reads) is left out: BENCH_BOARD=0.
#
# Prints "ok bench smoke" (exit 0) or "FAIL bench smoke: ..." (exit 1).
# Needs root, containerd, runc, busybox-static and a built shim (make).

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

OUT=$(mktemp -d /tmp/bench-smoke.XXXXXX) || exit 1
fail() {
	echo "FAIL bench smoke: $*"
	[ -f "$OUT/bench.log" ] && tail -n 20 "$OUT/bench.log" >&2
	echo "(output kept in $OUT)" >&2
	exit 1
}

[ -x "$REPO/build/containerd-shim-runc-v2-c" ] || fail "build/containerd-shim-runc-v2-c missing (run make)"

start=$SECONDS
BENCH_QUICK=1 BENCH_POD=both BENCH_BOARD=0 BENCH_OUT=$OUT "$REPO/tools/bench.sh" >"$OUT/stdout" 2>"$OUT/stderr" ||
	fail "tools/bench.sh exited with status $? ($(tail -n 3 "$OUT/stderr" | tr '\n' ' '))"
took=$((SECONDS - start))
R=$OUT/report.md
[ -s "$R" ] || fail "no report.md"

# section NAME: the lines of "## NAME" up to the next "## "
section() { awk -v h="## $1" '$0 == h { on = 1; next } /^## / { on = 0 } on' "$R"; }

mem=$(section Memory)
speed=$(section Speed)
[ -n "$mem" ] || fail "no Memory section"
[ -n "$speed" ] || fail "no Speed section"

for shim in containerd-shim-runc-v2-c containerd-shim-runc-v2; do
	# memory: | shim | mode | N | containers | shims | RSS median ...
	grep -qE "^\| $shim \| single \| [0-9]+ \| [0-9]+ \| [1-9][0-9]* \| [0-9]+ kB \|" <<<"$mem" ||
		fail "memory table has no single-mode row with figures for $shim"
	grep -qE "^\| $shim \| pod \| [0-9]+ \| [0-9]+ \| [1-9][0-9]* \| [0-9]+ kB \|" <<<"$mem" ||
		fail "memory table has no pod-mode row with figures for $shim"
	for metric in "ctr run --rm" "shim start command" "shim CPU, user+sys" "net of the measuring wrapper in front" \
		"shim CPU per exec" "CPU for 1000 pipelined State calls" "concurrently"; do
		grep -F "| $shim |" <<<"$speed" | grep -F "$metric" |
			grep -qE "\| [0-9]+ \| [0-9.]+ (ms|s) \|" ||
			fail "speed table has no '$metric' row with figures for $shim"
	done
done
grep -q '^| containerd-shim-runc-v2-c |' <(section Summary) || fail "no summary row for our shim"
if command -v gnuplot >/dev/null; then
	[ -s "$OUT/rss.png" ] || fail "gnuplot is installed but there is no rss.png"
fi
[ -s "$OUT/speed-failures.txt" ] && fail "failed measurements: $(head -n 3 "$OUT/speed-failures.txt")"

rm -rf "$OUT"
echo "bench smoke: quick bench took ${took}s" >&2
echo "ok bench smoke"
