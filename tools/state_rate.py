#!/usr/bin/env python3
"""Pipelined State calls on a shim's socket: calls per second.

usage: state_rate.py ADDRESS_FILE CONTAINER_ID [N]

Writes N State requests at once (one buffer), reads the N answers, and
prints N divided by the time from the first byte written to the last
answer read.  Every answer must be OK for the figure to count.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from ttrpc_probe import field, parse  # noqa: E402


def main():
    with open(sys.argv[1]) as f:
        addr = f.read().strip()
    path = addr[len("unix://"):] if addr.startswith("unix://") else addr
    cid, n = sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    req = field(1, "containerd.task.v2.Task") + field(2, "State") + field(3, field(1, cid))
    buf = b"".join(struct.pack(">IIBB", len(req), 2 * i + 1, 1, 0) + req for i in range(n))
    data = b""
    t0 = time.perf_counter()
    s.sendall(buf)
    got = 0
    while got < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            sys.exit("connection closed after %d answers" % got)
        data += chunk
        while len(data) >= 10:
            length = struct.unpack(">I", data[:4])[0]
            if len(data) < 10 + length:
                break
            body = parse(data[10:10 + length])
            code = parse(body.get(1, [b""])[0]).get(1, [0])[0]
            if code:
                sys.exit("answer %d: code %d" % (got, code))
            data = data[10 + length:]
            got += 1
    dt = time.perf_counter() - t0
    print("%.0f" % (n / dt))


if __name__ == "__main__":
    main()
