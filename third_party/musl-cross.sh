#!/usr/bin/env bash
# Build musl for a cross target from the source that `third_party/fetch.sh
# musl` unpacks, with Debian's cross compiler, and print the path of its
# musl-gcc wrapper.
#
#   third_party/musl-cross.sh ARCH      ARCH: aarch64 | armhf | riscv64 | x86_64
#
# x86_64 (the host) uses Debian's musl-gcc (musl-tools) and builds nothing.
# Otherwise musl is configured for the target (static only), built out of
# tree and installed into third_party/cache/musl-<version>-<arch>/; a stamp
# records the source stamp and the compiler's version, so a changed source or
# compiler rebuilds it.  The cross compiler comes from Debian
# (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf, gcc-riscv64-linux-gnu;
# `make deps` installs them).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'musl-cross.sh: %s\n' "$*" >&2; }
die() { printf 'musl-cross.sh: error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
x86_64)
	command -v musl-gcc >/dev/null || die "musl-gcc not found (Debian's musl-tools; make deps)"
	command -v musl-gcc
	exit 0
	;;
aarch64) TRIPLET=aarch64-linux-gnu ;;
armhf) TRIPLET=arm-linux-gnueabihf ;;
riscv64) TRIPLET=riscv64-linux-gnu ;;
-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
*) echo "usage: $0 aarch64|armhf|riscv64|x86_64" >&2; exit 2 ;;
esac
ARCH=$1
XCC=$TRIPLET-gcc
command -v "$XCC" >/dev/null || die "$XCC not found (Debian's gcc-$TRIPLET; make deps)"

"$HERE/fetch.sh" musl
SRC=$HERE/src/musl
VER=$(cat "$SRC/VERSION")
PREFIX=$HERE/cache/musl-$VER-$ARCH
WRAP=$PREFIX/bin/musl-gcc
want="source $(sha256sum "$SRC/.stamp" | cut -d' ' -f1) cc $("$XCC" -dumpfullversion) $("$XCC" -dumpmachine)"

mkdir -p "$HERE/cache"
exec 9>"$HERE/cache/.lock-musl-$ARCH"
flock 9
if [[ -x $WRAP && -f $PREFIX/.stamp && $(cat "$PREFIX/.stamp") == "$want" ]]; then
	echo "$WRAP"
	exit 0
fi

log "building musl $VER for $ARCH with $XCC"
tmp=$(mktemp -d "$HERE/cache/musl-build-$ARCH.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -rf "$PREFIX"
(
	cd "$tmp"
	"$SRC/configure" --target="$TRIPLET" CROSS_COMPILE="$TRIPLET-" CC="$XCC" \
		--prefix="$PREFIX" --disable-shared --enable-wrapper=gcc >configure.log 2>&1 ||
		{ tail -20 configure.log >&2; exit 1; }
	make -j"$(nproc)" >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
	make install >install.log 2>&1 || { tail -20 install.log >&2; exit 1; }
) || die "musl build for $ARCH failed"
[[ -x $WRAP ]] || die "no $WRAP after the build"
echo "$want" >"$PREFIX/.stamp"
log "musl $VER for $ARCH: $PREFIX"
echo "$WRAP"
