#!/usr/bin/env python3
"""Syscalls of a shim daemon serving 1000 pipelined State calls.

usage: tools/state_syscalls.py [N]     (SHIM=path: another build)

Starts the daemon with the fake runc of tests/daemon (one container),
writes N State requests at once on one connection, reads the N answers,
and prints the daemon's `strace -c -f` table for that stretch.  The
daemon runs with -debug (the harness's), so each call also writes one
log line: the `write` row counts those; the replies go out by `writev`.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "daemon"))
from harness import TASK, Client, Shim, field, frame  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    s = Shim()
    try:
        s.create("st1")
        s.start("st1")
        w = Client(s.sock)
        for _ in range(3):
            w.call("State", field(1, "st1"))
        out = tempfile.NamedTemporaryFile(prefix="strace.", delete=False).name
        tr = subprocess.Popen(["strace", "-c", "-f", "-p", str(s.proc.pid), "-o", out],
                              stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        first = w.stream
        req = b"".join(frame(first + 2 * i, field(1, TASK) + field(2, "State") +
                             field(3, field(1, "st1")), 1) for i in range(n))
        w.stream = first + 2 * n
        w.s.sendall(req)
        bad = sum(1 for i in range(n) if w.wait(first + 2 * i)[0] != 0)
        time.sleep(0.3)
        tr.send_signal(2)
        tr.wait()
        print("# %d pipelined State calls, %d not OK" % (n, bad))
        with open(out) as f:
            sys.stdout.write(f.read())
        os.unlink(out)
    finally:
        s.close()


if __name__ == "__main__":
    main()
