#!/usr/bin/env bash
# The install paths an operator uses (make test-packaging):
#
#   tests/packaging/run.sh [NAME...]
#
#   install      make install / uninstall with DESTDIR, PREFIX and BINDIR
#   deb          make deb for this host's architecture: lintian (no error, a
#                manual page that groff and lexgrog read),
#                dpkg -i, a container through a private containerd that finds
#                the installed /usr/bin binary, dpkg --purge leaves nothing
#   deb_upgrade  a package upgrade (dpkg -i of a newer version) upgrades the
#                shims already running in place (postinst), and the opt-out
#                in /etc/default/containerd-shim-runc-v2-c leaves them be
#   cri_1x       examples/containerd-1.x-config.toml in Debian's containerd
#                1.6: a pod and a container over CRI with handler runc-c,
#                served by this shim (examples/runtimeclass.yaml's handler)
#   cri_2x       examples/containerd-2.x-config.toml likewise in containerd
#                2.1 (tests/compat/fetch-containerd.sh sid)
#   release      make release: every architecture twice, byte-identical
#
# Prints "ok NAME" / "FAIL NAME: why" and "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
PKG=containerd-shim-runc-v2-c
pass=0 fail=0
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL $1: $2"
	sed 's/^/    /' "$LOG" | tail -n 30
	fail=$((fail + 1))
}
want() { [ ${#NAMES[@]} -eq 0 ] && return 0; local n; for n in "${NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
NAMES=("$@")

t_install() {
	local d
	d=$(mktemp -d)
	make -s install DESTDIR="$d" PREFIX=/opt/shim BINDIR=/opt/shim/sbin || return 1
	[ -x "$d/opt/shim/sbin/$PKG" ] || { echo "no $d/opt/shim/sbin/$PKG"; return 1; }
	cmp "$d/opt/shim/sbin/$PKG" build/$PKG || return 1
	for f in README.md LICENSE examples/runtimeclass.yaml examples/containerd-1.x-config.toml \
		examples/containerd-2.x-config.toml; do
		[ -f "$d/opt/shim/share/doc/$PKG/$f" ] || { echo "no doc $f"; return 1; }
	done
	[ -f "$d/opt/shim/share/man/man8/$PKG.8" ] || { echo "no manual page under PREFIX"; return 1; }
	make -s install DESTDIR="$d" || return 1
	[ -x "$d/usr/local/bin/$PKG" ] || { echo "PREFIX default is not /usr/local"; return 1; }
	make -s uninstall DESTDIR="$d" PREFIX=/opt/shim BINDIR=/opt/shim/sbin || return 1
	make -s uninstall DESTDIR="$d" || return 1
	left=$(find "$d" -type f)
	rm -rf "$d"
	[ -z "$left" ] || { echo "left after uninstall: $left"; return 1; }
}

# run_one_container ID: a busybox container of a private containerd whose
# PATH has SHIM_DIR; its output, and the shim binary that served it
run_one_container() {
	local out exe sp
	(
		# shellcheck source=../lib/containerd.sh
		. tests/lib/containerd.sh
		trap ctrd_stop EXIT
		ctrd_start || exit 1
		make_busybox_rootfs "$CTRD_DIR/rootfs" || exit 1
		ctr_ run -d --runtime io.containerd.runc.v2-c --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin --rootfs "$CTRD_DIR/rootfs" "$1" sh -c 'echo hello from the package; exec sleep 30' >/dev/null || exit 1
		sp=$(shim_pids "$1")
		exe=$(readlink "/proc/$sp/exe")
		echo "shim: $exe"
		ctr_ task kill -s SIGKILL "$1"
		# (ctr 1.6 has no `task wait`): until the exit is reported, which
		# waits up to 2 s for a reader of the unread "hello" (none here)
		local i
		for ((i = 0; i < 200; i++)); do
			ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }' | grep -qx STOPPED && break
			sleep 0.1
		done
		ctr_ task rm "$1" >/dev/null 2>&1
		ctr_ container rm "$1"
	)
}

t_deb() {
	local arch debarch deb out
	case $(uname -m) in x86_64) arch=x86_64 debarch=amd64 ;; aarch64) arch=aarch64 debarch=arm64 ;;
	armv7l) arch=armhf debarch=armhf ;; riscv64) arch=riscv64 debarch=riscv64 ;;
	*) echo "no package for $(uname -m)"; return 1 ;; esac
	if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; then
		echo "$PKG is installed on this host already; not replacing it"
		return 1
	fi
	make -s deb DEB_ARCHES="$arch" || return 1
	deb=build/$arch/${PKG}_$(make -s -f Makefile --eval 'v: ; @echo $(VERSION)' v)_$debarch.deb
	[ -f "$deb" ] || { echo "no $deb"; return 1; }
	dpkg-deb -f "$deb" Depends | grep -q . && { echo "Depends is not empty"; return 1; }
	dpkg-deb -f "$deb" Recommends | grep -qx 'containerd, runc' || { echo "Recommends: $(dpkg-deb -f "$deb" Recommends)"; return 1; }
	out=$(lintian "$deb" 2>&1 | grep -v 'running with root privileges')
	echo "lintian: ${out:-clean}"
	echo "$out" | grep -q '^E:' && { echo "lintian errors"; return 1; }
	echo "$out" | grep -q 'no-manual-page' && { echo "lintian finds no manual page"; return 1; }
	dpkg-deb -c "$deb" | grep -q " ./usr/share/man/man8/$PKG.8.gz$" || { echo "no manual page in the package"; return 1; }
	# the page itself: groff's warnings (all of them) are failures, and
	# apropos can read its NAME line
	out=$(LC_ALL=C groff -man -ww -z packaging/$PKG.8 2>&1)
	[ -z "$out" ] || { echo "groff: $out"; return 1; }
	lexgrog packaging/$PKG.8 | grep -q ' - containerd shim v2 for runc' || { echo "lexgrog: $(lexgrog packaging/$PKG.8 2>&1)"; return 1; }
	dpkg -i "$deb" >/dev/null || return 1
	local rc=0
	[ -x /usr/bin/$PKG ] || { echo "no /usr/bin/$PKG after dpkg -i"; rc=1; }
	out=$(SHIM_DIR=/nonexistent run_one_container pkg1 2>&1) || rc=1
	echo "$out"
	echo "$out" | grep -qx "shim: /usr/bin/$PKG" || { echo "the container was not served by /usr/bin/$PKG"; rc=1; }
	dpkg --purge "$PKG" >/dev/null || rc=1
	if [ -e /usr/bin/$PKG ] || [ -e /usr/share/doc/$PKG ] || dpkg-query -W "$PKG" >/dev/null 2>&1; then
		echo "left after purge: $(ls -d /usr/bin/$PKG /usr/share/doc/$PKG 2>/dev/null) $(dpkg-query -W "$PKG" 2>&1)"
		rc=1
	fi
	return $rc
}

# version_of PID: the version the binary of a running process says
version_of() { "/proc/$1/exe" -v 2>/dev/null | awk '/Version:/ { print $2 }'; }

t_deb_upgrade() {
	local arch debarch v1 v2 deb1 deb2 rc=0
	case $(uname -m) in x86_64) arch=x86_64 debarch=amd64 ;; aarch64) arch=aarch64 debarch=arm64 ;;
	*) echo "no package test for $(uname -m)"; return 1 ;; esac
	if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; then
		echo "$PKG is installed on this host already; not replacing it"
		return 1
	fi
	v1=$(make -s -f Makefile --eval 'v: ; @echo $(VERSION)' v)
	v2=$v1+up1
	make -s deb DEB_ARCHES="$arch" VERSION="$v2" >/dev/null || return 1
	deb2=$(mktemp -d)/${PKG}_${v2}_$debarch.deb
	mv "build/$arch/${PKG}_${v2}_$debarch.deb" "$deb2" || return 1
	make -s deb DEB_ARCHES="$arch" >/dev/null || return 1
	deb1=build/$arch/${PKG}_${v1}_$debarch.deb
	dpkg -i "$deb1" >/dev/null || return 1
	(
		# shellcheck source=../lib/containerd.sh
		. tests/lib/containerd.sh
		export SHIM_DIR=/nonexistent
		trap ctrd_stop EXIT
		ctrd_start || exit 1
		make_busybox_rootfs "$CTRD_DIR/rootfs" || exit 1
		ctr_ run -d --runtime io.containerd.runc.v2-c --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin \
			--rootfs "$CTRD_DIR/rootfs" pkgup sleep 86400 >/dev/null || exit 1
		sp=$(shim_pids pkgup)
		[ -n "$sp" ] || { echo "no shim"; exit 1; }
		echo "# shim $sp runs $(version_of "$sp")"
		[ "$(version_of "$sp")" = "$v1" ] || { echo "not $v1"; exit 1; }
		out=$(dpkg -i "$deb2" 2>&1) || { echo "dpkg -i $deb2: $out"; exit 1; }
		echo "# dpkg -i $v2: $(grep -- "namespace" <<<"$out")"
		[ "$(shim_pids pkgup)" = "$sp" ] || { echo "the shim's pid changed"; exit 1; }
		[ "$(version_of "$sp")" = "$v2" ] || { echo "the shim runs $(version_of "$sp") after the package upgrade, not $v2"; exit 1; }
		# the opt-out: the next package change leaves it on its version
		sed -i 's/^UPGRADE_RUNNING_SHIMS=.*/UPGRADE_RUNNING_SHIMS=no/' /etc/default/$PKG
		out=$(dpkg -i --force-confold "$deb1" 2>&1) || { echo "dpkg -i $deb1: $out"; exit 1; }
		echo "# opted out: $(grep -- "left on" <<<"$out")"
		[ "$(version_of "$sp")" = "$v2" ] || { echo "opted out, yet the shim runs $(version_of "$sp")"; exit 1; }
		ctr_ task exec --exec-id e1 pkgup true || { echo "exec after the upgrades failed"; exit 1; }
		ctr_ task kill -s SIGKILL pkgup
		for ((i = 0; i < 100; i++)); do
			ctr_ task ls 2>/dev/null | awk '$1 == "pkgup" { print $3 }' | grep -qx STOPPED && break
			sleep 0.1
		done
		ctr_ task rm pkgup >/dev/null 2>&1
		ctr_ container rm pkgup
	) || rc=1
	dpkg --purge "$PKG" >/dev/null || rc=1
	rm -rf "$(dirname "$deb2")"
	[ -e /etc/default/$PKG ] && { echo "/etc/default/$PKG left after purge"; rc=1; }
	return $rc
}

# cri CONFIG [CONTAINERD_BIN_DIR]
cri() {
	(
		[ -n "${2:-}" ] && export CONTAINERD_BIN_DIR=$2
		export CTRD_CRI_CONFIG=$ROOT/$1 CTRD_SNAPSHOTTERS=overlayfs
		# shellcheck source=../lib/containerd.sh
		. tests/lib/containerd.sh
		trap ctrd_stop EXIT
		ctrd_start || exit 1
		echo "# containerd $(containerd --version | awk '{print $3}')"
		ctrd_cri_images || { echo "image import failed"; exit 1; }
		# the handler the RuntimeClass names
		handler=$(awk '$1 == "handler:" { print $2 }' examples/runtimeclass.yaml)
		/usr/bin/python3 tests/packaging/cri.py "$CTRD_SOCK" "$handler" localhost/busybox:cri "$CTRD_DIR/podlogs" &
		cpid=$!
		# the pod's shim, while it runs: ours
		seen=
		for _ in $(seq 1 300); do
			for p in $(shim_pids); do
				seen=$(readlink "/proc/$p/exe")
				[ -n "$seen" ] && break 2
			done
			kill -0 $cpid 2>/dev/null || break
			sleep 0.1
		done
		wait $cpid || { echo "cri.py failed"; tail -n 20 "$CTRD_LOG"; exit 1; }
		echo "# pod served by $seen"
		case $seen in */build/$PKG) ;; *) echo "the pod was not served by this shim"; exit 1 ;; esac
	)
}

t_cri_1x() { cri examples/containerd-1.x-config.toml; }
t_cri_2x() {
	local bin
	bin=$(tests/compat/fetch-containerd.sh sid) || return 1
	cri examples/containerd-2.x-config.toml "$bin"
}

t_release() {
	make -s release || return 1
	[ -s dist/SHA256SUMS ] || return 1
	(cd dist && sha256sum --check --quiet SHA256SUMS) || return 1
	grep -c '\.tar\.gz$' dist/SHA256SUMS | grep -qx 4 || { echo "not 4 tarballs"; return 1; }
	grep -c '\.deb$' dist/SHA256SUMS | grep -qx 4 || { echo "not 4 packages"; return 1; }
}

for t in install deb deb_upgrade cri_1x cri_2x release; do
	want "$t" || continue
	if "t_$t" >"$LOG" 2>&1; then
		ok "$t"
		grep -E '^(# |lintian:)' "$LOG" | sed 's/^/    /'
	else
		bad "$t" "$(tail -n 1 "$LOG")"
	fi
done
if [ $((pass + fail)) -eq 0 ]; then
	echo "FAIL no test named: ${NAMES[*]}"
	fail=1
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
