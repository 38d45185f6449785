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

PKG=$(pin package)
VER=$(pin version)
SHA=$(pin sha256)
LINK=$CACHE/kernel-current
done_ok() { [[ -f $1/.stamp && -f $1/vmlinux ]] && compgen -G "$1/lib/modules/*/modules.dep" >/dev/null; }

# shellcheck source=../../third_party/apt-private.sh
. "$REPO/third_party/apt-private.sh"
mkdir -p "$CACHE/downloads"
exec 9>"$CACHE/.lock-kernel"
flock 9

DEST=$CACHE/kernel-$VER
if done_ok "$DEST" && grep -qx "deb-sha256 $SHA" "$DEST/.stamp"; then
	printf '%s\n' "$DEST"
	exit 0
fi

apt_private_prepare "$CACHE/apt-kernel" deb "" "" -o Acquire::Languages=none
idx_sha() {
	apt-cache "${APT_OPTS[@]}" show "$1=$2" 2>/dev/null | awk '/^SHA256: /{ print $2; exit }'
}
got=$(idx_sha "$PKG" "$VER")
if [[ -z $got ]]; then
	if ((APT_PRIVATE_UPDATE_RC)) && [[ -L $LINK ]] && done_ok "$CACHE/$(readlink "$LINK")"; then
		log "warning: the archive could not be reached; using $(readlink "$LINK")"
		printf '%s\n' "$CACHE/$(readlink "$LINK")"
		exit 0
	fi
	# the pinned ABI is gone from the archive: take the current one, loudly
	PKG=$(apt-cache "${APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64/ { print $2; exit }')
	[[ -n $PKG ]] || die "no linux-image-6.1.0-*-amd64 in the archive"
	VER=$(apt-cache "${APT_OPTS[@]}" policy "$PKG" | awk '$1 == "Candidate:" { print $2 }')
	SHA=$(idx_sha "$PKG" "$VER")
	log "warning: $(pin package) $(pin version) is no longer in the archive; using $PKG $VER (sha256 $SHA): update tests/vm/kernel.pin"
	DEST=$CACHE/kernel-$VER
elif [[ $got != "$SHA" ]]; then
	die "$PKG $VER: the index says sha256 $got, the pin $SHA; refusing"
fi

DEB=$CACHE/downloads/${PKG}_${VER}_amd64.deb
if ! [[ -f $DEB && $(sha256sum "$DEB" | cut -d' ' -f1) == "$SHA" ]]; then
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "$PKG $VER: apt-get download (about 70 MB)"
	sandbox=()
	((EUID == 0)) && sandbox=(-o APT::Sandbox::User=root)
	(cd "$tmp" && apt-get "${APT_OPTS[@]}" "${sandbox[@]}" -qq download "$PKG=$VER") ||
		die "apt-get download $PKG=$VER failed"
	f=$(ls "$tmp"/*.deb)
	[[ $(sha256sum "$f" | cut -d' ' -f1) == "$SHA" ]] || die "$f: sha256 mismatch; refusing"
	mv "$f" "$DEB"
fi

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
printf 'deb-sha256 %s\n%s %s\n' "$SHA" "$PKG" "$VER" >"$tmpd/.stamp"
rm -rf "$DEST"
mv "$tmpd" "$DEST"
ln -sfn "$(basename "$DEST")" "$LINK"
log "$PKG $VER unpacked into $DEST"
printf '%s\n' "$DEST"
