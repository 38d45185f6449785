#!/busybox sh
# shellcheck shell=dash
# /init of the tests/vm guests (runs as pid 1 in the initramfs).
#
# Kernel command line: vmprofile=v2|initramfs|aarch64 vmrepo=PATH.  The
# guest's root (the host's, or the aarch64 board's) comes read-only over 9p
# (tag hostroot), the checkout read-only (tag repo, mounted at PATH), the
# results folder read-write (tag results), where the host put guest.sh, the
# command to run.  Whatever happens, the guest powers off: a fallback shell
# would hang the run.
B=/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
off() { $B sync; $B poweroff -f; }
trap off EXIT
for m in $($B cat /modules/order); do $B insmod "/modules/$m" || echo "init: insmod $m failed"; done
profile=v2 repo=
for a in $($B cat /proc/cmdline); do
	case $a in
	vmprofile=*) profile=${a#vmprofile=} ;;
	vmrepo=*) repo=${a#vmrepo=} ;;
	esac
done
$B mkdir -p /host /results
o=trans=virtio,version=9p2000.L,msize=262144
$B mount -t 9p -o "$o,ro,cache=loose" hostroot /host || { echo "init: no 9p root"; off; }
$B mount -t 9p -o "$o" results /results || { echo "init: no results share"; off; }
kmods=$($B cat /modules/kdir)

# the place the command runs in: NR (new root), then what is mounted there
case $profile in
initramfs)
	# stay on the initramfs (rootfs: pivot_root is impossible here); the
	# host's /usr, /etc and the checkout are bound in, the rest is tmpfs
	NR=
	for d in usr etc; do
		$B mkdir -p "/$d"
		$B mount --bind "/host/$d" "/$d"
	done
	for d in bin sbin lib lib64; do
		[ -e "/$d" ] || $B ln -s "usr/$d" "/$d"
	done
	;;
*)
	# an overlay of the host's root (tmpfs on top), then switch_root
	$B mkdir -p /up /newroot
	$B mount -t tmpfs -o size=1g tmpfs /up
	$B mkdir -p /up/u /up/w
	$B mount -t overlay overlay -o lowerdir=/host,upperdir=/up/u,workdir=/up/w /newroot ||
		{ echo "init: overlay failed"; off; }
	NR=/newroot
	$B mkdir -p $NR/results
	$B mount --move /results $NR/results
	;;
esac
$B mkdir -p $NR/proc $NR/sys $NR/dev $NR/tmp $NR/run $NR/root $NR/var/lib/containerd
[ -n "$NR" ] && { $B mount -t proc proc $NR/proc; $B mount -t sysfs sys $NR/sys; $B mount -t devtmpfs dev $NR/dev; }
for d in tmp run root var/lib/containerd; do $B mount -t tmpfs -o size=1g tmpfs "$NR/$d"; done
$B chmod 1777 $NR/tmp
$B mkdir -p $NR/dev/pts $NR/dev/shm $NR/dev/mqueue
$B ln -sf /proc/self/fd $NR/dev/fd
$B ln -sf /proc/self/fd/0 $NR/dev/stdin
$B ln -sf /proc/self/fd/1 $NR/dev/stdout
$B ln -sf /proc/self/fd/2 $NR/dev/stderr
$B mount -t devpts -o newinstance,ptmxmode=0666 devpts $NR/dev/pts
$B mount -t tmpfs tmpfs $NR/dev/shm
$B mount -t mqueue mqueue $NR/dev/mqueue 2>/dev/null
$B mount -t cgroup2 cgroup2 $NR/sys/fs/cgroup || { echo "init: no cgroup2"; off; }
# the checkout at its own path, whatever was mounted over its parents
# (a clone under /tmp is under the guest's tmpfs otherwise)
$B mkdir -p "$NR$repo"
$B mount -t 9p -o "$o,ro,cache=loose" repo "$NR$repo" || { echo "init: no repo share"; off; }
# controllers for the children, as a systemd host has them
for c in $($B cat $NR/sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >$NR/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
done
# the guest kernel's modules where modprobe looks (over the host's own;
# the aarch64 board's root has its kernel's: kdir is empty)
if [ -n "$kmods" ] && [ -d "$NR/lib/modules" ]; then
	$B mount -t tmpfs tmpfs "$NR/lib/modules"
	$B mkdir -p "$NR/lib/modules/$($B uname -r)"
	$B mount --bind "$NR$kmods" "$NR/lib/modules/$($B uname -r)"
fi
echo "init: profile $profile, root $($B stat -f -c %T ${NR:-/}), $($B uname -r), up $($B cut -d' ' -f1 /proc/uptime) s"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
if [ -n "$NR" ]; then
	trap - EXIT
	exec $B switch_root $NR /bin/bash /results/guest.sh
fi
/bin/bash /results/guest.sh
