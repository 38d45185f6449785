#!/usr/bin/env bash
# Install the Debian packages that the build, the tests and the benchmarks
# need (`make deps`, and .ci/run).  Only packages missing are installed; the
# system's apt sources are used as they are.
set -euo pipefail

pkgs=(
	# build
	make gcc libc6-dev musl-tools nanopb protobuf-compiler python3-protobuf
	# runtime under test and its peers
	containerd runc crun criu busybox-static
	# tests and tools
	file procps iproute2 util-linux psmisc shellcheck strace
	# rootfs mounts of other snapshotters: fuse-overlayfs, erofs images
	fuse3 fuse-overlayfs erofs-utils e2fsprogs
	# guests of tests/vm: qemu, and depmod for the guest kernel's modules
	qemu-system-x86 kmod
	# cross builds (make ARCH=...; musl from source) and their tests:
	# qemu-user, the emulated aarch64 board; the Debian package's check
	# (lintian; groff and lexgrog read the manual page)
	gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-riscv64-linux-gnu
	qemu-user-static qemu-system-arm lintian groff-base man-db
	# the CRI examples test talks gRPC (tests/packaging/cri.py)
	python3-grpcio
	# fuzzing and benchmarks
	clang gnuplot-nox umoci skopeo
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}"
