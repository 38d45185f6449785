#!/usr/bin/env bash
#
# What an upgrade in place costs (src/upgrade.c): one shim serving a pod of
# N containers, upgraded BENCH_RUNS times between two builds, under a
# private containerd.
#
#   tools/bench-upgrade.sh [N...]        (default: 1 20)
#
#   upgrade    the time from the request to the new image serving, as the
#              shim reports it to the `upgrade` command (the hold, the wait
#              for work in flight, the new binary checking the state, the
#              execve and the reading of the state), median and max;
#   pause      what a client sees: the longest gap between two answers to
#              State calls sent back to back on one connection while the
#              upgrades run (tools/state_rate.py's loop, one connection);
#   state      the size of the state written;
#   idle RSS   of the shim before the upgrades and after them (each once it
#              has been idle for 2 s): the machinery costs nothing idle, and
#              an upgraded shim is no bigger than a fresh one.
#
# Uses build/ and build/upgrade-b (make upgrade-variants).  Prints one
# line per N.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../tests/lib/containerd.sh
. tests/lib/containerd.sh
RUNS=${BENCH_RUNS:-10}
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1 20)
a=$ROOT/build/containerd-shim-runc-v2-c
b=$ROOT/build/upgrade-b/containerd-shim-runc-v2-c
make -s upgrade-variants >/dev/null || exit 1
trap ctrd_stop EXIT
ctrd_start || exit 1
make_busybox_rootfs "$CTRD_DIR/rootfs" >/dev/null || exit 1
bin=$CTRD_DIR/bin/containerd-shim-runc-v2-c
mkdir -p "$CTRD_DIR/bin"
install_as() { cp "$1" "$bin.new" && mv -f "$bin.new" "$bin"; }

for n in "${sizes[@]}"; do
	install_as "$a"
	pod=pod-$n-$$
	for i in $(seq 1 "$n"); do
		ctr_ run -d --runtime "$bin" --fifo-dir "$(ctr_fifo_dir)" \
			--annotation "io.containerd.runc.v2.group=$pod" --env PATH=/bin \
			--rootfs "$CTRD_DIR/rootfs" "$pod-$i" sleep 86400 >/dev/null ||
			{ echo "FAIL container $i of $n"; exit 1; }
	done
	sp=$(shim_pids "$pod-1")
	rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$sp/status"; }
	sleep 2
	rss0=$(rss)
	sock=$(python3 - "$sp" <<'EOF'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        t = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
for line in open("/proc/%s/net/unix" % pid).read().splitlines()[1:]:
    f = line.split()
    if len(f) >= 8 and f[5] == "01" and f[6] in inodes:
        print(f[7])
        break
EOF
)
	# a client sending State back to back, the longest gap between answers
	python3 - "$sock" "$pod-1" >"$CTRD_DIR/pause" <<'EOF' &
import os, socket, struct, sys, time
sys.path.insert(0, "tests/integration")
from ttrpc_probe import field
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = field(1, "containerd.task.v2.Task") + field(2, "State") + field(3, field(1, sys.argv[2]))
stream, worst, last, end = 1, 0.0, time.monotonic(), time.monotonic() + 3600
stop = "/proc/%d" % os.getppid()
while os.path.exists(stop) and not os.path.exists(sys.argv[1] + ".stop"):
    s.sendall(struct.pack(">IIBB", len(req), stream, 1, 0) + req)
    stream += 2
    hdr = b""
    while len(hdr) < 10:
        hdr += s.recv(10 - len(hdr))
    n = struct.unpack(">I", hdr[:4])[0]
    got = 0
    while got < n:
        got += len(s.recv(n - got))
    now = time.monotonic()
    worst = max(worst, now - last)
    last = now
print("%.2f" % (worst * 1000))
EOF
	cpid=$!
	sleep 0.5
	times=()
	for r in $(seq 1 "$RUNS"); do
		if [ $((r % 2)) -eq 1 ]; then install_as "$b"; else install_as "$a"; fi
		out=$("$bin" upgrade 2>&1) || { echo "FAIL upgrade $r: $out"; exit 1; }
		times+=("$(sed -n 's/.*upgraded in \([0-9.]*\) ms/\1/p' <<<"$out")")
		sleep 0.2
	done
	touch "$sock.stop"
	wait "$cpid"
	rm -f "$sock.stop"
	sleep 2
	rss1=$(rss)
	st=$(grep -o "state of [0-9]* bytes" "$CTRD_LOG" 2>/dev/null | tail -n 1)
	sorted=$(printf '%s\n' "${times[@]}" | sort -n)
	med=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
	max=$(tail -n 1 <<<"$sorted")
	printf 'upgrade, pod of %4d: %s ms median, %s ms max (%d runs); longest gap between State answers %s ms; %s; idle RSS %s kB before, %s kB after\n' \
		"$n" "$med" "$max" "$RUNS" "$(cat "$CTRD_DIR/pause")" "${st:-state size not logged}" "$rss0" "$rss1"
	for i in $(seq 1 "$n"); do ctr_ task kill -s KILL "$pod-$i" >/dev/null 2>&1; done
	for i in $(seq 1 "$n"); do
		for _ in $(seq 1 100); do
			ctr_ task rm "$pod-$i" >/dev/null 2>&1 && break
			sleep 0.1
		done
		ctr_ container rm "$pod-$i" >/dev/null 2>&1
	done
done
