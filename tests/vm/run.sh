#!/usr/bin/env bash
# Run a command in the project's checkout inside a qemu guest (TCG), and
# return its exit status and output.
#
#   tests/vm/run.sh [-p v2|initramfs] [-t SECS] [--] CMD [ARG...]
#
# Profiles (the kernel is Debian bookworm's 6.1, tests/vm/kernel.pin):
#   v2         cgroup v2 only (cgroup_no_v1=all), controllers enabled; the
#              root is the host's root over 9p, read-only, under a tmpfs
#              overlay (switch_root)
#   initramfs  the guest stays on its initramfs (rootfs: no pivot_root),
#              with the host's /usr, /etc and /work bound in; cgroup v2
# Both: /tmp, /run, /root and /var/lib/containerd are tmpfs, 2 vCPUs, 2 GiB,
# no network; the checkout is at its own path, read-only (its own 9p share,
# so a clone under /tmp works too).  The command runs as root with the checkout as its cwd; its
# output goes to the console (prefixed "| ") and to the results folder.
#
# Nothing on the host changes: the root is exported as a read-only,
# non-recursive bind made inside a private mount namespace (unshare -m);
# the guest's writes go to its tmpfs.  Exit status: the command's, 124 if
# the guest watchdog (-t, default 3000 s) fired, 125 if the guest did not
# report one.
#
# VM_KEEP=1 keeps the results folder (its path is printed).
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
[ $# -gt 0 ] || { echo "usage: $0 [-p v2|initramfs] [-t SECS] CMD..." >&2; exit 2; }
case $profile in v2 | initramfs) ;; *) echo "unknown profile $profile" >&2; exit 2 ;; esac
command -v qemu-system-x86_64 >/dev/null || { echo "vm: no qemu-system-x86_64 (make deps)" >&2; exit 1; }

case $REPO in *[[:space:]]*) echo "vm: the checkout's path has a space: $REPO" >&2; exit 1 ;; esac
KDIR=$("$HERE/fetch-kernel.sh")
KVER=$(basename "$(ls -d "$KDIR"/lib/modules/*)")
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
cp /bin/busybox "$IR/busybox"
cp "$HERE/init.sh" "$IR/init"
chmod 755 "$IR/init"
mknod -m 600 "$IR/dev/console" c 5 1
dep=$KDIR/lib/modules/$KVER/modules.dep
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
	p=$(awk -F: -v w="/$w.ko" 'index($1, w) && substr($1, length($1) - length(w) + 1) == w { print $1; exit }' "$dep")
	[ -n "$p" ] || { echo "vm: module $w not in $dep" >&2; exit 1; }
	add_mod "$p"
done
: >"$IR/modules/order"
for m in "${order[@]}"; do
	cp "$KDIR/lib/modules/$KVER/$m" "$IR/modules/"
	basename "$m" >>"$IR/modules/order"
done
printf '%s\n' "$KDIR/lib/modules/$KVER" >"$IR/modules/kdir"
(cd "$IR" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$WORK/initramfs.cpio"

# ---- the command, and the results folder it reports to
RES=$WORK/results
mkdir -p "$RES"
cat >"$RES/guest.sh" <<GUEST
#!/bin/bash
# written by tests/vm/run.sh
(sleep $limit; echo "vm: watchdog: $limit s passed"; echo 124 >/results/rc; sync; busybox poweroff -f) &
cd $(printf '%q' "$REPO") || { echo 1 >/results/rc; busybox poweroff -f; }
export VM_PROFILE=$profile
$(printf '%q ' "$@") > >(tee /results/log | sed -u 's/^/| /') 2>&1
echo \$? >/results/rc
sleep 0.2
sync
busybox poweroff -f
GUEST
chmod 755 "$RES/guest.sh"

# ---- the host's root, read-only, in a mount namespace of our own
EXPORT=$WORK/root
mkdir -p "$EXPORT"
start=$SECONDS
rc=0
# shellcheck disable=SC2016 # the inner script's own $1
unshare -m --propagation private bash -c '
	set -e
	mount --bind / "$1"
	mount -o remount,bind,ro "$1"
	shift
	exec "$@"
' vm "$EXPORT" timeout -k 10 "$((limit + 120))" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
	-kernel "$KDIR/vmlinux" -initrd "$WORK/initramfs.cpio" \
	-append "console=ttyS0 panic=-1 cgroup_no_v1=all quiet loglevel=3 vmprofile=$profile vmrepo=$REPO" \
	-virtfs "local,path=$EXPORT,mount_tag=hostroot,security_model=none,readonly=on" \
	-virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on" \
	-virtfs "local,path=$RES,mount_tag=results,security_model=none" \
	-display none -serial stdio -monitor none -nic none -no-reboot </dev/null || rc=$?
echo "# vm: $profile guest ran $((SECONDS - start)) s (qemu status $rc)"
if [ -f "$RES/rc" ]; then
	exit "$(cat "$RES/rc")"
fi
echo "# vm: the guest reported no exit status" >&2
exit 125
