#!/usr/bin/python3
"""A pod through containerd's CRI (runtime.v1), as the kubelet would run it,
with protobuf encoded by hand (ttrpc_probe.py's field/parse) over Debian's
python3-grpcio.

usage: cri.py SOCKET HANDLER IMAGE LOGDIR
Runs a pod sandbox with runtime handler HANDLER (host network), a container
of IMAGE in it running `echo hello from the C shim`, waits for its exit,
checks its exit code and its CRI log, then stops and removes the pod.
Prints "# ..." lines with the ids; exit status 0 if all went as asked.
"""
import os
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ttrpc_probe import field as f, parse  # noqa: E402

SVC = "/runtime.v1.RuntimeService/"


def main():
    sock, handler, image, logdir = sys.argv[1:5]
    ch = grpc.insecure_channel("unix://" + sock)

    def call(method, payload, timeout=60):
        return ch.unary_unary(SVC + method)(payload, timeout=timeout)

    v = parse(call("Version", f(1, "v1")))
    print("# cri: %s %s, api %s" % (v[2][0].decode(), v[3][0].decode(), v[4][0].decode()))
    # host network (NamespaceOption.network = NODE): no CNI needed
    meta = f(1, "hello") + f(2, "uid-hello") + f(3, "default") + f(4, 0)
    linux = f(2, f(1, f(1, 2)))
    pod_cfg = f(1, meta) + f(3, logdir) + f(8, linux)  # no hostname: the host UTS
    pod = parse(call("RunPodSandbox", f(1, pod_cfg) + f(2, handler), timeout=120))[1][0].decode()
    print("# pod %s" % pod)
    st = parse(parse(call("PodSandboxStatus", f(1, pod)))[1][0])
    got = st.get(9, [b""])[0].decode()
    if got != handler:
        print("FAIL: the pod's runtime handler is %r, not %r" % (got, handler))
        return 1
    ctr_cfg = (f(1, f(1, "hello")) + f(2, f(1, image)) + f(3, "echo") +
               f(4, "hello from the C shim") + f(11, "hello.log"))
    cid = parse(call("CreateContainer", f(1, pod) + f(2, ctr_cfg) + f(3, pod_cfg)))[1][0].decode()
    print("# container %s" % cid)
    call("StartContainer", f(1, cid))
    state = code = None
    for _ in range(300):
        cs = parse(parse(call("ContainerStatus", f(1, cid)))[1][0])
        state, code = cs.get(3, [0])[0], cs.get(7, [0])[0]
        if state == 2:  # CONTAINER_EXITED
            break
        time.sleep(0.1)
    ok = True
    if state != 2 or code != 0:
        print("FAIL: container state %s exit code %s" % (state, code))
        ok = False
    log = ""
    try:
        with open(os.path.join(logdir, "hello.log")) as fh:
            log = fh.read()
    except OSError as e:
        log = str(e)
    if " stdout F hello from the C shim" not in log:
        print("FAIL: CRI log: %r" % log[:300])
        ok = False
    call("RemoveContainer", f(1, cid))
    call("StopPodSandbox", f(1, pod), timeout=120)
    call("RemovePodSandbox", f(1, pod), timeout=120)
    print("# pod removed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
