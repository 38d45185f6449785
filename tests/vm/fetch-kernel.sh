#!/usr/bin/env bash
# Fetch the guest kernel named by tests/vm/kernel.pin and unpack it.
#
#   tests/vm/fetch-kernel.sh        prints the unpacked folder:
#       third_party/cache/kernel-<version>/  with vmlinux (uncompressed, for a
#       PVH boot: no xz decompression under TCG), boot/, lib/modules/<kver>/
#
# Nothing is installed: the package is downloaded with a private apt
# configuration (third_party/apt-private.sh, from the system's own sources
# of this release, security updates included), checked against the pinned
# sha256 and unpacked with dpkg-deb -x.  Idempotent; offline, the last one
# unpacked is used.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=$REPO/third_party/cache
log() { printf 'fetch-kernel.sh: %s\n' "$*" >&2; }
die() { printf 'fetch-kernel.sh: error: %s\n' "$*" >&2; exit 1; }
pin() { awk -v k="$1" '$1 == k { print $2 }' "$HERE/kernel.pin"; }

KPKG=$(pin package)
KVER=$(pin version)
KSHA=$(pin sha256)
LINK=$CACHE/kernel-current
done_ok() { [[ -f $1/.stamp && -f $1/vmlinux ]] && compgen -G "$1/lib/modules/*/modules.dep" >/dev/null; }
use_last() {
	if ! [[ -L $LINK ]] || ! done_ok "$CACHE/$(readlink "$LINK")"; then
		die "$1"
	fi
	log "warning: $1; using $(readlink "$LINK")"
	printf '%s\n' "$CACHE/$(readlink "$LINK")"
	exit 0
}

# shellcheck source-path=SCRIPTDIR source=../../third_party/apt-private.sh
. "$REPO/third_party/apt-private.sh"
mkdir -p "$CACHE/downloads"
exec 9>"$CACHE/.lock-kernel"
flock 9

DEST=$CACHE/kernel-$KVER
if done_ok "$DEST" && grep -qx "deb-sha256 $KSHA" "$DEST/.stamp"; then
	printf '%s\n' "$DEST"
	exit 0
fi

apt_private_prepare "$CACHE/apt-kernel" deb "" "" -o Acquire::Languages=none
apt_private_kernel amd64 tests/vm/kernel.pin || use_last "the archive could not be reached"
DEST=$CACHE/kernel-$KVER
DEB=$CACHE/downloads/${KPKG}_${KVER}_amd64.deb
apt_private_fetch "$KPKG" "$KVER" "$KSHA" "$DEB" || die "apt-get download $KPKG=$KVER failed"

tmpd=$(mktemp -d "$CACHE/.kernel.XXXXXX")
dpkg-deb -x "$DEB" "$tmpd" || die "dpkg-deb -x failed"
vmlinuz=$(ls "$tmpd"/boot/vmlinuz-*)
# The bzImage's payload is an xz stream; the ELF inside boots by PVH.
python3 - "$vmlinuz" "$tmpd/vmlinux" <<'PY' || die "cannot extract vmlinux from $vmlinuz"
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
while at >= 0:
    try:
        out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[at:])
        if out[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(out)
            sys.exit(0)
    except lzma.LZMAError:
        pass
    at = data.find(b"\xfd7zXZ\x00", at + 1)
sys.exit(1)
PY
kver=$(basename "$(ls -d "$tmpd"/lib/modules/*)")
depmod -b "$tmpd" "$kver" || die "depmod failed"
printf 'deb-sha256 %s\n%s %s\n' "$KSHA" "$KPKG" "$KVER" >"$tmpd/.stamp"
rm -rf "$DEST"
mv "$tmpd" "$DEST"
ln -sfn "$(basename "$DEST")" "$LINK"
log "$KPKG $KVER unpacked into $DEST"
printf '%s\n' "$DEST"
