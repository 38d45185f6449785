#!/usr/bin/env python3
"""A binary:// logger for the output matrix: fd 3 (stdout) and fd 4
(stderr) go to DIR/logger.out and DIR/logger.err; fd 5 is closed once
ready.  SIGTERM means "stop now": what it has read is written, nothing more
is read (a shim must give it every byte before it asks it to stop).
DIR/logger.done is written last.  Arguments: dir DIR (from ?dir=DIR)."""
import os
import select
import signal
import sys

args = sys.argv[1:]
d = args[args.index("dir") + 1]
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
outs = {3: open(os.path.join(d, "logger.out"), "wb", buffering=0),
        4: open(os.path.join(d, "logger.err"), "wb", buffering=0)}
os.close(5)  # ready
open_fds = [3, 4]
while open_fds and not stop:
    try:
        ready, _, _ = select.select(open_fds, [], [], 0.5)
    except InterruptedError:
        continue
    for fd in ready:
        b = os.read(fd, 65536)
        if not b:
            open_fds.remove(fd)
            continue
        outs[fd].write(b)
with open(os.path.join(d, "logger.done"), "w") as f:
    f.write("stopped by SIGTERM\n" if stop else "EOF\n")
