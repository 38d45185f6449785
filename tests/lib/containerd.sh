# shellcheck shell=bash
#
# Helpers to run a PRIVATE containerd for tests and demos.
#
# Source this file, then:
#   ctrd_start              start containerd (sets CTRD_DIR, CTRD_SOCK, CTRD_PID)
#   ctr_ ARGS...            ctr --address "$CTRD_SOCK" -n "$CTRD_NS" ARGS...
#   ctrd_stop               kill what we started, unmount, remove CTRD_DIR
#   make_busybox_rootfs DIR build a busybox rootfs usable with `ctr run --rootfs DIR`
#   ctr_import_busybox NAME  import that rootfs as image NAME (one layer, OCI)
#
# Environment (all optional):
#   RUNTIME      runtime name         (default io.containerd.runc.v2-c)
#   SHIM_DIR     dir put first in PATH so containerd finds the shim
#                                     (default <repo>/build)
#   CTRD_NS      containerd namespace (default test)
#   CTR_TIMEOUT  seconds before a ctr_ call is killed (default 60)
#   CTRD_KEEP_LOG=1  keep containerd's log (copied to /tmp) on stop
#   CTRD_SNAPSHOTTERS  snapshotters to keep besides native ("overlayfs",
#                "blockfile": an ext4 scratch image, so rootfs mounts are loop
#                mounts); containerd's root and state are made 0711 for them,
#                as user-namespaced containers need
#   CTRD_CRI_CONFIG  a config fragment (examples/containerd-*.toml) with CRI
#                runtime handlers: the CRI plugins are enabled, the fragment
#                is merged in, with a sandbox image localhost/pause:cri (for
#                ctrd_cri_images), no stream server port, CNI folders of
#                our own and restrict_oom_score_adj (a host without
#                CAP_SYS_RESOURCE cannot give the sandbox its -998); CRI's
#                socket is $CTRD_SOCK (the same gRPC server)
#   CTRD_EXTRA_PATH  dirs put in containerd's PATH right after SHIM_DIR, so
#                the shims and runc find them (e.g. tests/criu/fetch-criu.sh's
#                `criu`)
#   CONTAINERD_BIN_DIR  dir with the containerd and ctr to use, put first on
#                PATH (e.g. from tests/compat/fetch-containerd.sh); SHIM_DIR
#                still comes first in containerd's own PATH
#
# Nothing here touches the host's own containerd (/run/containerd/containerd.sock).
# Note: containerd 1.6 always puts shim sockets under /run/containerd/s/ and
# runc state under /run/containerd/runc/<ns>/; ids are what keep us apart.

CTRD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CTRD_REPO=$(cd "$CTRD_LIB_DIR/../.." && pwd)

: "${RUNTIME:=io.containerd.runc.v2-c}"
: "${SHIM_DIR:=$CTRD_REPO/build}"
: "${CTRD_NS:=test}"
: "${CTR_TIMEOUT:=60}"
if [ -n "${CONTAINERD_BIN_DIR:-}" ]; then
	PATH=$CONTAINERD_BIN_DIR:$PATH
	export PATH
fi

CTRD_DIR=
CTRD_SOCK=
CTRD_PID=
CTRD_STATE=
CTRD_LOG=
# cgroup v1 controllers (or the v2 root) where "/$CTRD_NS" did not exist before
# we started; removed on stop if empty.
CTRD_NEW_CGROUPS=()

# ctrd_version [BIN]: major.minor of containerd (e.g. 1.6, 2.1)
ctrd_version() {
	"${1:-containerd}" --version 2>/dev/null |
		sed -n 's/^containerd [^ ]* v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p'
}

# shim_binary_name RUNTIME -> containerd-shim-<a>-<b> (containerd's own rule:
# the last two dot-separated parts of the runtime name).
shim_binary_name() {
	local rt=${1:-$RUNTIME} a b
	b=${rt##*.}
	a=${rt%.*}
	a=${a##*.}
	printf 'containerd-shim-%s-%s\n' "$a" "$b"
}

# shellcheck disable=SC2034 # used by scripts sourcing this file
SHIM_BIN_NAME=$(shim_binary_name "$RUNTIME")

_ctrd_log() { printf '%s\n' "$*" >&2; }

# _ctrd_cgroup_dirs: cgroup roots where "/$CTRD_NS/<id>" would be created.
_ctrd_cgroup_dirs() {
	local d
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		printf '%s\n' /sys/fs/cgroup
		return
	fi
	for d in /sys/fs/cgroup/*/; do
		d=${d%/}
		[ -L "$d" ] && continue
		printf '%s\n' "$d"
	done
}

ctrd_start() {
	if [ -n "$CTRD_PID" ]; then
		_ctrd_log "ctrd_start: already running (pid $CTRD_PID)"
		return 1
	fi
	local ctrd_bin ctrd_ver cfg_ver=2 more_disabled=
	ctrd_bin=$(command -v containerd) || { _ctrd_log "containerd not found"; return 1; }
	command -v ctr >/dev/null || { _ctrd_log "ctr not found"; return 1; }
	ctrd_ver=$(ctrd_version "$ctrd_bin")
	# 1.7+: NRI (would serve /var/run/nri/nri.sock; on by default in 2.x).
	# 2.x: config version 3 (2 is still migrated), CRI split into plugins.
	case $ctrd_ver in
	1.[0-6] | 1.[0-6].* | "") ;;
	1.*) more_disabled='  "io.containerd.nri.v1.nri",
' ;;
	*)
		cfg_ver=3
		more_disabled='  "io.containerd.nri.v1.nri",
  "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime",
  "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs",
'
		;;
	esac

	local cg
	CTRD_NEW_CGROUPS=()
	while IFS= read -r cg; do
		[ -d "$cg/$CTRD_NS" ] || CTRD_NEW_CGROUPS+=("$cg/$CTRD_NS")
	done < <(_ctrd_cgroup_dirs)

	# short path: unix socket paths are limited to 108 bytes
	CTRD_DIR=$(mktemp -d /tmp/ctrd.XXXXXX) || return 1
	CTRD_SOCK=$CTRD_DIR/c.sock
	CTRD_STATE=$CTRD_DIR/state
	CTRD_LOG=$CTRD_DIR/containerd.log
	mkdir -p "$CTRD_DIR/root" "$CTRD_STATE" "$CTRD_DIR/fifo"
	local disabled='  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
'"$more_disabled" snap more_plugins=
	local cri=
	if [ -n "${CTRD_CRI_CONFIG:-}" ]; then
		disabled=$(printf '%s\n' "$disabled" | grep -vE '"io.containerd.(grpc.v1.cri|cri.v1.images|cri.v1.runtime|podsandbox.controller.v1.podsandbox)"')
		disabled+=$'\n'
		mkdir -p "$CTRD_DIR/cni/bin" "$CTRD_DIR/cni/conf"
		cri=$(grep -v '^version *=' "$CTRD_CRI_CONFIG")
		if [ "$cfg_ver" = 3 ]; then
			cri+="
[plugins.\"io.containerd.cri.v1.images\".pinned_images]
  sandbox = \"localhost/pause:cri\"
[plugins.\"io.containerd.cri.v1.runtime\"]
  restrict_oom_score_adj = true
[plugins.\"io.containerd.cri.v1.runtime\".cni]
  bin_dir = \"$CTRD_DIR/cni/bin\"
  conf_dir = \"$CTRD_DIR/cni/conf\"
[plugins.\"io.containerd.grpc.v1.cri\"]
  stream_server_port = \"0\""
		else
			cri+="
[plugins.\"io.containerd.grpc.v1.cri\"]
  sandbox_image = \"localhost/pause:cri\"
  stream_server_port = \"0\"
  restrict_oom_score_adj = true
  [plugins.\"io.containerd.grpc.v1.cri\".cni]
    bin_dir = \"$CTRD_DIR/cni/bin\"
    conf_dir = \"$CTRD_DIR/cni/conf\""
		fi
	fi
	for snap in ${CTRD_SNAPSHOTTERS:-}; do
		disabled=$(printf '%s\n' "$disabled" | grep -v "snapshotter.v1.$snap\"")
		disabled+=$'\n'
	done
	chmod 0711 "$CTRD_DIR" "$CTRD_DIR/root" "$CTRD_STATE"
	case " ${CTRD_SNAPSHOTTERS:-} " in
	*" blockfile "*)
		mkfs.ext4 -q -F "$CTRD_DIR/scratch.ext4" 32M >/dev/null || return 1
		more_plugins="  [plugins.\"io.containerd.snapshotter.v1.blockfile\"]
    scratch_file = \"$CTRD_DIR/scratch.ext4\"
    fs_type = \"ext4\"
    mount_options = []
    recreate_scratch = true"
		;;
	esac
	cat >"$CTRD_DIR/config.toml" <<EOF
version = $cfg_ver
root = "$CTRD_DIR/root"
state = "$CTRD_STATE"
disabled_plugins = [
$disabled]

[grpc]
  address = "$CTRD_SOCK"

[ttrpc]
  address = "$CTRD_SOCK.ttrpc"

[debug]
  address = ""
  level = "${CTRD_LOG_LEVEL:-info}"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.gc.v1.scheduler"]
    startup_delay = "100ms"
$more_plugins
$cri
EOF
	PATH="$SHIM_DIR${CTRD_EXTRA_PATH:+:$CTRD_EXTRA_PATH}:$PATH" "$ctrd_bin" --config "$CTRD_DIR/config.toml" \
		>"$CTRD_LOG" 2>&1 </dev/null &
	CTRD_PID=$!

	local i
	for ((i = 0; i < 200; i++)); do
		if ! kill -0 "$CTRD_PID" 2>/dev/null; then
			_ctrd_log "containerd exited during startup; log:"
			tail -n 20 "$CTRD_LOG" >&2
			CTRD_PID=
			ctrd_stop
			return 1
		fi
		if [ -S "$CTRD_SOCK" ] && ctr --address "$CTRD_SOCK" version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	_ctrd_log "containerd did not come up in 10s; log:"
	tail -n 20 "$CTRD_LOG" >&2
	ctrd_stop
	return 1
}

# ctrd_halt / ctrd_resume: stop containerd (SIGTERM; its shims go on) and
# start it again on the same config, state and socket (it finds its shims
# again, or cleans up after those that died), in a session of its own.
# CTRD_PID follows, and $CTRD_DIR/containerd.pid says the new pid to a
# caller that runs this in a subshell (tests/integration/run.sh reads it).
ctrd_halt() {
	local i
	[ -n "$CTRD_PID" ] || return 1
	kill -TERM "$CTRD_PID" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.05
	done
	! kill -0 "$CTRD_PID" 2>/dev/null
}
ctrd_resume() {
	local i ctrd_bin
	ctrd_bin=$(command -v containerd) || return 1
	PATH="$SHIM_DIR${CTRD_EXTRA_PATH:+:$CTRD_EXTRA_PATH}:$PATH" setsid "$ctrd_bin" \
		--config "$CTRD_DIR/config.toml" >>"$CTRD_LOG" 2>&1 </dev/null &
	CTRD_PID=$!
	echo "$CTRD_PID" >"$CTRD_DIR/containerd.pid"
	for ((i = 0; i < 400; i++)); do
		ctr --address "$CTRD_SOCK" version >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	_ctrd_log "containerd did not come back"
	return 1
}

# ctr_ ARGS...: ctr against the private containerd, with a timeout so a hung
# shim cannot hang the caller forever (exit 124 on timeout).
ctr_() {
	timeout --foreground -k 5 "$CTR_TIMEOUT" ctr --address "$CTRD_SOCK" -n "$CTRD_NS" "$@"
}

# ctr_fifo_dir: per-instance FIFO dir for `ctr run --fifo-dir`
ctr_fifo_dir() { printf '%s\n' "$CTRD_DIR/fifo"; }

# shim_pids [ID]: pids of shim processes serving our private containerd,
# optionally only the one for container ID.  A shim is a process whose
# command line mentions containerd-shim and either names "$CTRD_SOCK"
# (the Go shim passes "-address <containerd socket>") or whose environment
# has TTRPC_ADDRESS=$CTRD_SOCK.ttrpc (set by containerd for every shim, kept
# even if the daemon re-execs itself with other arguments).
# Prints nothing if no containerd was started.
shim_pids() {
	local id=${1:-} p f cmd
	[ -n "$CTRD_SOCK" ] || return 0
	# grep narrows the scan to the few processes naming our socket
	while IFS= read -r f; do
		p=${f#/proc/}
		p=${p%/*}
		[ "$p" = "$CTRD_PID" ] && continue
		cmd=$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null) || continue
		case "$cmd" in
		*containerd-shim*) ;;
		*) continue ;;
		esac
		case " $cmd" in
		*" -address $CTRD_SOCK "* | *" -address=$CTRD_SOCK "*) ;;
		*)
			{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
				grep -qxF "TTRPC_ADDRESS=$CTRD_SOCK.ttrpc" || continue
			;;
		esac
		if [ -n "$id" ]; then
			case " $cmd" in
			*" -id $id "* | *" -id=$id "*) ;;
			*) continue ;;
			esac
		fi
		printf '%s\n' "$p"
	done < <(grep -lsaF -- "$CTRD_SOCK" /proc/[0-9]*/cmdline /proc/[0-9]*/environ | sort -t/ -k3,3n -u) |
		_shim_roots
}

# _shim_roots: of the pids read, those whose parent is not among them: a
# shim's child between its clone and its exec (a runc job starting) still
# has the shim's command line, and is not another shim
_shim_roots() {
	local -a all=()
	local p s pp
	mapfile -t all
	for p in "${all[@]}"; do
		s=$({ cat "/proc/$p/stat"; } 2>/dev/null) || continue
		s=${s##*) }
		s=${s#* }
		pp=${s%% *}
		case " ${all[*]} " in *" $pp "*) continue ;; esac
		printf '%s\n' "$p"
	done
}

# _shim_id PID: the -id argument of a shim's command line
_shim_id() {
	{ tr '\0' '\n' <"/proc/$1/cmdline"; } 2>/dev/null | awk 'prev == "-id" { print; exit } { prev = $0 }'
}

# bundle_dir ID: the task bundle containerd made for container ID
bundle_dir() {
	printf '%s\n' "$CTRD_STATE/io.containerd.runtime.v2.task/$CTRD_NS/$1"
}

# _ctrd_shim_sockets: socket paths named by our bundles' "address" files
_ctrd_shim_sockets() {
	local f a
	[ -n "$CTRD_STATE" ] || return 0
	for f in "$CTRD_STATE"/io.containerd.runtime.v2.task/*/*/address; do
		[ -f "$f" ] || continue
		a=$(<"$f")
		a=${a#unix://}
		case $a in /*) printf '%s\n' "$a" ;; esac
	done
}

# _ctrd_cgroup_procs ID...: pids in the cgroups of those containers
# (ctr's default cgroup path is /<namespace>/<id>)
_ctrd_cgroup_procs() {
	local cg id
	[ $# -gt 0 ] || return 0
	while IFS= read -r cg; do
		for id in "$@"; do
			[ -d "$cg/$CTRD_NS/$id" ] || continue
			find "$cg/$CTRD_NS/$id" -name cgroup.procs -exec cat {} + 2>/dev/null
		done
	done < <(_ctrd_cgroup_dirs) | sort -un
}

# ctrd_cleanup_containers: best-effort removal of every task/container in our
# namespace (used by ctrd_stop, and by test runners between tests).
ctrd_cleanup_containers() {
	local ids id
	[ -n "$CTRD_PID" ] || return 0
	ids=$(CTR_TIMEOUT=10 ctr_ containers ls -q 2>/dev/null) || return 0
	for id in $ids; do
		CTR_TIMEOUT=10 ctr_ task kill -s SIGKILL "$id" >/dev/null 2>&1
		CTR_TIMEOUT=10 ctr_ task rm -f "$id" >/dev/null 2>&1
		CTR_TIMEOUT=10 ctr_ containers rm "$id" >/dev/null 2>&1
	done
}

ctrd_stop() {
	local p i pids ids socks mnt
	if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		ctrd_cleanup_containers
	fi
	# shims still alive, and the container ids they serve (for runc delete)
	pids=$(shim_pids "")
	ids=$(
		for p in $pids; do _shim_id "$p"; done
		[ -n "$CTRD_STATE" ] && for p in "$CTRD_STATE/io.containerd.runtime.v2.task/$CTRD_NS"/*/; do
			[ -d "$p" ] && basename "$p"
		done
	)
	ids=$(printf '%s\n' "$ids" | sort -u)
	socks=$(_ctrd_shim_sockets)
	if [ -n "$CTRD_PID" ]; then
		kill -TERM "$CTRD_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$CTRD_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$CTRD_PID" 2>/dev/null
		wait "$CTRD_PID" 2>/dev/null
	fi
	# shims that are still around (e.g. the test killed things uncleanly)
	pids="$pids $(shim_pids "")"
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	# container processes orphaned by killed shims
	# shellcheck disable=SC2086 # ids are words
	for p in $(_ctrd_cgroup_procs $ids); do kill -KILL "$p" 2>/dev/null; done
	# sockets of killed shims (a clean shim removes its own)
	for p in $socks; do
		[ -S "$p" ] && rm -f "$p"
	done
	# runc state left by a killed shim (runc root is global in containerd 1.6)
	for p in $ids; do
		[ -d "/run/containerd/runc/$CTRD_NS/$p" ] || continue
		runc --root "/run/containerd/runc/$CTRD_NS" delete -f "$p" >/dev/null 2>&1
	done
	# unmount anything left under our folder (deepest first)
	if [ -n "$CTRD_DIR" ] && [ -d "$CTRD_DIR" ]; then
		for ((i = 0; i < 3; i++)); do
			mnt=$(awk -v d="$CTRD_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
			[ -n "$mnt" ] || break
			for p in $mnt; do umount -l "$p" 2>/dev/null; done
		done
		if [ "${CTRD_KEEP_LOG:-0}" = 1 ] && [ -f "$CTRD_LOG" ]; then
			cp "$CTRD_LOG" "/tmp/containerd-$(basename "$CTRD_DIR").log" 2>/dev/null
		fi
		rm -rf "$CTRD_DIR"
	fi
	# empty cgroup parents we caused to be created (rmdir fails if in use)
	for p in "${CTRD_NEW_CGROUPS[@]}"; do
		[ -d "$p" ] || continue
		find "$p" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	CTRD_PID='' CTRD_DIR='' CTRD_SOCK='' CTRD_STATE=''
	CTRD_NEW_CGROUPS=()
	return 0
}

# make_busybox_rootfs DIR: busybox-static rootfs (one copy can be shared by
# concurrent non-read-only containers: runc only mounts inside its own mount ns).
make_busybox_rootfs() {
	local dir=$1 bb a
	bb=${BUSYBOX:-/bin/busybox}
	[ -x "$bb" ] || { _ctrd_log "no $bb (apt-get install busybox-static)"; return 1; }
	if ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
		_ctrd_log "$bb is not statically linked (apt-get install busybox-static)"
		return 1
	fi
	mkdir -p "$dir"/{bin,etc,proc,sys,dev,tmp,run,root} || return 1
	chmod 1777 "$dir/tmp"
	cp "$bb" "$dir/bin/busybox" || return 1
	for a in $("$dir/bin/busybox" --list); do
		case $a in busybox | */* | '[[') continue ;; esac
		ln -sf busybox "$dir/bin/$a"
	done
	ln -sfn bin "$dir/sbin"
	mkdir -p "$dir/usr"
	ln -sfn ../bin "$dir/usr/bin"
	cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
	cat >"$dir/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
	echo container >"$dir/etc/hostname"
}

# ctr_import_busybox NAME [ROOTFS] [CMD_JSON]: the busybox rootfs
# (make_busybox_rootfs) as a one-layer OCI image whose Cmd is CMD_JSON
# (default ["sh"]), imported into the private containerd as NAME (e.g.
# localhost/busybox:test), for tests that need a snapshotter.
ctr_import_busybox() {
	local name=$1 rootfs=${2:-$CTRD_DIR/rootfs} cmd=${3:-'["sh"]'} out=$CTRD_DIR/image
	rm -rf "$out"
	mkdir -p "$out" || return 1
	tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$out/layer.tar" . || return 1
	python3 - "$out" "$name" "$cmd" <<'PY' || return 1
import hashlib, json, os, sys, tarfile
out, name, cmd = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
layout = os.path.join(out, "oci")
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)
layer, lsize = blob(open(os.path.join(out, "layer.tar"), "rb").read())
arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "riscv64": "riscv64"}.get(os.uname().machine, os.uname().machine)
cfg, csize = blob(json.dumps({"architecture": arch, "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": cmd},
    "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode())
man, msize = blob(json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": csize},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": lsize}]}).encode())
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man, "size": msize,
        "platform": {"architecture": arch, "os": "linux"},
        "annotations": {"io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}}]}, f)
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with tarfile.open(os.path.join(out, "image.tar"), "w") as t:
    for n in ("oci-layout", "index.json", "blobs"):
        t.add(os.path.join(layout, n), n)
PY
	ctr_ image import "$out/image.tar" >/dev/null || return 1
	ctr_ image ls -q | grep -qx "$name"
}

# ctrd_cri_images: localhost/busybox:cri and the sandbox image
# localhost/pause:cri (busybox, Cmd sleep 86400) in CRI's namespace k8s.io
ctrd_cri_images() {
	[ -d "$CTRD_DIR/rootfs/bin" ] || make_busybox_rootfs "$CTRD_DIR/rootfs" || return 1
	CTRD_NS=k8s.io ctr_import_busybox localhost/busybox:cri "$CTRD_DIR/rootfs" &&
		CTRD_NS=k8s.io ctr_import_busybox localhost/pause:cri "$CTRD_DIR/rootfs" '["sleep", "86400"]'
}

# rss_kb PID: resident set size of PID in kB (empty if gone)
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}
