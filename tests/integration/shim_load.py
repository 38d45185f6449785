#!/usr/bin/env python3
"""Load on a live shim's own socket, next to containerd.

usage: shim_load.py conns ADDRESS_FILE ID N       keep N connections open,
                                                 State on every 100th, then
                                                 wait for a line on stdin
       shim_load.py waits ADDRESS_FILE ID N C    park N Waits over C
                                                 connections; "parked" once
                                                 sent, State on another
                                                 connection must answer in
                                                 < 2 s; then every Wait must
                                                 be answered after the kill
       shim_load.py noread ADDRESS_FILE ID PID   write requests and never
                                                 read; print the shim's RSS
Prints "ok ..." or "FAIL ..." lines; exit status 1 on failure.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "daemon"))
from harness import Client, field, frame  # noqa: E402


def sock_path(address_file):
    with open(address_file) as f:
        a = f.read().strip()
    return a[len("unix://"):] if a.startswith("unix://") else a


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def conns(path, cid, n):
    cs = [Client(path) for _ in range(n)]
    for c in cs[::100]:
        code = c.call("State", field(1, cid))[0]
        if code:
            print("FAIL state on an open connection: code %d" % code)
            return 1
    print("ok %d connections open" % n, flush=True)
    sys.stdin.readline()
    code = cs[-1].call("State", field(1, cid))[0]
    for c in cs:
        c.close()
    if code:
        print("FAIL state on the last connection: code %d" % code)
        return 1
    print("ok still served")
    return 0


def waits(path, cid, n, nconn):
    cs = [Client(path, timeout=60) for _ in range(nconn)]
    sent = []
    for i in range(n):
        c = cs[i % nconn]
        sent.append((c, c.send("Wait", field(1, cid))))
    other = Client(path)
    t0 = time.time()
    code = other.call("State", field(1, cid))[0]
    dt = time.time() - t0
    if code or dt > 2:
        print("FAIL State with %d Waits parked: code %d after %.2f s" % (n, code, dt))
        return 1
    print("ok parked %d; State answered in %.3f s" % (n, dt), flush=True)
    sys.stdin.readline()  # the container is killed now
    bad = 0
    for c, st in sent:
        code, _, body = c.wait(st)
        bad += code != 0 or body.get(1, [0])[0] != 137
    if bad:
        print("FAIL %d of %d Waits wrong" % (bad, n))
        return 1
    print("ok all %d Waits answered with 137" % n)
    return 0


def noread(path, cid, pid):
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.connect(path)
    bad.setblocking(False)
    small = field(1, "containerd.task.v2.Task") + field(2, "State") + field(3, field(1, cid))
    big = field(1, "containerd.task.v2.Task") + field(2, "Connect") + \
        field(3, field(1, cid) + field(9, b"x" * ((4 << 20) - 200)))
    stream, pending, sent, k = 1, b"", 0, 0
    end = time.time() + 6
    while time.time() < end:
        if not pending:
            pending = frame(stream, small if k < 300 else big, 1)
            k += 1
            stream += 2
        try:
            n = bad.send(pending)
            pending = pending[n:]
            sent += n
        except BlockingIOError:
            time.sleep(0.05)
    rss = rss_kb(pid)
    print("ok wrote %d KiB without reading; shim RSS %d kB" % (sent >> 10, rss), flush=True)
    sys.stdin.readline()  # containerd is tried meanwhile
    bad.close()
    return 0 if rss < 16384 else (print("FAIL RSS %d kB" % rss) or 1)


def main():
    cmd, path, cid = sys.argv[1], sock_path(sys.argv[2]), sys.argv[3]
    if cmd == "conns":
        return conns(path, cid, int(sys.argv[4]))
    if cmd == "waits":
        return waits(path, cid, int(sys.argv[4]), int(sys.argv[5]))
    if cmd == "noread":
        return noread(path, cid, int(sys.argv[4]))
    return 2


if __name__ == "__main__":
    sys.exit(main())
