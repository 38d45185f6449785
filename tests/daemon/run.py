#!/usr/bin/env python3
"""Lifecycle races and hostile clients, driven over the daemon's socket
with the fake runc (fakerunc) on its PATH.

usage: tests/daemon/run.py [-j N] [TEST...]   (SHIM=binary to test another build)
Prints "ok NAME" / "FAIL NAME: ..." and "N passed, N failed".
"""
import errno
import os
import shutil
import subprocess
import signal
import socket
import struct
import sys
import threading
import time
import traceback

from harness import (CREATED, RUNNING, STOPPED, PAUSED, SHIM, TASK, Client, Shim, field,
                     frame, parse)

passed = failed = 0


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


# ---------------------------------------------------------------- tests

def t_hostile_probe(s):
    """tests/integration/ttrpc_probe.py (bad frames, unknown methods, bad
    ids, an oversized frame, abandoned connections) against a running task."""
    import subprocess
    code, msg, _ = s.create("hp1")
    check(code == 0, "create: %d %s" % (code, msg))
    code, msg, _ = s.start("hp1")
    check(code == 0, "start: %d %s" % (code, msg))
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                         "ttrpc_probe.py")
    r = subprocess.run([sys.executable, probe, s.sock, "hp1"], capture_output=True,
                       text=True, timeout=60)
    bad = [ln for ln in r.stdout.splitlines() if not ln.startswith("ok ")]
    check(r.returncode == 0 and not bad and r.stdout.count("ok ") >= 10,
          "probe exit %d: %s" % (r.returncode, "; ".join(bad) or r.stderr[-300:]))
    code, _, status, _, _ = s.state("hp1")
    check(code == 0 and status == RUNNING, "after the probe: code %d status %d" % (code, status))


def t_stale_exec_job(s):
    """A runc exec that outlives its container lands nowhere else."""
    s.create("c1")
    s.start("c1")
    s.exec_("c1", "e1")
    s.knob("exec.delay", 1.5)
    st = s.c.send("Start", field(1, "c1") + field(2, "e1"))
    time.sleep(0.3)  # runc exec is running
    s.kill("c1")
    check(s.wait_until(lambda: s.state("c1")[2] == STOPPED), "init not stopped")
    code, msg, _ = s.delete("c1")  # waits for the exec job, then deletes
    check(code == 0, "delete: %d %s" % (code, msg))
    s.knob("exec.delay")
    for cid in ("c2", "c3"):
        code, msg, _ = s.create(cid)
        check(code == 0, "create %s: %s" % (cid, msg))
        s.start(cid)
    s.c.wait(st)  # the exec's Start was answered (either way)
    time.sleep(0.3)
    for cid in ("c2", "c3"):
        code, _, status, pid, _ = s.state(cid)
        check(code == 0 and status == RUNNING and pid > 0,
              "%s: status %d after the old exec finished" % (cid, status))
    code, msg, _ = s.kill("c3")
    check(code == 0, "kill c3: %d %s" % (code, msg))
    check(s.wait_until(lambda: "/tasks/exit" in s.events.topics("c3")),
          "no /tasks/exit for c3")
    check("/tasks/exit" not in s.events.topics("c2"), "c2 reported exited")


def t_stale_pause_job(s):
    """A Pause that completes after its container went changes nothing."""
    s.create("p1")
    s.start("p1")
    s.knob("pause.delay", 1.0)
    st = s.c.send("Pause", field(1, "p1"))
    time.sleep(0.2)
    s.kill("p1")
    check(s.wait_until(lambda: s.state("p1")[2] == STOPPED), "p1 not stopped")
    code, msg, _ = s.delete("p1")
    check(code == 0, "delete p1: %d %s" % (code, msg))
    s.knob("pause.delay")
    s.create("p2")
    s.start("p2")
    s.c.wait(st)
    time.sleep(0.2)
    check(s.state("p2")[2] == RUNNING, "p2 not running")
    check("/tasks/paused" not in s.events.topics("p2"), "/tasks/paused for p2")


def t_waits_do_not_starve(s):
    """1000 Waits on one connection: others are served, the exit goes out."""
    s.create("w1")
    s.start("w1")
    w = Client(s.sock)
    streams = [w.send("Wait", field(1, "w1")) for _ in range(1000)]
    other = Client(s.sock)
    code, _, status, _, _ = s.state("w1", client=other)
    check(code == 0 and status == RUNNING, "state on another connection: %d" % code)
    s.kill("w1", client=other)
    check(s.wait_until(lambda: "/tasks/exit" in s.events.topics("w1")),
          "no /tasks/exit")
    codes = [w.wait(x)[0] for x in streams]
    check(codes.count(0) == 1000, "waits answered ok: %d" % codes.count(0))
    check("out of memory" not in s.log().lower(), "out of memory in the log")
    w.close()
    other.close()


def t_waits_one_conn(s):
    """10 000 Waits parked on one connection (containerd multiplexes every
    call over one): a State sent behind them on that connection is answered
    while they wait; the kill answers all 10 000 with 137; fds and RSS come
    back."""
    s.create("wc1")
    s.start("wc1")
    fds0 = len(os.listdir("/proc/%d/fd" % s.proc.pid))
    rss0 = s.rss_kb()
    w = Client(s.sock, timeout=30)
    first = w.stream
    req = b"".join(frame(first + 2 * i, field(1, TASK) + field(2, "Wait") +
                         field(3, field(1, "wc1")), 1) for i in range(10000))
    w.stream = first + 2 * 10000
    t0 = time.time()
    w.s.sendall(req)  # a shim that stops reading this connection times out here
    st = w.send("State", field(1, "wc1"))
    code, msg, body = w.wait(st)  # no Wait can be answered before it
    dt = time.time() - t0
    check(code == 0 and body.get(4, [0])[0] == RUNNING,
          "State behind 10 000 Waits: %d %s" % (code, msg))
    print("# State behind 10 000 parked Waits on its connection: %.3f s" % dt)
    s.kill("wc1")
    codes = [w.wait(first + 2 * i) for i in range(10000)]
    ok = sum(1 for c, _, b in codes if c == 0 and b.get(1, [0])[0] == 137)
    check(ok == 10000, "Waits answered 137: %d of 10000 (first: %r)" % (ok, codes[0]))
    w.close()
    check(s.wait_until(lambda: len(os.listdir("/proc/%d/fd" % s.proc.pid)) <= fds0),
          "fds: %d before, %d after" % (fds0, len(os.listdir("/proc/%d/fd" % s.proc.pid))))
    rss = s.rss_kb()
    print("# shim RSS %d kB before the Waits, %d kB after" % (rss0, rss))
    check(rss < rss0 + 256, "RSS %d kB after, %d kB before" % (rss, rss0))


def t_many_waits_many_conns(s):
    """10 000 Waits parked over 10 connections; State stays prompt."""
    s.create("m1")
    s.start("m1")
    conns = [Client(s.sock) for _ in range(10)]
    streams = [[c.send("Wait", field(1, "m1")) for _ in range(1000)] for c in conns]
    time.sleep(0.5)
    other = Client(s.sock)
    t0 = time.time()
    for _ in range(20):
        code = s.state("m1", client=other)[0]
        check(code == 0, "state: %d" % code)
    dt = time.time() - t0
    check(dt < 5, "20 State calls took %.2f s" % dt)
    s.kill("m1", client=other)
    n = 0
    for c, sts in zip(conns, streams):
        for x in sts:
            n += c.wait(x)[0] == 0
    check(n == 10000, "answered %d of 10000" % n)
    rss = s.rss_kb()
    print("# 10 000 parked Waits answered; shim RSS %d kB" % rss)
    for c in conns:
        c.close()
    other.close()


def t_thousand_conns(s):
    """1000 connections open; the 1001st is served."""
    s.create("k1")
    conns = [Client(s.sock) for _ in range(1000)]
    for c in conns[::97]:
        check(s.state("k1", client=c)[0] == 0, "state on an early connection")
    last = Client(s.sock)
    check(s.state("k1", client=last)[0] == 0, "state on the 1001st connection")
    for c in conns:
        c.close()
    last.close()


def t_never_reads(s):
    """A client that writes and never reads: bounded RSS, others served.
    The bound is on growth: under qemu-user the process measured is qemu,
    whose own RSS is some 15 MiB before the shim serves anything."""
    s.create("r1")
    rss0 = s.rss_kb()
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.connect(s.sock)
    bad.setblocking(False)
    small = field(1, "containerd.task.v2.Task") + field(2, "State") + \
        field(3, field(1, "r1"))
    big = field(1, "containerd.task.v2.Task") + field(2, "Connect") + \
        field(3, field(1, "r1") + field(9, b"x" * ((4 << 20) - 200)))
    stream = 1
    sent = 0
    stop = time.time() + 8
    pending = b""
    n_small = n_big = 0
    while time.time() < stop:
        if not pending:
            if n_small < 300:
                pending = frame(stream, small, 1)
                n_small += 1
            elif n_big < 200:
                pending = frame(stream, big, 1)
                n_big += 1
            else:
                break
            stream += 2
        try:
            k = bad.send(pending)
            pending = pending[k:]
            sent += k
        except BlockingIOError:
            time.sleep(0.05)
            if s.rss_kb() > rss0 + 16384:
                break
    rss = s.rss_kb()
    print("# wrote %d MiB without reading; shim RSS %d kB (%d kB before)" %
          (sent >> 20, rss, rss0))
    check(rss < rss0 + 8192, "RSS %d kB, %d kB before" % (rss, rss0))
    other = Client(s.sock)
    code = s.state("r1", client=other)[0]
    check(code == 0, "another client: %d" % code)
    bad.close()
    other.close()
    time.sleep(0.3)
    check(s.proc.poll() is None, "shim died")


def t_create_pidfile_fails(s):
    """runc create succeeded but the pid file is bad: parked calls are
    answered and the runc container is deleted."""
    s.knob("create.delay", 0.8)
    s.knob("create.pid", "garbage")
    b = s.bundle("f1")
    cs = s.c.send("Create", field(1, "f1") + field(2, b))
    time.sleep(0.3)
    other = Client(s.sock)
    st = other.send("State", field(1, "f1"))
    code, msg, _ = s.c.wait(cs)
    check(code != 0, "create succeeded")
    code, msg, _ = other.wait(st)
    check(code == 5, "parked State: %d %s" % (code, msg))
    check(s.wait_until(lambda: any(c.split()[6:7] == ["delete"] or " delete " in c and "f1" in c
                                   for c in s.calls())),
          "runc delete not called: %r" % s.calls())
    s.knob("create.delay")
    s.knob("create.pid")
    other.close()


def t_stale_exit_not_pinned(s):
    """An orphan's exit reaped before anyone claimed its pid does not stop
    a later exec that is told the same pid."""
    s.knob("create.orphan", "")
    s.create("o1")
    s.start("o1")
    s.knob("create.orphan")
    with open(os.path.join(s.knobs, "orphan.pid")) as f:
        orphan = int(f.read())
    check(s.wait_until(lambda: not os.path.exists("/proc/%d" % orphan)),
          "orphan still there")
    time.sleep(0.2)  # reaped by the shim by now
    print("# orphan pid %d" % orphan)
    s.exec_("o1", "e1")
    s.knob("exec.pid", orphan)
    code, msg, _ = s.start("o1", "e1")
    s.knob("exec.pid")
    check(code == 0, "start: %d %s" % (code, msg))
    time.sleep(0.3)
    code, _, status, pid, _ = s.state("o1", "e1")
    check(status == RUNNING and pid == orphan, "exec status %d pid %d" % (status, pid))
    check("/tasks/exit" not in s.events.topics("o1"), "exit published for the exec")


def t_failed_exec_answers_waits(s):
    """Waits on an exec whose start fails are answered at once."""
    s.create("x1")
    s.start("x1")
    s.exec_("x1", "bad")
    w = Client(s.sock)
    ws = w.send("Wait", field(1, "x1") + field(2, "bad"))
    s.knob("exec.fail", "exec failed: no such thing")
    code, msg, _ = s.start("x1", "bad")
    s.knob("exec.fail")
    check(code != 0 and "no such thing" in msg, "start: %d %s" % (code, msg))
    w.s.settimeout(3)
    try:
        code, msg, body = w.wait(ws)
    except socket.timeout:
        raise Fail("Wait not answered")
    check(code == 0 and body.get(1, [0])[0] == 255, "wait: %d %r" % (code, body))
    check(s.delete("x1", "bad")[0] == 0, "delete of the failed exec")
    w.close()


def t_caps(s):
    """65 containers with a connection each, and 200 execs with piped
    stdout and stderr, in one shim."""
    conns = []
    for i in range(65):
        c = Client(s.sock)
        conns.append(c)
        code, msg, _ = s.create("cap%d" % i, client=c)
        check(code == 0, "container %d: %d %s" % (i, code, msg))
        check(s.start("cap%d" % i, client=c)[0] == 0, "start %d" % i)
    out = os.path.join(s.dir, "out")
    os.makedirs(out)
    for i in range(200):
        code, msg, _ = s.exec_("cap0", "e%d" % i, args=("sleep", "86400"),
                               stdout=os.path.join(out, "o%d" % i),
                               stderr=os.path.join(out, "e%d" % i))
        check(code == 0, "exec %d: %s" % (i, msg))
        code, msg, _ = s.start("cap0", "e%d" % i)
        check(code == 0, "exec start %d: %d %s" % (i, code, msg))
    for c in conns:
        c.close()


def gone_or_zombie(pid):
    """The process has exited: reaped, or a zombie.  (It can be reaped
    between any two looks at /proc: a read that fails means gone.)"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def t_deadline(s):
    """timeout_nano: a parked Wait and a slow runc job get
    DEADLINE_EXCEEDED; the job's runc is killed."""
    s.create("d1")
    s.start("d1")
    code, msg, _ = s.c.call("Wait", field(1, "d1"), timeout_nano=300_000_000)
    check(code == 4, "wait: %d %s" % (code, msg))
    s.knob("pause.delay", 30)
    t0 = time.time()
    code, msg, _ = s.c.call("Pause", field(1, "d1"), timeout_nano=500_000_000)
    dt = time.time() - t0
    s.knob("pause.delay")
    check(code == 4 and dt < 5, "pause: %d %s after %.1f s" % (code, msg, dt))
    with open(os.path.join(s.knobs, "pause.running")) as f:
        pid = int(f.read().split()[0])
    check(s.wait_until(lambda: gone_or_zombie(pid), 5), "runc pause still running")
    check(s.state("d1")[2] == RUNNING, "state after the killed pause")
    check(s.state("d1")[0] == 0, "shim still serves")


def t_logger_fds(s):
    """The binary:// logger gets /dev/null as 0-2, its pipes as 3-5 and no
    other fd; closing 5 is its ready signal."""
    logger = os.path.join(s.dir, "logger.py")
    report = os.path.join(s.dir, "fds")
    with open(logger, "w") as f:
        f.write("#!/usr/bin/env python3\nimport os\nd = '/proc/self/fd/'\n"
                "fds = {}\nfor n in os.listdir(d):\n"
                "    try:\n        fds[n] = os.readlink(d + n)\n"
                "    except OSError:\n        pass\n"
                "with open(%r, 'w') as f:\n"
                "    for n, t in fds.items():\n        f.write('%%s -> %%s\\n' %% (n, t))\n"
                "os.close(5)\nwhile os.read(3, 65536):\n    pass\n" % (report + ".tmp"))
        f.write("")
    os.chmod(logger, 0o755)
    code, msg, _ = s.create("l1", stdout="binary://" + logger)
    check(code == 0, "create: %s" % msg)
    check(s.wait_until(lambda: os.path.exists(report + ".tmp")), "logger did not run")
    time.sleep(0.2)
    fds = {}
    for line in open(report + ".tmp").read().splitlines():
        n, _, t = line.partition(" -> ")
        if not t.startswith("/proc/") and t != report + ".tmp" and t != logger:
            fds[int(n)] = t
    for i in (0, 1, 2):
        check(fds.get(i) == "/dev/null", "fd %d is %s" % (i, fds.get(i)))
    for i in (3, 4, 5):
        check(fds.get(i, "").startswith("pipe:"), "fd %d is %s" % (i, fds.get(i)))
    extra = sorted(k for k in fds if k > 5)
    check(not extra, "extra fds %r" % {k: fds[k] for k in extra})


def t_no_pivot(s):
    """NoPivotRoot and NoNewKeyring reach runc create, NoPivotRoot runc
    restore too."""
    opts = field(1, 1) + field(2, 1)
    code, msg, _ = s.create("np1", options=opts)
    check(code == 0, "create: %s" % msg)
    create = [c for c in s.calls() if " create " in c and c.endswith(" np1")]
    check(create and "--no-pivot" in create[0] and "--no-new-keyring" in create[0],
          "runc create argv: %r" % create)
    code, msg, _ = s.create("np2", options=opts, checkpoint=os.path.join(s.dir, "img"))
    check(code == 0, "create from a checkpoint: %s" % msg)
    code, msg, _ = s.start("np2")
    check(code == 0, "start (restore): %s" % msg)
    restore = [c for c in s.calls() if " restore " in c]
    check(restore and "--no-pivot" in restore[0], "runc restore argv: %r" % restore)
    code, msg, _ = s.create("np3")
    plain = [c for c in s.calls() if " create " in c and c.endswith(" np3")]
    check(plain and "--no-pivot" not in plain[0], "defaults: %r" % plain)


def t_exec_pidfile_removed(s):
    """An exec's pid file goes with the exec."""
    s.create("pf1")
    s.start("pf1")
    s.exec_("pf1", "probe", args=("true",))
    code, msg, _ = s.start("pf1", "probe")
    check(code == 0, "exec start: %s" % msg)
    pidfile = os.path.join(s.dir, "b", "pf1", "probe.pid")
    check(os.path.exists(pidfile), "no pid file while the exec lives")
    check(s.wait_until(lambda: s.state("pf1", "probe")[2] == STOPPED), "exec not stopped")
    code, msg, _ = s.delete("pf1", "probe")
    check(code == 0, "exec delete: %s" % msg)
    check(not os.path.exists(pidfile), "pid file left after the exec's delete")


def t_exec_spec_in_memfd(s):
    """An exec's process.json reaches runc in a memfd as its fd 3: no file
    is written for it, in XDG_RUNTIME_DIR or anywhere, and fd 3 is closed
    in the shim once runc has it."""
    xdg = os.path.join(s.dir, "..", os.path.basename(s.dir) + ".xdg")
    os.mkdir(xdg)
    s2 = Shim(env={"XDG_RUNTIME_DIR": xdg})
    try:
        s2.create("mf1")
        s2.start("mf1")
        before = set(os.listdir(os.path.join("/proc", str(s2.proc.pid), "fd")))
        for k in range(3):
            code, msg, _ = s2.exec_("mf1", "e%d" % k, args=("sh", "-c", "exit %d" % (k + 3)))
            check(code == 0, "exec: %s" % msg)
            code, msg, _ = s2.start("mf1", "e%d" % k)
            check(code == 0, "exec start: %s" % msg)
            check(s2.wait_until(lambda: s2.state("mf1", "e%d" % k)[2] == STOPPED),
                  "exec %d not stopped" % k)
            check(s2.state("mf1", "e%d" % k)[4] == k + 3, "exec %d exit status" % k)
            check(s2.delete("mf1", "e%d" % k)[0] == 0, "exec delete")
        seen = open(os.path.join(s2.knobs, "exec.process")).read().split("\n")
        seen = [l for l in seen if l]
        check(len(seen) == 3, "runc exec calls: %r" % seen)
        for l in seen:
            path, what = l.split(" ", 1)
            check(path == "/proc/self/fd/3" and what.startswith("/memfd:runc-process"),
                  "runc's process.json: %r" % l)
        check(os.listdir(xdg) == [], "files left in XDG_RUNTIME_DIR: %r" % os.listdir(xdg))
        after = set(os.listdir(os.path.join("/proc", str(s2.proc.pid), "fd")))
        check(after == before, "the shim's fds before %r after %r" % (sorted(before), sorted(after)))
    finally:
        s2.close()
        shutil.rmtree(xdg, ignore_errors=True)


def t_file_log_dirs(s):
    """file:// output into a folder that does not exist yet: made 0755,
    the file 0644."""
    path = os.path.join(s.dir, "logs", "deep", "er", "out.log")
    code, msg, _ = s.create("fl1", stdout="file://" + path, args=("echo", "hi"))
    check(code == 0, "create: %s" % msg)
    check(os.path.exists(path), "no log file")
    mode = os.stat(path).st_mode & 0o777
    dmode = os.stat(os.path.dirname(path)).st_mode & 0o777
    check(mode == 0o644 and dmode == 0o755, "modes file %o folder %o" % (mode, dmode))
    s.start("fl1")
    check(s.wait_until(lambda: open(path).read() == "hi\n"), "log: %r" % open(path).read())


def t_checkpoint_workdir(s):
    """A checkpoint work folder the client chose is kept; the shim's own
    is removed."""
    s.create("ck1")
    s.start("ck1")
    work = os.path.join(s.dir, "mywork")
    opts = field(8, os.path.join(s.dir, "image")) + field(9, work)
    anyv = field(1, "containerd.runc.v1.CheckpointOptions") + field(2, opts)
    code, msg, _ = s.c.call("Checkpoint", field(1, "ck1") + field(3, anyv))
    check(code == 0, "checkpoint: %d %s" % (code, msg))
    check(os.path.exists(os.path.join(work, "dump.log")), "the client's work folder is gone")
    opts = field(8, os.path.join(s.dir, "image2"))
    anyv = field(1, "containerd.runc.v1.CheckpointOptions") + field(2, opts)
    code, msg, _ = s.c.call("Checkpoint", field(1, "ck1") + field(3, anyv))
    check(code == 0, "checkpoint: %d %s" % (code, msg))
    own = os.path.join(s.dir, "b", "ck1", "work", "criu-work")
    check(not os.path.exists(own), "the shim's own work folder is left")


def t_checkpoint_states(s):
    """Checkpoint as the Go shim allows it: running and paused tasks (a
    paused one stays paused), not created or stopped ones; a failed dump
    keeps criu's log as <bundle>/criu-dump.log and names it."""
    anyv = field(1, "containerd.runc.v1.CheckpointOptions") + field(
        2, field(8, os.path.join(s.dir, "image")))
    ck = lambda cid: s.c.call("Checkpoint", field(1, cid) + field(3, anyv))
    s.create("cs1")
    code, msg, _ = ck("cs1")
    check(code != 0 and "cannot checkpoint a task in created state" in msg,
          "created: %d %s" % (code, msg))
    s.start("cs1")
    code, msg, _ = ck("cs1")
    check(code == 0, "running: %d %s" % (code, msg))
    code, msg, _ = s.c.call("Pause", field(1, "cs1"))
    check(code == 0, "pause: %s" % msg)
    code, msg, _ = ck("cs1")
    check(code == 0, "paused: %d %s" % (code, msg))
    check(s.state("cs1")[2] == PAUSED, "not paused after the checkpoint")
    s.c.call("Resume", field(1, "cs1"))
    s.knob("checkpoint.fail", "criu failed: type DUMP errno 0")
    code, msg, _ = ck("cs1")
    s.knob("checkpoint.fail")
    log = os.path.join(s.dir, "b", "cs1", "criu-dump.log")
    check(code != 0 and "criu failed" in msg and ("path= " + log) in msg,
          "failed dump: %d %s" % (code, msg))
    check(os.path.exists(log) and "criu failed" in open(log).read(), "no criu-dump.log")
    check(s.state("cs1")[2] == RUNNING, "not running after a failed dump")
    s.kill("cs1")
    check(s.wait_until(lambda: s.state("cs1")[2] == STOPPED), "not stopped")
    code, msg, _ = ck("cs1")
    check(code != 0 and "cannot checkpoint a stopped container" in msg,
          "stopped: %d %s" % (code, msg))


def t_restore_fails_quietly(s):
    """A failed runc restore: its error is the answer to Start, and never
    reaches the container's own output (the copies start only once runc
    has succeeded, as the Go shim's do)."""
    out, err = os.path.join(s.dir, "out.log"), os.path.join(s.dir, "err.log")
    code, msg, _ = s.create("rf1", stdout="file://" + out, stderr="file://" + err,
                            checkpoint=os.path.join(s.dir, "img"))
    check(code == 0, "create from a checkpoint: %s" % msg)
    s.knob("restore.fail", "criu failed: type RESTORE errno 0")
    code, msg, _ = s.start("rf1")
    s.knob("restore.fail")
    check(code != 0 and "criu failed" in msg, "start: %d %s" % (code, msg))
    text = open(out).read() + open(err).read()
    check("criu failed" not in text, "runc's error reached the output: %r" % text)
    code, msg, _ = s.delete("rf1")
    check(code == 0, "delete after a failed restore: %s" % msg)
    code, msg, _ = s.create("rf2", stdout="file://" + out, args=("echo", "restored"),
                            checkpoint=os.path.join(s.dir, "img"))
    check(code == 0, "create: %s" % msg)
    code, msg, _ = s.start("rf2")
    check(code == 0, "restore: %s" % msg)
    check(s.wait_until(lambda: "restored" in open(out).read()),
          "a restored process's output is not copied: %r" % open(out).read())


def _tmpfs(s, size):
    d = os.path.join(s.dir, "small")
    os.makedirs(d, exist_ok=True)
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", d]) != 0:
        raise Fail("cannot mount a tmpfs")
    return d


def _fill(d):
    """Fill the filesystem of d; returns the filler's path."""
    path = os.path.join(d, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError as e:
        check(e.errno == errno.ENOSPC, "filling: %s" % e)
    finally:
        os.close(fd)
    return path


def t_log_full_disk(s):
    """A file:// log on a full disk: the container is not blocked (its
    output is drained and dropped, counted, logged once), the shim serves,
    and what it writes once space is back is in the log."""
    d = _tmpfs(s, "64k")
    log = os.path.join(d, "out.log")
    count = os.path.join(s.dir, "count")
    # 1 KiB a line, 100 lines a second: a blocked pipe would stop it in 1 s
    script = ('i=0; pad=$(head -c 1000 /dev/zero | tr "\\0" x); while :; do i=$((i+1)); '
              'echo "line $i $pad"; echo $i > %s.tmp; mv %s.tmp %s; sleep 0.01; done'
              % (count, count, count))
    filler = _fill(d)
    code, msg, _ = s.create("lf1", stdout="file://" + log, args=("sh", "-c", script))
    check(code == 0, "create: %s" % msg)
    s.start("lf1")
    n = lambda: int(open(count).read() or 0) if os.path.exists(count) else 0
    check(s.wait_until(lambda: n() > 50), "the container does not run: %d" % n())
    at = n()
    time.sleep(2)
    check(n() > at + 100, "the container is blocked on a full log: %d, 2 s later %d" % (at, n()))
    check(s.state("lf1")[2] == RUNNING, "State on a full log")
    check(s.log().count("dropping the output") == 1, "the drop is not logged once: %r" %
          [l for l in s.log().splitlines() if "dropping" in l])
    os.unlink(filler)
    freed = n()
    def later_line():
        for line in open(log, errors="replace"):
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "line" and parts[1].isdigit() and int(parts[1]) > freed + 20:
                return True
        return False
    check(s.wait_until(later_line, 10), "nothing written after space came back")
    again = [l for l in s.log().splitlines() if "written again;" in l]
    check(len(again) == 1, "the end of the drop is not logged once: %r" % again)
    dropped = int(again[0].split("; ")[1].split()[0])
    print("# full log: %d bytes dropped, then written again" % dropped)
    check(dropped > 100000, "dropped %d bytes in 2 s of 100 KB/s" % dropped)
    s.kill("lf1")
    check(s.wait_until(lambda: s.state("lf1")[2] == STOPPED), "not stopped")


def _run_start(s, cwd, ns, cid, **kw):
    """The shim's `start` in the bundle cwd, run as containerd runs it,
    with s's fake runc and events socket."""
    env = dict(os.environ, PATH=s.bin + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
               FAKE_RUNC_DIR=s.knobs, TTRPC_ADDRESS=s.events.path)
    argv = [SHIM, "-namespace", ns, "-id", cid, "-address", s.dir + "/containerd.sock", "start"]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=30,
                          **kw)


def t_start_full_bundle(s):
    """`start` in a bundle on a full filesystem: the error says ENOSPC
    (not "I/O error"), nothing is left behind, and the next start and
    Create work."""
    d = _tmpfs(s, "16k")
    filler = _fill(d)
    ns = "fullb%d" % os.getpid()
    p = _run_start(s, d, ns, "fb1")
    check(p.returncode != 0, "start on a full bundle succeeded: %r" % p.stdout)
    check("No space left on device" in p.stderr, "start's error: %r" % p.stderr)
    check(not os.path.exists(os.path.join(d, "address")), "an address file is left")
    os.unlink(filler)
    p = _run_start(s, d, ns, "fb1")
    check(p.returncode == 0, "start after space came back: %r" % p.stderr)
    addr = p.stdout.strip()
    check(addr.startswith("unix://"), "address %r" % addr)
    c = Client(addr[len("unix://"):])
    try:
        b = s.bundle("fb1")
        code, msg, _ = c.call("Create", field(1, "fb1") + field(2, b))
        check(code == 0, "create after a full bundle: %s" % msg)
        c.call("Kill", field(1, "fb1") + field(3, 9))
        check(s.wait_until(lambda: c.call("State", field(1, "fb1"))[2].get(4, [0])[0] == STOPPED),
              "not stopped")
        c.call("Delete", field(1, "fb1"))
        c.call("Shutdown", field(1, "fb1"))
    finally:
        c.close()


def t_start_oom_score(s):
    """`start` gives the daemon its parent's oom_score_adj plus one (the
    daemon inherits it from `start`, which has its parent's), and 1000 at
    most."""
    for parent, want in ((5, 6), (1000, 1000)):
        d = os.path.join(s.dir, "oom%d" % parent)
        os.makedirs(d, exist_ok=True)
        def as_parent(score=parent):
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(score))
        p = _run_start(s, d, "oom%d" % os.getpid(), "os%d" % parent, preexec_fn=as_parent)
        check(p.returncode == 0, "start: %r" % p.stderr)
        c = Client(p.stdout.strip()[len("unix://"):])
        try:
            code, msg, resp = c.call("Connect", field(1, "os%d" % parent))
            check(code == 0, "connect: %s" % msg)
            pid = resp.get(1, [0])[0]
            check(pid > 0, "no shim pid")
            got = int(open("/proc/%d/oom_score_adj" % pid).read())
            check(got == want, "parent %d: daemon's oom_score_adj %d, want %d" % (parent, got, want))
            c.call("Shutdown", field(1, "os%d" % parent))
        finally:
            c.close()


def t_created_exit_published(s):
    """A created, never started init that dies: /tasks/exit is published."""
    s.create("ce1")
    pid = s.state("ce1")[3]
    check(pid > 0, "no pid")
    os.kill(pid, 9)
    check(s.wait_until(lambda: "/tasks/exit" in s.events.topics("ce1")),
          "no /tasks/exit: %r" % s.events.topics("ce1"))
    code, _, status, _, exit_status = s.state("ce1")
    check(status == STOPPED and exit_status == 137, "state %d exit %d" % (status, exit_status))


def t_sched_core(s):
    """SCHED_CORE=1: the daemon asks for a core-scheduling cookie for its
    process group before spawning anything, and carries on where the kernel
    has none."""
    trace = os.path.join(s.dir, "..", os.path.basename(s.dir) + ".prctl")
    s2 = Shim(env={"SCHED_CORE": "1"}, wrap=("strace", "-f", "-e", "trace=prctl", "-o", trace))
    try:
        code, msg, _ = s2.create("sc1")
        check(code == 0, "create under SCHED_CORE: %s" % msg)
        check(s2.start("sc1")[0] == 0, "start")
        text = open(trace).read()
        check("PR_SCHED_CORE" in text and "PR_SCHED_CORE_CREATE" in text,
              "no PR_SCHED_CORE_CREATE in %r" % text[:300])
        first_spawn = text.find("PR_SET_PDEATHSIG")
        check(first_spawn < 0 or text.find("PR_SCHED_CORE") < first_spawn,
              "cookie made after a child was spawned")
        # an upgrade in place keeps the cookie: the new image makes none
        code, msg, _ = _upgrade(s2)
        check(code == 0, "upgrade: %d %s" % (code, msg))
        check(s2.state("sc1")[2] == RUNNING, "not running after the upgrade")
        text = open(trace).read()
        check(text.count("PR_SCHED_CORE_CREATE") == 1,
              "%d cookies made" % text.count("PR_SCHED_CORE_CREATE"))
    finally:
        s2.close()
        os.unlink(trace)


def t_paused_killed_resumed(s):
    """An init that dies while paused: the shim thaws the container (runc
    resume) and Delete succeeds."""
    s.create("pk1")
    s.start("pk1")
    code, msg, _ = s.c.call("Pause", field(1, "pk1"))
    check(code == 0 and s.state("pk1")[2] == PAUSED, "pause: %d %s" % (code, msg))
    os.kill(s.state("pk1")[3], 9)
    check(s.wait_until(lambda: s.state("pk1")[2] == STOPPED), "not stopped")
    check(s.wait_until(lambda: any(" resume pk1" in c for c in s.calls())),
          "no runc resume after the exit: %r" % s.calls()[-3:])
    code, msg, _ = s.delete("pk1")
    check(code == 0, "delete: %d %s" % (code, msg))


def t_stats_after_exit(s):
    """Stats of an exited task come from the cgroup it had, not NOT_FOUND."""
    s.create("st1")
    s.start("st1")
    code, msg, body = s.c.call("Stats", field(1, "st1"))
    check(code == 0, "stats while running: %d %s" % (code, msg))
    s.kill("st1")
    check(s.wait_until(lambda: s.state("st1")[2] == STOPPED), "not stopped")
    code, msg, body = s.c.call("Stats", field(1, "st1"))
    check(code == 0 and body.get(1), "stats after exit: %d %s" % (code, msg))


def t_mount_target(s):
    """A Mount with a Target lands at that sub-path of the rootfs, resolved
    inside it (a target that climbs out stays in); Delete unmounts it."""
    lower = os.path.join(s.dir, "lower")
    other = os.path.join(s.dir, "other")
    os.makedirs(os.path.join(lower, "sub", "dir"))
    os.makedirs(other)
    open(os.path.join(other, "marker"), "w").close()
    b = s.bundle("mt1")
    mounts = field(3, field(1, "bind") + field(2, lower) + field(4, "rbind")) + \
        field(3, field(1, "bind") + field(2, other) + field(3, "/sub/dir") + field(4, "rbind"))
    code, msg, _ = s.c.call("Create", field(1, "mt1") + field(2, b) + mounts)
    check(code == 0, "create: %d %s" % (code, msg))
    rootfs = os.path.join(b, "rootfs")
    check(os.path.exists(os.path.join(rootfs, "sub", "dir", "marker")),
          "the second mount is not at its target")
    check(not os.path.exists(os.path.join(lower, "marker")) or True, "")
    s.kill("mt1")
    check(s.wait_until(lambda: s.state("mt1")[2] == STOPPED), "not stopped")
    check(s.delete("mt1")[0] == 0, "delete")
    mounted = open("/proc/self/mountinfo").read()
    check(rootfs not in mounted, "mounts left under %s" % rootfs)
    # a target that climbs out of the rootfs is resolved inside it
    outside = os.path.join(s.dir, "outside")
    os.makedirs(outside)
    rel = "/../../../../../.." + outside
    mounts = field(3, field(1, "bind") + field(2, lower) + field(4, "rbind")) + \
        field(3, field(1, "bind") + field(2, other) + field(3, rel) + field(4, "rbind"))
    # the mounts made go before the error is answered (containerd removes
    # the bundle then): looked at the moment the answer comes, many times
    # over, as a late unmount is a race
    for i in range(40):
        b2 = s.bundle("mtf%d" % i)
        code, msg, _ = s.c.call("Create", field(1, "mtf%d" % i) + field(2, b2) + mounts)
        left = os.path.join(b2, "rootfs") in open("/proc/self/mountinfo").read()
        check(code != 0, "a target outside the rootfs was mounted")
        check(not os.path.exists(os.path.join(outside, "marker")), "mounted outside the rootfs")
        check(not left, "a failed create left mounts when it answered (try %d)" % i)
    # the same when runc create is what fails
    s.knob("create.fail", "container_linux.go: no such thing")
    one = field(3, field(1, "bind") + field(2, lower) + field(4, "rbind"))
    for i in range(8):
        b2 = s.bundle("mtr%d" % i)
        code, msg, _ = s.c.call("Create", field(1, "mtr%d" % i) + field(2, b2) + one)
        left = os.path.join(b2, "rootfs") in open("/proc/self/mountinfo").read()
        check(code != 0 and "no such thing" in msg, "create: %d %s" % (code, msg))
        check(not left, "a failed runc create left mounts when it answered (try %d)" % i)
    s.knob("create.fail")


def logger_script(s, name, body):
    path = os.path.join(s.dir, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def t_logger_ready(s):
    """Create waits for a binary:// logger to close fd 5 (calls about the
    container wait with it); a logger that cannot start fails Create."""
    slow = logger_script(s, "slow.sh", "sleep 0.6; sleep 0.6\nexec 5>&-\nexec cat <&3 >/dev/null\n")
    t0 = time.time()
    cs = s.c.send("Create", field(1, "lg1") + field(2, s.bundle("lg1")) +
                  field(6, "binary://" + slow))
    time.sleep(0.3)
    other = Client(s.sock)
    st = other.send("State", field(1, "lg1"))
    code, msg, _ = s.c.wait(cs)
    dt = time.time() - t0
    check(code == 0 and dt >= 1.0, "create: %d %s after %.2f s" % (code, msg, dt))
    code, _, body = other.wait(st)
    check(code == 0 and body.get(4, [0])[0] == CREATED, "State during the wait: %d %r" % (code, body))
    created = [c for c in s.calls() if " create " in c]
    check(len(created) == 1, "runc create calls: %r" % created)
    other.close()
    code, msg, _ = s.create("lg2", stdout="binary://" + os.path.join(s.dir, "no-such-logger"))
    check(code != 0 and "no-such-logger" in s.log() and ("No such file" in msg or "not found" in msg),
          "missing logger: %d %s" % (code, msg))


def t_logger_v2(s):
    """binary-v2:// (containerd 2.2+): the logger is ready only once it
    writes a byte to fd 5; one that closes fd 5 (or exits) without it fails
    the Create with containerd's words, and runc create never runs.  The
    legacy binary:// takes the bare close as ready."""
    good = logger_script(s, "v2.sh", "printf x >&5\nexec 5>&-\nexec cat <&3 >/dev/null\n")
    bare = logger_script(s, "bare.sh", "exec 5>&-\nexec cat <&3 >/dev/null\n")
    code, msg, _ = s.create("v2a", stdout="binary-v2://" + good + "?-x=1")
    check(code == 0, "binary-v2 logger that signals: %d %s" % (code, msg))
    code, msg, _ = s.create("v2b", stdout="binary-v2://" + bare)
    check(code != 0 and "did not call ready" in msg, "bare close under v2: %d %s" % (code, msg))
    check(not [c for c in s.calls() if " create " in c and c.endswith(" v2b")],
          "runc create ran for a failed logger")
    check(s.state("v2b")[0] == 5, "the failed container was not removed")
    code, msg, _ = s.create("v2c", stdout="binary://" + bare)
    check(code == 0, "bare close under binary://: %d %s" % (code, msg))


def t_logger_killed(s):
    """A logger that ignores SIGTERM is SIGKILLed 12 s after its process
    is deleted."""
    mark = os.path.join(s.dir, "term")
    stubborn = logger_script(s, "stubborn.sh",
                             "trap 'echo term >> %s' TERM\necho $$ > %s.pid\nexec 5>&-\n"
                             "while :; do sleep 0.2; done\n" % (mark, mark))
    code, msg, _ = s.create("lk1", stdout="binary://" + stubborn)
    check(code == 0, "create: %s" % msg)
    s.start("lk1")
    check(s.wait_until(lambda: os.path.exists(mark + ".pid")), "logger did not start")
    pid = int(open(mark + ".pid").read())
    s.kill("lk1")
    check(s.wait_until(lambda: s.state("lk1")[2] == STOPPED), "not stopped")
    check(s.delete("lk1")[0] == 0, "delete")
    check(s.wait_until(lambda: os.path.exists(mark), 5), "no SIGTERM")
    t0 = time.time()
    gone = s.wait_until(lambda: not os.path.exists("/proc/%d" % pid), 20)
    check(gone, "logger %d still alive 20 s after its SIGTERM" % pid)
    check(time.time() - t0 >= 8, "SIGKILL came too early")


def t_cri_toml_options(s):
    """CRI's runtimeoptions.v1.Options (the handler's table as TOML) for a
    runtime type that is not io.containerd.runc.v2: its runc options are
    used; an unknown key, or an options type that is not runc's, is
    INVALID_ARGUMENT."""
    wrapper = os.path.join(s.bin, "runc-wrapper")
    os.symlink(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakerunc"), wrapper)
    body = ('# from the CRI handler\nBinaryName = "%s"\nNoPivotRoot = true\n'
            "SystemdCgroup = false\nIoUid = 0\nCriuWorkPath = 'w'\n" % wrapper)
    ro = field(1, "io.containerd.runc.v2-c") + field(3, body)
    anyv = field(1, "runtimeoptions.v1.Options") + field(2, ro)
    code, msg, _ = s.c.call("Create", field(1, "to1") + field(2, s.bundle("to1")) + field(10, anyv))
    check(code == 0, "create: %d %s" % (code, msg))
    create = [c for c in s.calls() if " create " in c and c.endswith(" to1")]
    check(create and "--no-pivot" in create[0], "runc create argv: %r" % create)
    check(os.path.exists(os.path.join(s.dir, "b", "to1", "runtime")) and
          open(os.path.join(s.dir, "b", "to1", "runtime")).read() == wrapper,
          "BinaryName not used")
    ro = field(3, 'Bogus = "x"\n')
    anyv = field(1, "runtimeoptions.v1.Options") + field(2, ro)
    code, msg, _ = s.c.call("Create", field(1, "to2") + field(2, s.bundle("to2")) + field(10, anyv))
    check(code == 3 and "Bogus" in msg, "unknown key: %d %s" % (code, msg))
    anyv = field(1, "example.com/some.Other") + field(2, b"\x08\x01")
    code, msg, _ = s.c.call("Create", field(1, "to3") + field(2, s.bundle("to3")) + field(10, anyv))
    check(code == 3 and "some.Other" in msg, "unknown type: %d %s" % (code, msg))
    anyv = field(1, "containerd.runc.v1.Options")
    code, msg, _ = s.c.call("Create", field(1, "to4") + field(2, s.bundle("to4")) + field(10, anyv))
    check(code == 0, "runc options, all defaults: %d %s" % (code, msg))
    # the table in a file (ctr's --runtime-config-path): read from there
    cfg = os.path.join(s.dir, "runtime.toml")
    with open(cfg, "w") as f:
        f.write('NoNewKeyring = true\nBinaryName = "%s"\n' % wrapper)
    anyv = field(1, "runtimeoptions.v1.Options") + field(2, field(2, cfg))
    code, msg, _ = s.c.call("Create", field(1, "to5") + field(2, s.bundle("to5")) + field(10, anyv))
    check(code == 0, "options file: %d %s" % (code, msg))
    create = [c for c in s.calls() if " create " in c and c.endswith(" to5")]
    check(create and "--no-new-keyring" in create[0], "runc create argv: %r" % create)
    check(open(os.path.join(s.dir, "b", "to5", "runtime")).read() == wrapper,
          "BinaryName of the file not used")
    anyv = field(1, "runtimeoptions.v1.Options") + field(2, field(2, cfg + ".missing"))
    code, msg, _ = s.c.call("Create", field(1, "to6") + field(2, s.bundle("to6")) + field(10, anyv))
    check(code == 3 and "No such file" in msg, "missing options file: %d %s" % (code, msg))


def t_info_options(s):
    """-info reports the runtime options in effect, and this shim's own
    version."""
    import subprocess
    from harness import SHIM, WRAP
    opts = field(1, 1) + field(6, "runc")
    anyv = field(1, "containerd.runc.v1.Options") + field(2, opts)
    out = subprocess.run(list(WRAP) + [SHIM, "-info"], input=anyv, capture_output=True, timeout=30)
    check(out.returncode == 0, "exit %d: %s" % (out.returncode, out.stderr[:200]))
    info = parse(out.stdout)
    ver = parse(info.get(2, [b""])[0])
    check(ver.get(1) and ver.get(1)[0] != b"", "no version: %r" % ver)
    got = parse(info.get(3, [b""])[0])
    check(got.get(1) == [b"containerd.runc.v1.Options"] and got.get(2) == [opts],
          "options: %r" % got)


def mount_field(mtype, source, options, target=""):
    m = field(1, mtype) + field(2, source)
    if target:
        m += field(3, target)
    for o in options:
        m += field(4, o)
    return field(3, m)


def mounted_at(path):
    """The filesystem type mounted at path (the topmost), or None."""
    fstype = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            a, b = line.split(" - ", 1)
            if a.split()[4] == path:
                fstype = b.split()[0]
    return fstype


def t_fuse_mount(s):
    """A fuse3.fuse-overlayfs rootfs is mounted by the mount.fuse3 helper,
    which runs as a job: a slow helper keeps no other call waiting, the
    container's own calls wait for its Create.  Delete unmounts it; a
    helper that fails fails the Create with its output."""
    import shutil
    if not shutil.which("mount.fuse3") or not shutil.which("fuse-overlayfs"):
        print("# skip: no mount.fuse3 / fuse-overlayfs (make deps)")
        return
    s.create("other")
    lower, upper, work = (os.path.join(s.dir, d) for d in ("lower", "upper", "work"))
    for d in (lower, upper, work):
        os.makedirs(d)
    open(os.path.join(lower, "from-lower"), "w").close()
    # a helper that takes its time (a slow FUSE daemon start)
    helper = os.path.join(s.bin, "mount.fuse3")
    with open(helper, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" >>%s/helper.args\nsleep 0.7\n"
                "exec /usr/sbin/mount.fuse3 \"$@\"\n" % s.dir)
    os.chmod(helper, 0o755)
    b = s.bundle("fu1")
    opts = ["lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work]
    st = s.c.send("Create", field(1, "fu1") + field(2, b) +
                  mount_field("fuse3.fuse-overlayfs", "overlay", opts))
    other = Client(s.sock)
    # answered while the helper runs: the loop does not wait for it
    code, _, _, _, _ = s.state("other", client=other)
    check(code == 0, "state of another container: %d" % code)
    check(st not in s.c.got, "Create answered before the helper ran")
    code, msg, _ = s.c.wait(st)
    check(code == 0, "create: %d %s" % (code, msg))
    rootfs = os.path.join(b, "rootfs")
    check(mounted_at(rootfs) == "fuse.fuse-overlayfs", "mounted: %r" % mounted_at(rootfs))
    check(os.path.exists(os.path.join(rootfs, "from-lower")), "lower layer not seen")
    args = open(os.path.join(s.dir, "helper.args")).read().split()
    check(args[:2] == ["overlay", rootfs] and args[-2:] == ["-t", "fuse-overlayfs"] and
          "-o" in args, "helper argv: %r" % args)
    check(s.state("fu1")[0] == 0, "state of the new container")
    check(s.kill("fu1")[0] == 0, "kill")
    check(s.wait_until(lambda: s.state("fu1")[2] == STOPPED), "not stopped")
    check(s.delete("fu1")[0] == 0, "delete")
    check(mounted_at(rootfs) is None, "still mounted after delete")
    # the helper fails: its words reach the caller, nothing stays mounted
    b2 = s.bundle("fu2")
    code, msg, _ = s.c.call("Create", field(1, "fu2") + field(2, b2) + mount_field(
        "fuse3.fuse-overlayfs", "overlay", ["lowerdir=" + s.dir + "/missing",
                                            "upperdir=" + upper, "workdir=" + work]))
    check(code != 0 and "mount helper" in msg, "failed helper: %d %s" % (code, msg))
    check(mounted_at(os.path.join(b2, "rootfs")) is None, "a failed create left a mount")
    check(s.state("fu2")[0] == 5, "the failed container was not removed")
    other.close()


def loops_of(path):
    out = []
    for d in os.listdir("/sys/block"):
        try:
            with open("/sys/block/%s/loop/backing_file" % d) as f:
                if f.read().strip() == path:
                    out.append(d)
        except OSError:
            pass
    return out


def t_loop_mount(s):
    """The `loop` option: an ext4 image is attached to a free loop device
    (read-only here) and mounted; Delete unmounts it and the device goes."""
    import subprocess
    img = os.path.join(s.dir, "img.ext4")
    content = os.path.join(s.dir, "content")
    os.makedirs(os.path.join(content, "etc"))
    open(os.path.join(content, "etc", "os-release"), "w").write("ID=loop\n")
    r = subprocess.run(["mkfs.ext4", "-q", "-F", "-d", content, img, "8M"],
                       capture_output=True)
    check(r.returncode == 0, "mkfs.ext4: %s" % r.stderr[:200])
    b = s.bundle("lo1")
    code, msg, _ = s.c.call("Create", field(1, "lo1") + field(2, b) +
                            mount_field("ext4", img, ["loop", "ro"]))
    check(code == 0, "create: %d %s" % (code, msg))
    rootfs = os.path.join(b, "rootfs")
    check(mounted_at(rootfs) == "ext4", "mounted: %r" % mounted_at(rootfs))
    check(open(os.path.join(rootfs, "etc", "os-release")).read() == "ID=loop\n", "content")
    devs = loops_of(img)
    check(len(devs) == 1, "loop devices: %r" % devs)
    check(open("/sys/block/%s/ro" % devs[0]).read().strip() == "1", "device not read-only")
    check(s.kill("lo1")[0] == 0 and s.wait_until(lambda: s.state("lo1")[2] == STOPPED),
          "stop")
    check(s.delete("lo1")[0] == 0, "delete")
    check(mounted_at(rootfs) is None, "still mounted")
    check(s.wait_until(lambda: not loops_of(img), 5), "loop device left: %r" % loops_of(img))
    # an image that is not there: a clear error, no device taken
    code, msg, _ = s.c.call("Create", field(1, "lo2") + field(2, s.bundle("lo2")) +
                            mount_field("ext4", img + ".missing", ["loop"]))
    check(code != 0 and "No such file" in msg, "missing image: %d %s" % (code, msg))


def t_idmap_mount(s):
    """uidmap=/gidmap= (user-namespaced pods): the overlay's lower layers
    are idmapped, so root's files show as the mapped root; a bind is
    idmapped as it is; maps that do not parse are refused."""
    layers = os.path.join(s.dir, "snapshots")
    l1, l2 = os.path.join(layers, "1", "fs"), os.path.join(layers, "2", "fs")
    upper, work = os.path.join(s.dir, "up"), os.path.join(s.dir, "wk")
    for d in (l1, l2, upper, work):
        os.makedirs(d)
    open(os.path.join(l1, "bottom"), "w").close()
    open(os.path.join(l2, "top"), "w").close()
    os.chown(upper, 100000, 100000)
    maps = ["uidmap=0:100000:65536", "gidmap=0:100000:65536"]
    b = s.bundle("id1")
    code, msg, _ = s.c.call("Create", field(1, "id1") + field(2, b) + mount_field(
        "overlay", "overlay", ["lowerdir=%s:%s" % (l2, l1), "upperdir=" + upper,
                               "workdir=" + work] + maps))
    check(code == 0, "create: %d %s" % (code, msg))
    rootfs = os.path.join(b, "rootfs")
    st = os.stat(os.path.join(rootfs, "bottom"))
    check(st.st_uid == 100000 and st.st_gid == 100000, "owner %d:%d" % (st.st_uid, st.st_gid))
    check(os.path.exists(os.path.join(rootfs, "top")), "top layer")
    check(os.stat(os.path.join(l1, "bottom")).st_uid == 0, "the layer itself changed")
    check(not [d for d in os.listdir(os.path.dirname(b)) + os.listdir(b) if "idmapped" in d],
          "temporary idmapped mount left")
    check(s.kill("id1")[0] == 0 and s.wait_until(lambda: s.state("id1")[2] == STOPPED), "stop")
    check(s.delete("id1")[0] == 0 and mounted_at(rootfs) is None, "delete")
    b2 = s.bundle("id2")
    code, msg, _ = s.c.call("Create", field(1, "id2") + field(2, b2) + mount_field(
        "bind", l1, ["rbind"] + maps))
    check(code == 0, "bind create: %d %s" % (code, msg))
    check(os.stat(os.path.join(b2, "rootfs", "bottom")).st_uid == 100000, "bind not idmapped")
    check(s.kill("id2")[0] == 0 and s.wait_until(lambda: s.state("id2")[2] == STOPPED), "stop")
    check(s.delete("id2")[0] == 0 and mounted_at(os.path.join(b2, "rootfs")) is None,
          "delete of the idmapped bind")
    code, msg, _ = s.c.call("Create", field(1, "id3") + field(2, s.bundle("id3")) + mount_field(
        "bind", l1, ["rbind", "uidmap=0:100000", "gidmap=0:100000:65536"]))
    check(code != 0 and "Invalid argument" in msg, "bad map: %d %s" % (code, msg))


# VERBOSE_STRACE=FILE: run the real-runc shim under strace -f -o FILE
SHIM_WRAP = {"wrap": ("strace", "-f", "-tt", "-o", os.environ["VERBOSE_STRACE"])} \
    if os.environ.get("VERBOSE_STRACE") else {}


def busybox_bundle(s, cid, args, terminal=False):
    """A real bundle for the real runc: busybox-static as the rootfs."""
    import json
    import shutil
    import subprocess
    b = os.path.join(s.dir, "b", cid)
    os.makedirs(os.path.join(b, "rootfs", "bin"))
    shutil.copy("/bin/busybox", os.path.join(b, "rootfs", "bin", "busybox"))
    os.symlink("busybox", os.path.join(b, "rootfs", "bin", "sh"))
    subprocess.run(["runc", "spec", "--bundle", b], check=True)
    with open(os.path.join(b, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["args"] = list(args)
    spec["process"]["terminal"] = terminal
    spec["process"]["env"] = ["PATH=/bin", "PS1=$ "]
    spec["root"]["readonly"] = False
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(spec, f)
    return b


def t_tty_stdin_eof(s):
    """A terminal's stdin that ends (the client closes it and CloseIO
    asks, as CRI's stdinOnce does) hangs the terminal up, as the Go shim's
    closing of the console does: the shell sees EOF and exits, and what it
    wrote before still reaches stdout.  Real runc, real pty."""
    import shutil
    if not shutil.which("runc") or not os.path.exists("/bin/busybox"):
        print("# skip: needs runc and busybox-static")
        return
    import subprocess
    real = Shim(real_runc=True, **SHIM_WRAP)
    cid = "tty-%d" % os.getpid()
    try:
        b = busybox_bundle(real, cid, ["sh"], terminal=True)
        fin, fout = os.path.join(real.dir, "in"), os.path.join(real.dir, "out")
        os.mkfifo(fin)
        os.mkfifo(fout)
        rd = os.open(fout, os.O_RDONLY | os.O_NONBLOCK)
        pl = field(1, cid) + field(2, b) + field(4, 1) + field(5, fin) + field(6, fout)
        code, msg, _ = real.c.call("Create", pl)
        check(code == 0, "create: %d %s" % (code, msg))
        check(real.start(cid)[0] == 0, "start")
        wr = os.open(fin, os.O_WRONLY)
        os.write(wr, b"echo tty-$((40+2))\n")
        out = b""
        end = time.time() + 20
        while b"tty-42" not in out and time.time() < end:
            try:
                out += os.read(rd, 4096)
            except BlockingIOError:
                time.sleep(0.05)
        check(b"tty-42" in out, "the shell did not answer: %r" % out)
        os.close(wr)
        ws = real.c.send("Wait", field(1, cid))
        check(real.c.call("CloseIO", field(1, cid) + field(3, 1))[0] == 0, "CloseIO")
        code, msg, body = real.c.wait(ws)
        check(code == 0, "wait: %d %s (the shell did not see its stdin end)" % (code, msg))
        status = body.get(1, [0])[0]
        print("# shell exit status after stdin EOF: %d" % status)
        check(real.delete(cid)[0] == 0, "delete")
        os.close(rd)
    finally:
        real.close()
        # a container runc still holds (a failed run) goes with its shim
        subprocess.run(["runc", "--root", "/run/containerd/runc/test", "delete", "-f", cid],
                       capture_output=True)


def t_tty_exit_after_output(s):
    """A terminal process that writes more than its pty holds, to a slow
    reader, and exits: its exit (Wait) is answered only once the reader has
    every byte, since a client may close its FIFOs as soon as it sees the
    exit (containerd 1.6's client closes them before it waits for its
    copies).  A pty's FIONREAD counts only its line discipline's 4 KiB;
    up to 16 KiB more wait in the pty's own buffer.  Real runc, real pty."""
    import shutil
    import threading
    if not shutil.which("runc") or not os.path.exists("/bin/busybox"):
        print("# skip: needs runc and busybox-static")
        return
    import subprocess
    real = Shim(real_runc=True, **SHIM_WRAP)
    cid = "ttyx-%d" % os.getpid()
    want = b"".join(b"%d\n" % i for i in range(1, 60001))  # 348894 bytes
    try:
        b = busybox_bundle(real, cid, ["/bin/busybox", "seq", "1", "60000"], terminal=True)
        fout = os.path.join(real.dir, "out")
        os.mkfifo(fout)
        rd = os.open(fout, os.O_RDONLY | os.O_NONBLOCK)
        code, msg, _ = real.c.call("Create", field(1, cid) + field(2, b) + field(4, 1) +
                                   field(6, fout))
        check(code == 0, "create: %d %s" % (code, msg))
        w = Client(real.sock)
        ws = w.send("Wait", field(1, cid))
        exited = threading.Event()
        answer = []

        def waiter():
            answer.append(w.wait(ws))
            exited.set()
        threading.Thread(target=waiter, daemon=True).start()
        check(real.start(cid)[0] == 0, "start")
        got = bytearray()
        end = time.time() + 30
        # 4 KiB every 10 ms until the exit is seen, then close at once
        while not exited.is_set() and time.time() < end:
            try:
                got += os.read(rd, 4096)
            except BlockingIOError:
                pass
            time.sleep(0.01)
        os.close(rd)
        check(exited.is_set() and answer[0][0] == 0, "wait: %r" % (answer[:1],))
        got = bytes(got).replace(b"\r", b"")
        check(got == want, "the reader had %d of %d bytes when the exit came" % (
            len(got), len(want)))
        check(real.delete(cid)[0] == 0, "delete")
        w.close()
    finally:
        real.close()
        subprocess.run(["runc", "--root", "/run/containerd/runc/test", "delete", "-f", cid],
                       capture_output=True)


def t_kill_during_exec_start(s):
    """A Kill sent while the exec's runc exec is still running waits for
    the start and then signals the process (the Go shim's lock does the
    same); it is not answered "process already finished" and lost."""
    s.create("ks1")
    s.start("ks1")
    check(s.exec_("ks1", "e1")[0] == 0, "exec")
    s.knob("exec.delay", "1")
    a = Client(s.sock)
    st = a.send("Start", field(1, "ks1") + field(2, "e1"))
    time.sleep(0.3)
    b = Client(s.sock)
    kl = b.send("Kill", field(1, "ks1") + field(2, "e1") + field(3, 9))
    code, msg, _ = b.wait(kl)
    check(code == 0, "kill during the start: %d %s" % (code, msg))
    code, msg, _ = a.wait(st)
    s.knob("exec.delay")
    check(code == 0, "start: %d %s" % (code, msg))
    code, msg, body = s.c.call("Wait", field(1, "ks1") + field(2, "e1"))
    check(code == 0 and body.get(1, [0])[0] == 137, "wait: %d %r" % (code, body))
    code, msg, _ = s.kill("ks1", exec_id="e2")
    check(code != 0, "kill of an exec that does not exist")
    check(s.exec_("ks1", "e3")[0] == 0, "exec e3")
    code, msg, _ = s.kill("ks1", exec_id="e3")
    check(code == 9 and "not created" in msg, "kill before start: %d %s" % (code, msg))
    a.close()
    b.close()


def shim_cpu(s):
    with open("/proc/%d/stat" % s.proc.pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def t_output_late_reader(s):
    """A reader that opens the FIFO after the process has written and
    exited gets every byte, and the exit (Wait) is answered only once it
    has them: a client may close its FIFOs as soon as it sees the exit."""
    fout = os.path.join(s.dir, "late.out")
    os.mkfifo(fout)
    want = b"".join(b"%d\n" % i for i in range(1, 20001))  # 108894 bytes
    code, msg, _ = s.create("ol1", stdout=fout, args=("sh", "-c", "sleep 0.5; seq 1 20000"))
    check(code == 0, "create: %d %s" % (code, msg))
    w = Client(s.sock)
    ws = w.send("Wait", field(1, "ol1"))
    code, msg, _ = s.start("ol1")
    check(code == 0, "start: %d %s" % (code, msg))
    time.sleep(1.5)
    w.s.settimeout(0.05)
    try:
        w.wait(ws)
        raise Fail("Wait answered before the output was read")
    except socket.timeout:
        pass
    rd = os.open(fout, os.O_RDONLY)
    got = b""
    while True:
        b = os.read(rd, 65536)
        if not b:
            break
        got += b
    os.close(rd)
    check(got == want, "read %d of %d bytes" % (len(got), len(want)))
    w.s.settimeout(5)
    code, msg, body = w.wait(ws)
    check(code == 0, "wait: %d %s" % (code, msg))
    check(s.delete("ol1")[0] == 0, "delete")
    w.close()


def t_output_unread(s):
    """Output nobody reads: the exit is reported after 2 s with nothing
    taken (the bytes stay), the shim does not spin meanwhile (a grown FIFO
    that cannot shrink once did), and a Delete closes the copies after 10 s
    with nothing taken, saying how much was never read."""
    fout = os.path.join(s.dir, "unread.out")
    os.mkfifo(fout)
    code, msg, _ = s.create("ou1", stdout=fout, args=("seq", "1", "3000000"))
    check(code == 0, "create: %d %s" % (code, msg))
    rd = os.open(fout, os.O_RDONLY)
    check(s.start("ou1")[0] == 0, "start")
    got = 0
    while got < 5 << 20:  # read fast (the pipes grow), then stop reading
        got += len(os.read(rd, 1 << 20))
    time.sleep(0.3)
    _, _, _, pid, _ = s.state("ou1")
    os.kill(pid, 9)
    t0 = time.time()
    code, msg, body = s.c.call("Wait", field(1, "ou1"))
    held = time.time() - t0
    check(code == 0 and 1.5 <= held <= 8, "wait: %d %s after %.1f s" % (code, msg, held))
    check("not been read for 2 s" in s.log(), "no log line for the held exit")
    c0 = shim_cpu(s)
    time.sleep(2.5)  # past the copy engine's 1 s shrink of idle pipes
    spent = shim_cpu(s) - c0
    check(spent < 0.5, "the shim used %.2f s of CPU in 2.5 s idle" % spent)
    t0 = time.time()
    check(s.delete("ou1")[0] == 0, "delete")
    took = time.time() - t0
    check(8 <= took <= 30, "delete took %.1f s" % took)
    check("never read" in s.log(), "no log line for the dropped bytes")
    os.close(rd)



# ---------------------------------------------------------------- upgrade in place

UPGRADE = "containerd.shim.runc.c.v1.Upgrade"


def _upgrade(s, client=None, dry_run=False, timeout=30):
    c = client or s.c
    c.s.settimeout(timeout)
    st = c.send("Upgrade", field(1, 1 if dry_run else 0), service=UPGRADE)
    return c.wait(st)


def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _install(src, dst, mode=0o755):
    """Put src at dst as a package does: a new file renamed over the old."""
    tmp = dst + ".new"
    import shutil
    shutil.copyfile(src, tmp)
    os.chmod(tmp, mode)
    os.rename(tmp, dst)


def _script(s, name, body):
    p = os.path.join(s.dir, name)
    with open(p, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(p, 0o755)
    return p


def t_upgrade_keeps(s):
    """Three upgrades in a row keep the pid, the containers and their
    execs, the parked Waits (answered after with the right status), the
    fds, and publish each exit once."""
    pid = s.proc.pid
    s.create("u1")
    s.start("u1")
    s.create("u2")
    s.start("u2")
    check(s.exec_("u1", "e1")[0] == 0, "exec")
    check(s.start("u1", "e1")[0] == 0, "exec start")
    w = Client(s.sock)
    w_init = w.send("Wait", s.req(id="u2"))
    w_exec = w.send("Wait", s.req(id="u1", exec_id="e1"))
    time.sleep(0.2)
    before = (s.state("u1")[3], s.state("u2")[3], s.state("u1", "e1")[3])
    fds0 = _fds(pid)
    for i in range(3):
        code, msg, body = _upgrade(s)
        check(code == 0, "upgrade %d: %d %s" % (i, code, msg))
        check(body.get(3, [0])[0] == 2, "upgrade %d: containers %r" % (i, body))
        check(s.proc.poll() is None, "the shim is gone after upgrade %d" % i)
        check(s.log().count("upgrade: 0.1.0 -> ") >= i + 1, "no upgrade logged")
        after = (s.state("u1")[3], s.state("u2")[3], s.state("u1", "e1")[3])
        check(after == before, "pids %r, before %r" % (after, before))
        check(s.state("u1")[2] == RUNNING, "u1 not running")
    # (the events connection is opened again with the next event)
    check(_fds(pid) <= fds0, "fds %d, before %d" % (_fds(pid), fds0))
    check(os.readlink("/proc/%d/exe" % pid) == s.binary, "exe %s" % os.readlink("/proc/%d/exe" % pid))
    # the Waits parked before are answered by the new image
    check(s.kill("u1", 9, "e1")[0] == 0, "kill exec")
    w.s.settimeout(5)
    code, _, body = w.wait(w_exec)
    check(code == 0 and body.get(1, [0])[0] == 137, "exec wait: %d %r" % (code, body))
    check(s.kill("u2", 15)[0] == 0, "kill init")
    code, _, body = w.wait(w_init)
    check(code == 0 and body.get(1, [0])[0] == 143, "init wait: %d %r" % (code, body))
    check(s.wait_until(lambda: len(s.events.of("/tasks/exit")) >= 2, 5), "exit events")
    time.sleep(0.3)
    exits = s.events.of("/tasks/exit")
    check(len(exits) == 2, "%d exit events" % len(exits))
    # and the rest of the life still works
    check(s.delete("u1", "e1")[0] == 0, "delete exec")
    check(s.delete("u2")[0] == 0, "delete u2")
    check(s.kill("u1", 9)[0] == 0, "kill u1")
    check(s.wait_until(lambda: s.state("u1")[2] == STOPPED, 5), "u1 stopped")
    check(s.delete("u1")[0] == 0, "delete u1")
    w.close()


t_upgrade_keeps.own_binary = True


def t_upgrade_exit_during(s):
    """An exit that happens while the upgrade runs (during the check) is
    reaped by one image or the other and published once."""
    s.create("v1", args=("sleep", "86400"))
    s.start("v1")
    # the check is slow: the new binary sleeps before it reads the state
    real = s.binary + ".real"
    import shutil
    shutil.copyfile(s.binary, real)
    os.chmod(real, 0o755)
    _install(_script(s, "slow", 'sleep 0.5; exec "%s" "$@"' % real), s.binary)
    cpid = s.state("v1")[3]
    w = Client(s.sock)
    ws = w.send("Wait", s.req(id="v1"))
    up = Client(s.sock)
    ust = up.send("Upgrade", field(1, 0), service=UPGRADE)
    time.sleep(0.2)
    os.kill(cpid, 9)
    up.s.settimeout(30)
    code, msg, _ = up.wait(ust)
    check(code == 0, "upgrade: %d %s" % (code, msg))
    w.s.settimeout(5)
    code, _, body = w.wait(ws)
    check(code == 0 and body.get(1, [0])[0] == 137, "wait: %d %r" % (code, body))
    time.sleep(0.3)
    check(len(s.events.of("/tasks/exit")) == 1, "%d exit events" % len(s.events.of("/tasks/exit")))
    check(s.state("v1")[2] == STOPPED, "not stopped")
    check(s.delete("v1")[0] == 0, "delete")
    w.close()
    up.close()


t_upgrade_exit_during.own_binary = True


def t_upgrade_refusals(s):
    """A new binary that exits 1, one that crashes while it checks the
    state, one that is not executable and one that is gone: each upgrade
    is refused with a reason, and the old image goes on serving all."""
    pid = s.proc.pid
    s.create("r1")
    s.start("r1")
    w = Client(s.sock)
    ws = w.send("Wait", s.req(id="r1"))
    real = s.binary + ".real"
    import shutil
    shutil.copyfile(s.binary, real)
    cases = [
        ("exits 1", lambda: _install(_script(s, "one", "exit 1"), s.binary), "exit status 1"),
        ("crashes", lambda: _install(_script(s, "segv", "kill -SEGV $$"), s.binary),
         "killed by signal 11"),
        ("not executable", lambda: os.chmod(s.binary, 0o644), "Permission denied"),
        ("gone", lambda: os.unlink(s.binary), "No such file"),
    ]
    for name, make, want in cases:
        _install(real, s.binary)
        make()
        code, msg, _ = _upgrade(s)
        check(code != 0 and want in msg, "%s: %d %s" % (name, code, msg))
        check(s.proc.poll() is None, "%s: the shim is gone" % name)
        st = s.state("r1")
        check(st[0] == 0 and st[2] == RUNNING, "%s: state %r" % (name, st))
        check("upgrade to %s refused" % s.binary in s.log(), "%s: not logged" % name)
    # calls sent while refused are served; the old image serves on
    check(s.exec_("r1", "after")[0] == 0, "exec after refusals")
    _install(real, s.binary)
    code, msg, _ = _upgrade(s)
    check(code == 0, "upgrade after the refusals: %d %s" % (code, msg))
    check(s.proc.pid == pid, "pid")
    check(s.kill("r1")[0] == 0, "kill")
    w.s.settimeout(5)
    code, _, body = w.wait(ws)
    check(code == 0 and body.get(1, [0])[0] == 137, "wait: %d %r" % (code, body))
    w.close()


t_upgrade_refusals.own_binary = True


def t_upgrade_dry_run_and_signal(s):
    """-dry-run: the new binary checks the state, nothing is replaced;
    SIGUSR2: an upgrade with no caller, seen in the log."""
    s.create("d1")
    s.start("d1")
    code, msg, body = _upgrade(s, dry_run=True)
    check(code == 0 and body.get(2, [b""])[0] == b"0.1.0", "dry run: %d %s %r" % (code, msg, body))
    check("dry run" in s.log() and "upgrade: 0.1.0 -> " not in s.log(), "dry run log")
    os.kill(s.proc.pid, signal.SIGUSR2)
    check(s.wait_until(lambda: "done, 1 containers" in s.log(), 10), "SIGUSR2 did not upgrade")
    st = s.state("d1")
    check(st[0] == 0 and st[2] == RUNNING, "state %r" % (st,))
    # one at a time: a second request waits (nothing is read meanwhile),
    # then runs on the new image
    real = s.binary + ".real"
    import shutil
    shutil.copyfile(s.binary, real)
    os.chmod(real, 0o755)
    _install(_script(s, "slow", 'sleep 1; exec "%s" "$@"' % real), s.binary)
    a, b = Client(s.sock), Client(s.sock)
    sa = a.send("Upgrade", field(1, 0), service=UPGRADE)
    time.sleep(0.3)
    t0 = time.time()
    code, msg, _ = _upgrade(s, client=b)
    check(code == 0 and time.time() - t0 >= 1.0, "second upgrade: %d %s after %.2f s"
          % (code, msg, time.time() - t0))
    a.s.settimeout(30)
    code, msg, _ = a.wait(sa)
    check(code == 0, "first upgrade: %d %s" % (code, msg))
    check(s.log().count("done, 1 containers") == 3, "not three upgrades")
    a.close()
    b.close()


t_upgrade_dry_run_and_signal.own_binary = True


def t_upgrade_waits_for_job(s):
    """An upgrade asked for while a Start is in flight waits for it: the
    Start is answered, then the upgrade goes on."""
    s.create("j1")
    s.knob("start.delay", "1")
    c2 = Client(s.sock)
    st = c2.send("Start", field(1, "j1"))
    time.sleep(0.2)
    t0 = time.time()
    code, msg, _ = _upgrade(s)
    took = time.time() - t0
    s.knob("start.delay")
    check(code == 0, "upgrade: %d %s" % (code, msg))
    c2.s.settimeout(5)
    code, msg, _ = c2.wait(st)
    check(code == 0, "start: %d %s" % (code, msg))
    check(took >= 0.5, "the upgrade did not wait for the start (%.2f s)" % took)
    check(s.state("j1")[2] == RUNNING, "not running")
    c2.close()


t_upgrade_waits_for_job.own_binary = True


def t_upgrade_carries_bytes(s):
    """What is on the wire is carried: a header half sent, a frame half
    sent (each finished after the upgrade and answered), and replies a
    client has not read yet (each read after, once)."""
    s.create("w1")
    s.start("w1")
    req = field(1, TASK) + field(2, "State") + field(3, field(1, "w1"))
    fr = frame(1, req, 1)
    a, b = Client(s.sock), Client(s.sock)
    a.s.sendall(fr[:7])               # inside the header
    b.s.sendall(fr[:len(fr) - 5])     # inside the payload
    # a client that does not read: its replies wait in the shim
    c = Client(s.sock)
    n = 20000  # more replies than its socket holds: the rest wait in the shim
    burst = b"".join(frame(2 * i + 1, req, 1) for i in range(n))
    sender = threading.Thread(target=c.s.sendall, args=(burst,), daemon=True)
    sender.start()
    time.sleep(1.0)
    # the shim has stopped reading it: its replies fill what it may queue
    check(sender.is_alive(), "the shim took all %d calls: nothing is held back" % n)
    code, msg, _ = _upgrade(s)
    check(code == 0, "upgrade: %d %s" % (code, msg))
    a.s.sendall(fr[7:])
    b.s.sendall(fr[len(fr) - 5:])
    a.s.settimeout(5)
    b.s.settimeout(5)
    for name, cl in (("header", a), ("payload", b)):
        code, msg, body = cl.wait(1)
        check(code == 0 and body.get(3, [0])[0] == s.state("w1")[3],
              "%s half sent: %d %s %r" % (name, code, msg, body))
    c.s.settimeout(20)
    seen = set()
    for _ in range(n):
        st = c.recv_one()
        check(st not in seen, "stream %d answered twice" % st)
        seen.add(st)
        check(c.got.pop(st)[0] == 0, "stream %d failed" % st)
    check(seen == set(2 * i + 1 for i in range(n)), "%d of %d answered" % (len(seen), n))
    c.s.settimeout(0.5)
    try:
        extra = c.s.recv(1)
    except socket.timeout:
        extra = b""
    check(extra == b"", "more bytes after the last reply")
    sender.join(5)
    for cl in (a, b, c):
        cl.close()


t_upgrade_carries_bytes.own_binary = True


def t_upgrade_bad_state(s):
    """The new binary's check reads a state it must not trust blindly: a
    real one (captured by a 'new binary' that saves its stdin) cut short,
    bit-flipped and overwritten, 1500 ways; each is taken (exit 0) or
    refused (exit 3) with a reason, never a crash or a hang."""
    import random
    s.create("b1", stdout="")
    s.start("b1")
    check(s.exec_("b1", "e1")[0] == 0, "exec")
    w = Client(s.sock)
    w.send("Wait", s.req(id="b1"))
    time.sleep(0.2)
    saved = os.path.join(s.dir, "state.bin")
    _install(_script(s, "save", 'cat > "%s"; exit 1' % saved), s.binary)
    code, msg, _ = _upgrade(s)
    check(code != 0 and os.path.getsize(saved) > 500, "no state captured: %s" % msg)
    state = open(saved, "rb").read()
    real = SHIM
    ok = subprocess.run([real, "-upgrade-check"], input=state, capture_output=True, timeout=10)
    check(ok.returncode == 0 and ok.stdout.startswith(b"ok "), "the real state: %r" % (ok.stdout,))
    rnd = random.Random(19)
    taken = refused = 0
    for i in range(1500):
        b = bytearray(state)
        kind = i % 3
        if kind == 0:
            b = b[:rnd.randrange(len(b))]
        elif kind == 1:
            for _ in range(rnd.randint(1, 8)):
                k = rnd.randrange(len(b))
                b[k] ^= 1 << rnd.randrange(8)
        else:
            k = rnd.randrange(len(b) - 8)
            b[k:k + 8] = rnd.choice([b"\xff" * 8, b"\x00" * 8, b"\x7f" + b"\xff" * 7,
                                     struct.pack("<Q", rnd.randrange(1 << 32))])
        try:
            r = subprocess.run([real, "-upgrade-check"], input=bytes(b), capture_output=True,
                               timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail("case %d (%s): the check hangs" % (i, ("cut", "flip", "word")[kind]))
        check(r.returncode in (0, 3), "case %d (%s): exit %d %r" %
              (i, ("cut", "flip", "word")[kind], r.returncode, r.stdout[:80]))
        if r.returncode == 0:
            taken += 1
        else:
            refused += 1
            check(r.stdout.strip(), "case %d: refused without a reason" % i)
    check(refused > 500, "only %d refused" % refused)
    print("# %d states taken, %d refused" % (taken, refused))
    w.close()


t_upgrade_bad_state.own_binary = True

TESTS = [
    # the long ones first: -j runs the rest beside them
    t_caps, t_output_unread, t_logger_killed, t_never_reads, t_sched_core,
    t_output_late_reader, t_kill_during_exec_start, t_hostile_probe, t_logger_v2, t_tty_stdin_eof, t_tty_exit_after_output, t_fuse_mount,
    t_loop_mount, t_idmap_mount, t_info_options, t_cri_toml_options, t_logger_ready,
    t_mount_target, t_paused_killed_resumed, t_stats_after_exit, t_no_pivot,
    t_exec_pidfile_removed, t_exec_spec_in_memfd, t_file_log_dirs, t_checkpoint_workdir, t_checkpoint_states,
    t_restore_fails_quietly, t_log_full_disk, t_start_full_bundle,
    t_created_exit_published, t_start_oom_score, t_stale_exec_job, t_stale_pause_job,
    t_failed_exec_answers_waits, t_stale_exit_not_pinned, t_create_pidfile_fails,
    t_waits_do_not_starve, t_deadline, t_logger_fds, t_thousand_conns,
    t_many_waits_many_conns, t_waits_one_conn, t_upgrade_keeps, t_upgrade_exit_during,
    t_upgrade_refusals, t_upgrade_dry_run_and_signal, t_upgrade_waits_for_job,
    t_upgrade_carries_bytes, t_upgrade_bad_state,
]


def run_test(t):
    """Run one test with a shim of its own; (ok, line, log)."""
    name = t.__name__[2:]
    s = None
    try:
        binary = None
        if getattr(t, "own_binary", False):
            # a copy of its own, which the test may replace
            import shutil
            import tempfile
            d = tempfile.mkdtemp(prefix="shimbin.")
            binary = os.path.join(d, "containerd-shim-runc-v2-c")
            shutil.copyfile(SHIM, binary)
            os.chmod(binary, 0o755)
        s = Shim(binary=binary)
        s.binary = binary
        t(s)
        check(s.proc.poll() is None, "the shim exited")
        return True, "ok %s" % name, ""
    except Exception as e:  # noqa: BLE001
        detail = str(e) if isinstance(e, Fail) else traceback.format_exc(limit=3)
        log = s.log()[-3000:] if os.environ.get("VERBOSE") and s else ""
        return False, "FAIL %s: %s" % (name, detail), log
    finally:
        if s:
            s.close()
            if s.binary:
                import shutil
                shutil.rmtree(os.path.dirname(s.binary), ignore_errors=True)


def main():
    """usage: run.py [-j N] [TEST...]: N tests at a time (default 3; each
    has its own shim, and most of their time is waiting)."""
    global passed, failed
    args = sys.argv[1:]
    jobs = 3
    if len(args) >= 2 and args[0] == "-j":
        jobs = max(1, int(args[1]))
        args = args[2:]
    todo = [t for t in TESTS if not args or t.__name__[2:] in args]
    lock = threading.Lock()

    def worker():
        global passed, failed
        while True:
            with lock:
                if not todo:
                    return
                t = todo.pop(0)
            ok, line, log = run_test(t)
            with lock:
                if ok:
                    passed += 1
                else:
                    failed += 1
                print(line, flush=True)
                if log:
                    print(log, flush=True)
    ws = [threading.Thread(target=worker) for _ in range(jobs)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
