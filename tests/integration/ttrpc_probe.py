#!/usr/bin/env python3
"""Send hostile and odd ttrpc traffic to a live shim and check its answers.

usage: ttrpc_probe.py SOCKET CONTAINER_ID
       ttrpc_probe.py SOCKET CONTAINER_ID --update-memory BYTES
           (one Update with that memory limit, as ctr 1.6 has no `task update`;
           exit status 0 if the shim answered OK)

Prints "ok CHECK" / "FAIL CHECK: ..." lines; exit status 1 if any failed.
Protobuf is encoded by hand (only varints and length-delimited fields).
"""
import socket
import struct
import sys

TASK = "containerd.task.v2.Task"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def parse(buf):
    """protobuf message -> {field: [values]} (ints or bytes)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:  # fixed64, as raw bytes
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:  # fixed32, as raw bytes
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.stream = 1

    def frame(self, stream, payload, mtype=1):
        self.s.sendall(struct.pack(">IIBB", len(payload), stream, mtype, 0) + payload)

    def request(self, service, method, payload=b""):
        stream = self.stream
        self.stream += 2
        req = field(1, service) + field(2, method) + field(3, payload)
        self.frame(stream, req)
        return stream

    def response(self):
        hdr = self.recv_exact(10)
        length, stream, mtype, _ = struct.unpack(">IIBB", hdr)
        body = parse(self.recv_exact(length))
        status = parse(body.get(1, [b""])[0])
        code = status.get(1, [0])[0]
        msg = status.get(2, [b""])[0].decode(errors="replace")
        return stream, code, msg, body.get(2, [b""])[0]

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def close(self):
        self.s.close()


failed = 0


def check(name, cond, detail=""):
    global failed
    if cond:
        print("ok", name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, detail))


def update_memory(path, cid, limit):
    c = Conn(path)
    res = '{"memory":{"limit":%d}}' % limit
    anyv = field(1, "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources") + \
        field(2, res)
    c.request(TASK, "Update", field(1, cid) + field(2, anyv))
    _, code, msg, _ = c.response()
    print("update: code %d %s" % (code, msg))
    return 0 if code == 0 else 1


def main():
    path, cid = sys.argv[1], sys.argv[2]
    if len(sys.argv) == 5 and sys.argv[3] == "--update-memory":
        return update_memory(path, cid, int(sys.argv[4]))
    c = Conn(path)

    st = c.request(TASK, "State", field(1, cid))
    s, code, msg, payload = c.response()
    state = parse(payload)
    check("state of the running task", s == st and code == 0 and state.get(4) == [2],
          "code %d %s %r" % (code, msg, state))

    c.request("no.such.Service", "State", b"")
    _, code, msg, _ = c.response()
    check("unknown service is UNIMPLEMENTED", code == 12 and "service" in msg, "%d %s" % (code, msg))
    c.request(TASK, "NoSuchMethod", b"")
    _, code, msg, _ = c.response()
    check("unknown method is UNIMPLEMENTED", code == 12 and "method" in msg, "%d %s" % (code, msg))

    c.request(TASK, "State", b"\x0a\x7fabc")  # truncated string
    _, code, msg, _ = c.response()
    check("undecodable payload is INVALID_ARGUMENT", code == 3, "%d %s" % (code, msg))

    c.request(TASK, "State", field(1, "x" * 500))  # over the id bound
    _, code, msg, _ = c.response()
    check("over-long id is INVALID_ARGUMENT", code == 3, "%d %s" % (code, msg))

    for bad in ("", "../x", "a/b", "x" * 100):
        c.request(TASK, "Create", field(1, bad) + field(2, "/tmp"))
        _, code, msg, _ = c.response()
        check("create with id %r is refused" % bad[:12], code == 3, "%d %s" % (code, msg))

    c.request(TASK, "Kill", field(1, "no-such-container") + field(3, 9))
    _, code, msg, _ = c.response()
    check("kill of an unknown container is NOT_FOUND", code == 5, "%d %s" % (code, msg))

    c.frame(c.stream + 1, field(1, TASK) + field(2, "State"))  # even stream id
    _, code, msg, _ = c.response()
    check("even stream id is INVALID_ARGUMENT", code == 3, "%d %s" % (code, msg))

    # a Wait parks; later calls are still answered, out of order
    wait_stream = c.request(TASK, "Wait", field(1, cid))
    conn_stream = c.request(TASK, "Connect", field(1, cid))
    s, code, _, payload = c.response()
    check("a pending Wait does not hold up Connect",
          s == conn_stream and code == 0 and parse(payload).get(1), "stream %d code %d" % (s, code))

    # an oversized frame: RESOURCE_EXHAUSTED on its stream, connection usable
    big = c.stream
    c.stream += 2
    size = (4 << 20) + 1
    c.s.sendall(struct.pack(">IIBB", size, big, 1, 0))
    chunk = b"\0" * 65536
    left = size
    while left:
        n = min(left, len(chunk))
        c.s.sendall(chunk[:n])
        left -= n
    s, code, msg, _ = c.response()
    check("oversized frame is RESOURCE_EXHAUSTED", s == big and code == 8, "stream %d code %d %s" % (s, code, msg))
    st = c.request(TASK, "State", field(1, cid))
    s, code, _, _ = c.response()
    check("connection usable after an oversized frame", s == st and code == 0, "code %d" % code)
    c.close()  # with the Wait still pending

    # a client that goes away mid-frame
    d = Conn(path)
    d.s.sendall(struct.pack(">IIBB", 100, 1, 1, 0) + b"\x0a\x05")
    d.close()
    e = Conn(path)
    e.s.sendall(b"\x00\x00")
    e.close()

    f = Conn(path)
    f.request(TASK, "State", field(1, cid))
    _, code, _, _ = f.response()
    check("shim still serves after abandoned connections", code == 0, "code %d" % code)
    f.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
