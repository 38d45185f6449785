#!/usr/bin/env python3
"""The output-integrity matrix: containers and execs write known streams
through a real containerd and runc, readers of every kind take them, and
every byte is checked (count and sha256 against the same generator run on
the host; a mismatch names the first differing offset).

Run by tests/output/run.sh, which starts the private containerd and sets
CTRD_SOCK, CTRD_NS, CTRD_PID_FILE, CTRD_RESTART, ROOTFS, WORK.

  matrix.py --sample            the fixed sample (every kind of case once)
  matrix.py --runs N --seed S   N cases drawn from the seeded generator
  --runtime NAME[=LABEL]        a runtime to run them with (repeatable; the
                                first one's failures fail the run, the
                                others' losses are reported beside it)
  --jobs J                      cases run J at a time (default 2)
  --only KIND                   only cases whose name has KIND
  --case NAME [--repeat N]      the case of that name (as printed), N times

Each case prints "ok NAME: BYTES bytes" or "FAIL NAME: why"; the end gives
"lost bytes: N in M runs" per runtime and "N passed, N failed" for the
first runtime.
"""
import argparse
import glob
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

SOCK = os.environ.get("CTRD_SOCK", "")
NS = os.environ.get("CTRD_NS", "output")
ROOTFS = os.environ.get("ROOTFS", "")
WORK = os.environ.get("WORK", "/tmp")
BUSYBOX = os.environ.get("BUSYBOX", "/bin/busybox")
SLOW_RATE = 1 << 20  # the slow reader: about 1 MiB/s
LATE_S = 1.0  # the late reader starts this much after the process
CTR_TIMEOUT = float(os.environ.get("CTR_TIMEOUT", "300"))
MIB = 1 << 20


def ctr(*args):
    return ["ctr", "--address", SOCK, "-n", NS] + list(args)


def ctr_quiet(*args, timeout=60):
    try:
        return subprocess.run(ctr(*args), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return 124


# ------------------------------------------------------------ the streams

def gen(size, tag):
    """A shell command writing `size` bytes of numbered lines (busybox)."""
    if size <= 64 * MIB:
        return "seq 1 %d | head -c %d" % (size // 2 + 1, size)
    # big: numbered 1 MiB blocks of numbered lines (seq alone is slow)
    k = size // MIB
    b = "/tmp/blk.%s.$$" % tag
    return ("seq 1 200000 | head -c %d > %s; i=0; while [ $i -lt %d ]; do "
            "echo block $i; cat %s; i=$((i+1)); done; rm -f %s" % (MIB, b, k, b, b))


_expected = {}
_exp_lock = threading.Lock()


def expected(cmd):
    """(length, sha256) of what cmd writes, run with the host's busybox."""
    with _exp_lock:
        if cmd in _expected:
            return _expected[cmd]
    h = hashlib.sha256()
    n = 0
    p = subprocess.Popen([BUSYBOX, "sh", "-c", cmd], stdout=subprocess.PIPE)
    while True:
        b = p.stdout.read(MIB)
        if not b:
            break
        h.update(b)
        n += len(b)
    p.wait()
    with _exp_lock:
        _expected[cmd] = (n, h.hexdigest())
    return _expected[cmd]


def first_difference(cmd, path, strip_cr=False):
    """Offset of the first byte where the file differs from cmd's output."""
    p = subprocess.Popen([BUSYBOX, "sh", "-c", cmd], stdout=subprocess.PIPE)
    off = 0
    with open(path, "rb") as f:
        got = f.read()
    if strip_cr:
        got = got.replace(b"\r", b"")
    while True:
        b = p.stdout.read(MIB)
        if not b:
            break
        g = got[off:off + len(b)]
        if g != b:
            for i in range(min(len(g), len(b))):
                if g[i] != b[i]:
                    p.kill()
                    p.wait()
                    return off + i
            p.kill()
            p.wait()
            return off + min(len(g), len(b))
        off += len(b)
    p.wait()
    return off if len(got) != off else -1


def digest(path, strip_cr=False):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(MIB)
            if not b:
                break
            if strip_cr:
                b = b.replace(b"\r", b"")
            h.update(b)
            n += len(b)
    return n, h.hexdigest()


# ------------------------------------------------------------ readers

def reader(src, path, kind):
    """Copy the pipe src to path: fast, slow (SLOW_RATE) or late."""
    def run():
        if kind == "late":
            time.sleep(LATE_S)
        fd = src.fileno()
        n = 0
        t0 = time.time()
        with open(path, "wb") as out:
            while True:
                b = os.read(fd, 65536 if kind != "slow" else 16384)
                if not b:
                    break
                out.write(b)
                n += len(b)
                if kind == "slow":
                    ahead = n / SLOW_RATE - (time.time() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        src.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ------------------------------------------------------------ cases

class Case:
    """One run: what is written, by what, through what, read how."""

    def __init__(self, **kw):
        self.proc = kw.get("proc", "init")      # init | exec
        self.streams = kw.get("streams", "out")  # out err both err-first err-last
        self.size = kw.get("size", 1000)
        self.end = kw.get("end", "exit")        # exit | killed | killed-mid
        self.io = kw.get("io", "fifo")          # fifo | tty | file | binary
        self.reader = kw.get("reader", "fast")  # fast | slow | late
        self.kind = kw.get("kind", "one")       # one | pod | restart

    def name(self):
        if self.kind == "pod":
            return "pod20-%d" % self.size
        if self.kind == "restart":
            return "restart-%s-%d" % (self.reader, self.size)
        return "%s-%s-%s-%d-%s-%s" % (self.proc, self.io, self.streams, self.size,
                                      self.end, self.reader)

    def scripts(self):
        """(container command, stdout generator, stderr generator)."""
        o = gen(self.size, "o")
        e = gen(max(1, self.size // 3), "e")
        s = self.streams
        if s == "out":
            body, go, ge = o, o, None
        elif s == "err":
            body, go, ge = "{ %s; } >&2" % e, None, e
        elif s == "both":
            body, go, ge = "{ %s; } >&2 & %s; wait" % (e, o), o, e
        elif s == "err-first":  # stderr written and closed before stdout
            body, go, ge = "{ %s; } >&2; exec 2>&-; %s" % (e, o), o, e
        else:  # err-last
            body, go, ge = "%s; { %s; } >&2" % (o, e), o, e
        if self.end == "killed":
            body = "%s; touch /shared/done; exec sleep 100000" % body
        return body, go, ge


def draw(rng):
    """A case from the seeded generator, within what each kind allows."""
    io = rng.choice(["fifo"] * 6 + ["tty", "file", "binary"])
    proc = rng.choice(["init", "init", "exec"])
    if io == "binary":
        proc = "init"
    streams = rng.choice(["out", "err", "both", "err-first", "err-last"])
    if io == "tty":
        streams = "out"
    if io == "file":
        streams = rng.choice(["out", "err"])  # one file: one stream
    end = rng.choice(["exit"] * 5 + ["killed"] * 2 + ["killed-mid"])
    reader = rng.choice(["fast"] * 3 + ["slow", "late"]) if io in ("fifo", "tty") else "fast"
    if io == "tty" and reader == "late":
        reader = "fast"
    if end == "killed-mid":
        streams, size = "out", 64 * MIB
        if reader == "fast":
            reader = "late"
    else:
        r = rng.random()
        if r < 0.15:
            size = rng.choice([1, 2, 100, 4095, 4096, 4097])
        elif r < 0.55:
            size = rng.randint(5000, 300000)
        elif r < 0.9:
            size = rng.randint(300000, 4 * MIB)
        elif r < 0.997:
            size = rng.randint(4 * MIB, 32 * MIB)
        else:
            size = 512 * MIB
        if reader == "slow":
            size = min(size, 2 * MIB)
        if size > 32 * MIB:
            io, proc, reader, streams, end = "fifo", "init", "fast", "out", "exit"
    return Case(proc=proc, io=io, streams=streams, size=size, end=end, reader=reader)


SAMPLE = [
    Case(streams="out", size=1),
    Case(streams="err", size=100),
    Case(streams="both", size=3000000),
    Case(streams="err-first", size=3000000),
    Case(streams="err-last", size=MIB, reader="slow"),
    Case(streams="out", size=3000000, reader="late"),
    Case(streams="out", size=16 * MIB),
    Case(streams="out", size=2 * MIB, end="killed", reader="late"),
    Case(streams="out", size=64 * MIB, end="killed-mid", reader="slow"),
    Case(proc="exec", streams="out", size=3000000),
    Case(proc="exec", streams="both", size=MIB, reader="slow"),
    Case(proc="exec", streams="out", size=MIB, end="killed", reader="late"),
    Case(io="tty", size=MIB),
    Case(io="tty", proc="exec", size=100000, reader="slow"),
    Case(io="file", streams="out", size=3000000),
    Case(io="file", streams="err", size=MIB, end="killed"),
    Case(io="binary", streams="both", size=3000000),
    Case(io="binary", streams="err-first", size=200000, end="killed"),
    Case(kind="pod", size=256 * 1024),
    Case(kind="restart", size=8 * MIB, reader="late"),
]


class Result:
    def __init__(self, name):
        self.name = name
        self.want = 0
        self.got = 0
        self.fail = None

    def check(self, label, cmd, path, strip_cr=False, prefix=False):
        """Compare path with cmd's output; count the bytes lost."""
        n, h = expected(cmd)
        try:
            gn, gh = digest(path, strip_cr)
        except OSError:
            gn, gh = 0, ""
        if prefix:
            # killed mid-write: what came must be the stream's start
            off = first_difference(cmd, path, strip_cr)
            self.want += gn
            self.got += gn
            if off != -1 and off < gn:
                self.fail = self.fail or "%s: not the stream's start: differs at byte %d of %d" % (
                    label, off, gn)
            elif gn == 0:
                self.fail = self.fail or "%s: nothing arrived before the kill" % label
            return
        self.want += n
        self.got += min(gn, n)
        if (gn, gh) != (n, h):
            off = first_difference(cmd, path, strip_cr) if gn else 0
            self.fail = self.fail or "%s: got %d of %d bytes, first difference at byte %d" % (
                label, gn, n, off)


class Runner:
    def __init__(self, runtime, rootfs, work):
        self.runtime = runtime
        self.rootfs = rootfs
        self.work = work
        self.seq = 0
        self.lock = threading.Lock()

    def new_id(self):
        with self.lock:
            self.seq += 1
            return "out-%d-%d" % (os.getpid(), self.seq)

    def base_run(self, cid, shared, extra=()):
        # (--rootfs is a switch: the rootfs is the first argument)
        return ctr("run", "--runtime", self.runtime, "--fifo-dir", os.path.join(self.work, "fifo"),
                   "--env", "PATH=/bin",
                   "--mount", "type=bind,src=%s,dst=/shared,options=rbind:rw" % shared,
                   *extra, "--rootfs", self.rootfs, cid)

    def cleanup(self, cid):
        ctr_quiet("task", "kill", "-s", "SIGKILL", cid, timeout=20)
        for _ in range(50):
            if ctr_quiet("task", "rm", "-f", cid, timeout=20) != 0:
                break
            time.sleep(0.1)
        ctr_quiet("container", "rm", cid, timeout=20)

    def run(self, case):
        if case.kind == "pod":
            return self.run_pod(case)
        if case.kind == "restart":
            return self.run_restart(case)
        return self.run_one(case)

    def run_one(self, case, cid=None, group=None):
        cid = cid or self.new_id()
        res = Result(case.name())
        d = os.path.join(self.work, cid)
        shared = os.path.join(d, "shared")
        os.makedirs(shared)
        body, go, ge = case.scripts()
        out, err = os.path.join(d, "out"), os.path.join(d, "err")
        extra = []
        if group:
            extra.append("--annotation=io.containerd.runc.v2.group=%s" % group)
        eid = None
        try:
            if case.proc == "exec":
                rc = subprocess.run(self.base_run(cid, shared, ["-d"] + extra) +
                                    ["sleep", "100000"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, timeout=CTR_TIMEOUT)
                if rc.returncode != 0:
                    res.fail = "ctr run -d: %s" % rc.stderr.decode(errors="replace").strip()
                    return res
                eid = "x" + cid
            cmd = self.command(case, cid, eid, shared, d, body, extra)
            p, threads = self.start_readers(case, cmd, out, err)
            if case.end in ("killed", "killed-mid"):
                self.kill_later(case, cid, eid, shared, p)
            try:
                p.wait(timeout=CTR_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                res.fail = "ctr did not end in %d s" % CTR_TIMEOUT
            for t in threads:
                t.join(CTR_TIMEOUT)
            if case.io == "binary":
                self.wait_logger(d)
            self.verify(case, res, go, ge, out, err, d)
        finally:
            if case.proc == "exec" or case.end != "exit" or res.fail:
                self.cleanup(cid)
            if not res.fail:
                shutil.rmtree(d, ignore_errors=True)
        return res

    def command(self, case, cid, eid, shared, d, body, extra):
        sh = ["sh", "-c", body]
        if case.io == "file":
            log = ["--log-uri", "file://" + os.path.join(d, "log")]
        elif case.io == "binary":
            logger = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logger.py")
            log = ["--log-uri", "binary://%s?dir=%s" % (logger, d)]
        else:
            log = []
        tty = ["-t"] if case.io == "tty" else []
        if eid:
            # (ctr takes no --fifo-dir with a --log-uri)
            fifo = [] if log else ["--fifo-dir", os.path.join(self.work, "fifo")]
            c = ctr("task", "exec", *tty, "--exec-id", eid, *fifo, *log, cid, *sh)
        else:
            c = self.base_run(cid, shared, ["--rm"] + tty + log + extra) + sh
        if case.io == "tty":
            # ctr -t needs a terminal: script(1) gives it one
            c = ["script", "-qefc", " ".join("'%s'" % a.replace("'", "'\\''") for a in c),
                 "/dev/null"]
        return c

    def start_readers(self, case, cmd, out, err):
        stdin = subprocess.DEVNULL
        if case.io == "tty":
            stdin = subprocess.PIPE  # script(1) would end at EOF on its stdin
        if case.reader == "fast" or case.io in ("file", "binary"):
            with open(out, "wb") as fo, open(err, "wb") as fe:
                p = subprocess.Popen(cmd, stdin=stdin, stdout=fo, stderr=fe)
            return p, []
        with open(err, "wb") as fe:
            p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=fe)
        return p, [reader(p.stdout, out, case.reader)]

    def kill_later(self, case, cid, eid, shared, p):
        def run():
            if case.end == "killed":
                # every byte has been written (the marker comes after), and
                # is still in flight to a slow or late reader
                end = time.time() + CTR_TIMEOUT
                while not os.path.exists(os.path.join(shared, "done")) and time.time() < end:
                    if p.poll() is not None:
                        return
                    time.sleep(0.02)
                time.sleep(random.random() * 0.2)
            else:
                time.sleep(0.5 + random.random() * 0.5)
            args = ["task", "kill", "-s", "SIGKILL"]
            if eid:
                args += ["--exec-id", eid]
            ctr_quiet(*args, cid)
        threading.Thread(target=run, daemon=True).start()

    def wait_logger(self, d):
        end = time.time() + 30
        while time.time() < end and not os.path.exists(os.path.join(d, "logger.done")):
            time.sleep(0.02)

    def verify(self, case, res, go, ge, out, err, d):
        prefix = case.end == "killed-mid"
        if case.io == "tty":
            res.check("tty", go, out, strip_cr=True, prefix=prefix)
            return
        if case.io == "file":
            res.check("file", go or ge, os.path.join(d, "log"), prefix=prefix)
            return
        if case.io == "binary":
            out, err = os.path.join(d, "logger.out"), os.path.join(d, "logger.err")
        if go:
            res.check("stdout", go, out, prefix=prefix)
        if ge:
            res.check("stderr", ge, err, prefix=prefix)

    def run_pod(self, case):
        """20 containers of one pod (one shim) writing at once."""
        res = Result(case.name())
        group = "pod-%d-%d" % (os.getpid(), self.seq)
        one = Case(streams="both", size=case.size)
        results = [None] * 20

        def member(i):
            results[i] = self.run_one(one, group=group)
        threads = [threading.Thread(target=member, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            res.want += r.want
            res.got += r.got
            if r.fail and not res.fail:
                res.fail = "a member: " + r.fail
        return res

    def run_restart(self, case):
        """containerd restarted while output flows: a first reader takes
        part of it and goes, containerd restarts, a second reader attaches
        and gets the rest."""
        res = Result(case.name())
        cid = self.new_id()
        d = os.path.join(self.work, cid)
        shared = os.path.join(d, "shared")
        os.makedirs(shared)
        fifo_dir = os.path.join(d, "fifo")
        body = gen(case.size, "o")
        try:
            rc = subprocess.run(ctr("run", "-d", "--runtime", self.runtime, "--fifo-dir", fifo_dir,
                                    "--env", "PATH=/bin", "--rootfs", self.rootfs,
                                    cid, "sh", "-c", "sleep 0.5; " + body),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                timeout=CTR_TIMEOUT)
            if rc.returncode != 0:
                res.fail = "ctr run -d: %s" % rc.stderr.decode(errors="replace").strip()
                return res
            paths = glob.glob(os.path.join(fifo_dir, "*", cid + "-stdout"))
            if not paths:
                res.fail = "no stdout FIFO under %s" % fifo_dir
                return res
            out = os.path.join(d, "out")
            with open(out, "wb") as f:
                # the first reader: 1 MiB, then it goes
                fd = os.open(paths[0], os.O_RDONLY)
                left = MIB
                while left:
                    b = os.read(fd, min(left, 65536))
                    if not b:
                        break
                    f.write(b)
                    left -= len(b)
                os.close(fd)
                r = subprocess.run(["sh", "-c", os.environ["CTRD_RESTART"]],
                                   capture_output=True, timeout=120)
                if r.returncode != 0:
                    res.fail = "containerd restart: %s" % r.stderr.decode(errors="replace")
                    return res
                time.sleep(LATE_S)
                fd = os.open(paths[0], os.O_RDONLY)
                while True:
                    b = os.read(fd, 65536)
                    if not b:
                        break
                    f.write(b)
                os.close(fd)
            res.check("stdout", body, out)
        finally:
            self.cleanup(cid)
            if not res.fail:
                shutil.rmtree(d, ignore_errors=True)
        return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runtime", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--case", default="")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    random.seed(a.seed)
    cases = list(SAMPLE) if a.sample else []
    for _ in range(a.runs):
        cases.append(draw(rng))
    if a.runs >= 100:
        # the two kinds the generator does not draw, now and then
        cases += [Case(kind="pod", size=rng.choice([4096, 256 * 1024, MIB]))
                  for _ in range(max(1, a.runs // 250))]
        cases += [Case(kind="restart", size=rng.choice([2 * MIB, 8 * MIB]), reader="late")
                  for _ in range(max(1, a.runs // 500))]
    if a.case:
        proc, io, streams, rest = a.case.split("-", 3)
        if rest.startswith("first-") or rest.startswith("last-"):
            streams += "-" + rest.split("-", 1)[0]
            rest = rest.split("-", 1)[1]
        size, rest = rest.split("-", 1)
        end, reader = rest.rsplit("-", 1)
        cases += [Case(proc=proc, io=io, streams=streams, size=int(size), end=end,
                       reader=reader) for _ in range(a.repeat)]
    cases = [c for c in cases if a.only in c.name()]
    restarts = [c for c in cases if c.kind == "restart"]
    others = [c for c in cases if c.kind != "restart"]
    runtimes = a.runtime or ["io.containerd.runc.v2-c"]
    summary = []
    passed = failed = 0
    for k, rt in enumerate(runtimes):
        name, _, label = rt.partition("=")
        label = label or name
        runner = Runner(name, ROOTFS, WORK)
        lost = runs = bad = 0
        lock = threading.Lock()
        queue = list(others)
        t0 = time.time()

        def report(c, r):
            nonlocal lost, runs, bad, passed, failed
            with lock:
                runs += 1
                lost += r.want - r.got
                if r.fail:
                    bad += 1
                prefix = "" if k == 0 else "# %s: " % label
                if r.fail:
                    print("%sFAIL %s: %s" % (prefix, r.name, r.fail), flush=True)
                else:
                    print("%sok %s: %d bytes" % (prefix, r.name, r.got), flush=True)
                if k == 0:
                    if r.fail:
                        failed += 1
                    else:
                        passed += 1

        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    c = queue.pop(0)
                try:
                    r = runner.run(c)
                except Exception as e:  # a broken case is a failure, not a crash
                    r = Result(c.name())
                    r.fail = "%s: %s" % (type(e).__name__, e)
                report(c, r)
        ws = [threading.Thread(target=worker) for _ in range(max(1, a.jobs))]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        for c in restarts:  # alone: it restarts containerd
            report(c, runner.run(c))
        summary.append("# %s: lost bytes: %d in %d runs (%d failed) in %.0f s" % (
            label, lost, runs, bad, time.time() - t0))
    for line in summary:
        print(line)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
