#!/usr/bin/env bash
# Run a command in the project's checkout inside a qemu guest (TCG), and
# return its exit status and output.
#
#   tests/vm/run.sh [-p v2|initramfs|aarch64] [-t SECS] [--] CMD [ARG...]
#
# Profiles (the kernel is Debian bookworm's 6.1: tests/vm/kernel.pin, for
# aarch64 tests/vm/arm64.pin):
#   v2         cgroup v2 only (cgroup_no_v1=all), controllers enabled; the
#              root is the host's root over 9p, read-only, under a tmpfs
#              overlay (switch_root)
#   initramfs  the guest stays on its initramfs (rootfs: no pivot_root),
#              with the host's /usr, /etc and /work bound in; cgroup v2
#   aarch64    an emulated aarch64 board (qemu-system-aarch64 -M virt -cpu
#              cortex-a72): Debian's arm64 kernel and an arm64 root of
#              Debian's packages (tests/vm/fetch-arm64.sh) over 9p,
#              read-only, under a tmpfs overlay; cgroup v2 only
# All: /tmp, /run, /root and /var/lib/containerd are tmpfs, 2 vCPUs, 2 GiB,
# no network; the checkout is at its own path, read-only (its own 9p share,
# so a clone under /tmp works too).  The command runs as root with the checkout as its cwd; its
# output goes to the console (prefixed "| ") and to the results folder.
#
# Nothing on the host changes: the guest's root is exported as a read-only,
# non-recursive bind made inside a private mount namespace (unshare -m);
# the guest's writes go to its tmpfs.  Exit status: the command's, 124 if
# the guest watchdog (-t, default 3000 s) fired, 125 if the guest did not
# report one.
#
# VM_KEEP=1 keeps the results folder (its path is printed).  VM_OUT=DIR:
# what the command wrote to /results/out in the guest is copied to DIR.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
profile=v2 limit=3000
while [ $# -gt 0 ]; do
	case $1 in
	-p) profile=$2; shift 2 ;;
	-t) limit=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-p v2|initramfs|aarch64] [-t SECS] CMD..." >&2; exit 2; }
case $profile in
v2 | initramfs) QEMU=qemu-system-x86_64 ;;
aarch64) QEMU=qemu-system-aarch64 ;;
*) echo "unknown profile $profile" >&2; exit 2 ;;
esac
command -v $QEMU >/dev/null || { echo "vm: no $QEMU (make deps)" >&2; exit 1; }

case $REPO in *[[:space:]]*) echo "vm: the checkout's path has a space: $REPO" >&2; exit 1 ;; esac
# the kernel (KERNEL, its modules in MODS), the initramfs's busybox, the
# guest's root (ROOT; empty: the host's own) and the path of the modules
# there when the root does not have them (KMODS)
if [ "$profile" = aarch64 ]; then
	BOARD=$("$HERE/fetch-arm64.sh")
	ROOT=$BOARD/root KERNEL=$BOARD/Image BUSYBOX=$ROOT/usr/bin/busybox
	KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*)")
	MODS=$ROOT/lib/modules/$KVER KMODS=''
else
	KDIR=$("$HERE/fetch-kernel.sh")
	ROOT='' KERNEL=$KDIR/vmlinux BUSYBOX=/bin/busybox
	KVER=$(basename "$(ls -d "$KDIR"/lib/modules/*)")
	MODS=$KDIR/lib/modules/$KVER KMODS=$MODS
fi
WORK=$(mktemp -d /tmp/vm.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ "${VM_KEEP:-0}" = 1 ]; then
		echo "# vm: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# ---- the initramfs: busybox, the modules for 9p and overlay, /init
IR=$WORK/initramfs
mkdir -p "$IR/modules" "$IR/dev"
cp "$BUSYBOX" "$IR/busybox"
cp "$HERE/init.sh" "$IR/init"
chmod 755 "$IR/init"
mknod -m 600 "$IR/dev/console" c 5 1
dep=$MODS/modules.dep
want="virtio_pci 9pnet_virtio 9p overlay loop"
order=()
add_mod() { # add_mod PATH: its dependencies first (modules.dep order)
	local m=$1 d
	# shellcheck disable=SC2013 # module paths have no spaces
	for d in $(awk -v m="$m:" '$1 == m { $1 = ""; print }' "$dep"); do add_mod "$d"; done
	case " ${order[*]-} " in *" $m "*) return ;; esac
	order+=("$m")
}
for w in $want; do
	# built into this kernel: nothing to load
	grep -q "/$w\.ko\$" "$MODS/modules.builtin" 2>/dev/null && continue
	p=$(awk -F: -v w="/$w.ko" 'index($1, w) && substr($1, length($1) - length(w) + 1) == w { print $1; exit }' "$dep")
	[ -n "$p" ] || { echo "vm: module $w not in $dep" >&2; exit 1; }
	add_mod "$p"
done
: >"$IR/modules/order"
for m in "${order[@]}"; do
	cp "$MODS/$m" "$IR/modules/"
	basename "$m" >>"$IR/modules/order"
done
printf '%s\n' "$KMODS" >"$IR/modules/kdir"
(cd "$IR" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$WORK/initramfs.cpio"

# ---- the command, and the results folder it reports to
RES=$WORK/results
mkdir -p "$RES"
cat >"$RES/guest.sh" <<GUEST
#!/bin/bash
# written by tests/vm/run.sh
(sleep $limit; echo "vm: watchdog: $limit s passed"; echo 124 >/results/rc; sync; busybox poweroff -f) &
cd $(printf '%q' "$REPO") || { echo 1 >/results/rc; busybox poweroff -f; }
export VM_PROFILE=$profile COMPARE=$(printf '%q' "${COMPARE:-}")
$(printf '%q ' "$@") > >(tee /results/log | sed -u 's/^/| /') 2>&1
echo \$? >/results/rc
sleep 0.2
sync
busybox poweroff -f
GUEST
chmod 755 "$RES/guest.sh"

# ---- the guest's root (the host's, or the board's), bound read-only in a
# mount namespace of our own
EXPORT=$WORK/root
mkdir -p "$EXPORT"
start=$SECONDS
rc=0
share=(
	-virtfs "local,path=$EXPORT,mount_tag=hostroot,security_model=none,readonly=on"
	-virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on"
	-virtfs "local,path=$RES,mount_tag=results,security_model=none"
	-display none -monitor none -nic none -no-reboot
)
cmdline="panic=-1 cgroup_no_v1=all quiet loglevel=3 vmprofile=$profile vmrepo=$REPO"
if [ "$profile" = aarch64 ]; then
	machine=(-M virt -cpu cortex-a72 -kernel "$KERNEL" -append "console=ttyAMA0 $cmdline")
else
	machine=(-cpu max -kernel "$KERNEL" -append "console=ttyS0 $cmdline")
fi
# shellcheck disable=SC2016 # the inner script's own $1 and $2
unshare -m --propagation private bash -c '
	set -e
	mount --bind "${2:-/}" "$1"
	mount -o remount,bind,ro "$1"
	shift 2
	exec "$@"
' vm "$EXPORT" "$ROOT" timeout -k 10 "$((limit + 120))" $QEMU \
	-accel tcg,thread=multi -smp 2 -m 2048 "${machine[@]}" -initrd "$WORK/initramfs.cpio" \
	"${share[@]}" -serial stdio </dev/null || rc=$?
echo "# vm: $profile guest ran $((SECONDS - start)) s (qemu status $rc)"
if [ -n "${VM_OUT:-}" ] && [ -d "$RES/out" ]; then
	mkdir -p "$VM_OUT" && cp -r "$RES/out/." "$VM_OUT/"
fi
if [ -f "$RES/rc" ]; then
	exit "$(cat "$RES/rc")"
fi
echo "# vm: the guest reported no exit status" >&2
exit 125
