"""Drive the shim daemon directly over its socket, with the fake runc on
its PATH and a fake containerd event service recording what it publishes.

    with Shim() as s:
        s.create("c1"); s.start("c1")
        code, msg, st = s.call("State", s.req(id="c1"))
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from ttrpc_probe import field, parse, varint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SHIM = os.environ.get("SHIM", os.path.join(ROOT, "build", "containerd-shim-runc-v2-c"))
# a command the shim runs under, e.g. "qemu-aarch64-static" for a cross build
WRAP = tuple(os.environ.get("SHIM_WRAP", "").split())
TASK = "containerd.task.v2.Task"
# containerd.v1.types.Status
CREATED, RUNNING, STOPPED, PAUSED = 1, 2, 3, 4

# StateRequest/StartRequest/... share id = 1, exec_id = 2
REQ_FIELDS = {"id": 1, "exec_id": 2}


def frame(stream, payload, mtype):
    return struct.pack(">IIBB", len(payload), stream, mtype, 0) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


class Client:
    """One ttrpc connection; replies may come in any order."""

    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        for _ in range(500):
            try:
                self.s.connect(path)
                break
            except (BlockingIOError, ConnectionRefusedError):
                # the backlog is full, or bound but not yet listening: retry
                time.sleep(0.01)
        else:
            raise OSError("connect %s: backlog stays full" % path)
        self.stream = 1
        self.got = {}

    def send(self, method, payload=b"", timeout_nano=0, service=TASK):
        st = self.stream
        self.stream += 2
        req = field(1, service) + field(2, method) + field(3, payload)
        if timeout_nano:
            req += field(4, timeout_nano)
        self.s.sendall(frame(st, req, 1))
        return st

    def recv_one(self):
        length, stream, _, _ = struct.unpack(">IIBB", recv_exact(self.s, 10))
        body = parse(recv_exact(self.s, length))
        status = parse(body.get(1, [b""])[0])
        code = status.get(1, [0])[0]
        msg = status.get(2, [b""])[0].decode(errors="replace")
        self.got[stream] = (code, msg, parse(body.get(2, [b""])[0]))
        return stream

    def wait(self, stream):
        while stream not in self.got:
            self.recv_one()
        return self.got.pop(stream)

    def call(self, method, payload=b"", timeout_nano=0):
        return self.wait(self.send(method, payload, timeout_nano))

    def close(self):
        self.s.close()


class Events(threading.Thread):
    """containerd's event service: records (topic, event fields)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(8)
        self.seen = []
        self.lock = threading.Lock()
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            while True:
                length, stream, _, _ = struct.unpack(">IIBB", recv_exact(c, 10))
                req = parse(recv_exact(c, length))
                fw = parse(req.get(3, [b""])[0])
                env = parse(fw.get(1, [b""])[0])
                topic = env.get(3, [b""])[0].decode()
                ev = parse(parse(env.get(4, [b""])[0]).get(2, [b""])[0])
                with self.lock:
                    self.seen.append((topic, ev))
                c.sendall(frame(stream, field(1, b""), 2))
        except (EOFError, OSError):
            c.close()

    def topics(self, cid=None):
        with self.lock:
            return [t for t, ev in self.seen
                    if cid is None or ev.get(1, [b""])[0].decode() == cid]

    def of(self, topic):
        with self.lock:
            return [ev for t, ev in self.seen if t == topic]


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


class Shim:
    def __init__(self, env=None, wrap=WRAP, real_runc=False, binary=None):
        self.dir = tempfile.mkdtemp(prefix="shimd.")
        self.knobs = os.path.join(self.dir, "knobs")
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.knobs)
        os.makedirs(self.bin)
        if not real_runc:  # else the system's runc, found on PATH
            os.symlink(os.path.join(HERE, "fakerunc"), os.path.join(self.bin, "runc"))
        self.sock = os.path.join(self.dir, "shim.sock")
        self.events = Events(os.path.join(self.dir, "events.sock"))
        open(os.path.join(self.dir, "log"), "w").close()
        e = dict(os.environ)
        e["PATH"] = self.bin + ":" + e.get("PATH", "/usr/bin:/bin")
        e["FAKE_RUNC_DIR"] = self.knobs
        e["TTRPC_ADDRESS"] = self.events.path
        e.update(env or {})
        self.proc = subprocess.Popen(
            list(wrap) + [binary or SHIM, "-namespace", "test", "-id", "d",
                          "-address", "/nonexistent",
             "-socket", "unix://" + self.sock, "-debug"],
            cwd=self.dir, env=e, stdin=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(self.sock):
                break
            time.sleep(0.01)
        self.c = Client(self.sock)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def knob(self, name, value=None):
        p = os.path.join(self.knobs, name)
        if value is None:
            if os.path.exists(p):
                os.unlink(p)
        else:
            with open(p, "w") as f:
                f.write(str(value))

    def calls(self):
        try:
            with open(os.path.join(self.knobs, "calls")) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def bundle(self, cid, args=("sleep", "86400"), pidns=True):
        b = os.path.join(self.dir, "b", cid)
        os.makedirs(b, exist_ok=True)
        ns = [{"type": "pid"}] if pidns else []
        import json
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump({"process": {"args": list(args)}, "linux": {"namespaces": ns}}, f)
        return b

    @staticmethod
    def req(**kw):
        out = b""
        for k, v in kw.items():
            out += field(REQ_FIELDS.get(k, 0) or {"signal": 3, "all": 4}[k], v)
        return out

    def create(self, cid, client=None, stdout="", stderr="", args=("sleep", "86400"),
               pidns=True, options=b"", checkpoint=""):
        b = self.bundle(cid, args, pidns)
        pl = field(1, cid) + field(2, b)
        if checkpoint:
            pl += field(8, checkpoint)
        if options:
            pl += field(10, field(1, "containerd.runc.v1.Options") + field(2, options))
        if stdout:
            pl += field(6, stdout)
        if stderr:
            pl += field(7, stderr)
        return (client or self.c).call("Create", pl)

    def start(self, cid, exec_id="", client=None):
        pl = field(1, cid) + (field(2, exec_id) if exec_id else b"")
        return (client or self.c).call("Start", pl)

    def state(self, cid, exec_id="", client=None):
        pl = field(1, cid) + (field(2, exec_id) if exec_id else b"")
        code, msg, st = (client or self.c).call("State", pl)
        return code, msg, st.get(4, [0])[0], st.get(3, [0])[0], st.get(9, [0])[0]

    def kill(self, cid, sig=9, exec_id="", client=None):
        pl = field(1, cid) + (field(2, exec_id) if exec_id else b"") + field(3, sig)
        return (client or self.c).call("Kill", pl)

    def delete(self, cid, exec_id="", client=None):
        pl = field(1, cid) + (field(2, exec_id) if exec_id else b"")
        return (client or self.c).call("Delete", pl)

    def exec_(self, cid, exec_id, args=("sleep", "86400"), stdout="", stderr="",
              client=None):
        import json
        spec = json.dumps({"args": list(args), "cwd": "/"})
        anyv = field(1, "types.containerd.io/opencontainers/runtime-spec/1/Process") + \
            field(2, spec)
        pl = field(1, cid) + field(2, exec_id) + field(7, anyv)
        if stdout:
            pl += field(5, stdout)
        if stderr:
            pl += field(6, stderr)
        return (client or self.c).call("Exec", pl)

    def wait_until(self, cond, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return True
            time.sleep(0.02)
        return cond()

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log(self):
        with open(os.path.join(self.dir, "log"), errors="replace") as f:
            return f.read()

    def close(self):
        try:
            self.c.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # what the fake runc left behind carries our FAKE_RUNC_DIR
        mark = ("FAKE_RUNC_DIR=" + self.knobs).encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    if mark in f.read().split(b"\0"):
                        os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        self.events.ls.close()
        # mounts a test left under our dir go first (deepest first): never
        # remove files through a mount
        for _ in range(3):
            left = self.mounts_under()
            for m in sorted(left, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
        if self.mounts_under():
            print("# left mounted (dir kept): %s" % self.mounts_under())
        elif not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def mounts_under(self):
        out = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp == self.dir or mp.startswith(self.dir + "/"):
                    out.append(mp)
        return out
