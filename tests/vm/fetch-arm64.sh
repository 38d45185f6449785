#!/usr/bin/env bash
# Fetch the emulated aarch64 board of tests/vm (profile aarch64): Debian's
# arm64 kernel and an arm64 root made of the packages tests/vm/arm64.pin
# names, with their dependencies.
#
#   tests/vm/fetch-arm64.sh        prints the board's folder:
#       third_party/cache/arm64-board-<key>/  with Image (the kernel,
#       uncompressed), root/ (the arm64 userland, the kernel's modules in
#       root/lib/modules/<kver>/) and .stamp (the pin's key, the kernel and
#       the sha256 of every package unpacked)
#
# Nothing is installed and no dpkg architecture is added: a private apt
# configuration (third_party/apt-private.sh) for the architecture arm64
# only, with an empty dpkg status, resolves the set
# (`apt-get install --download-only`, which checks every .deb against the
# signed index) and the packages are unpacked with dpkg-deb into root/,
# whose /bin, /sbin and /lib are links into /usr as on a merged-/usr
# system.  No maintainer script runs: the few things they would make are
# made here (/etc/passwd and /etc/group from base-passwd's masters, awk and
# which, the kernel's modules.dep).  The kernel is checked against its pinned sha256.
#
# Idempotent: a board whose stamp has the pin's key is reused.  Offline, the
# last board made is used, with a warning.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=$REPO/third_party/cache
PIN=$HERE/arm64.pin
log() { printf 'fetch-arm64.sh: %s\n' "$*" >&2; }
die() { printf 'fetch-arm64.sh: error: %s\n' "$*" >&2; exit 1; }
pin() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$PIN"; }

KPKG=$(pin package)
KVER=$(pin version)
KSHA=$(pin sha256)
read -r -a ROOT_PKGS <<<"$(pin root | tr '\n' ' ')"
KEY=$(grep -v '^#' "$PIN" | sha256sum | cut -c1-12)
LINK=$CACHE/arm64-board-current
board_ok() {
	[[ -f $1/.stamp && -f $1/Image && -x $1/root/usr/bin/bash && -x $1/root/usr/bin/containerd ]] &&
		compgen -G "$1/root/lib/modules/*/modules.dep" >/dev/null
}

# shellcheck source-path=SCRIPTDIR source=../../third_party/apt-private.sh
. "$REPO/third_party/apt-private.sh"
mkdir -p "$CACHE/downloads"
exec 9>"$CACHE/.lock-arm64"
flock 9

DEST=$CACHE/arm64-board-$KEY
if board_ok "$DEST" && grep -qx "key $KEY" "$DEST/.stamp"; then
	printf '%s\n' "$DEST"
	exit 0
fi

APT_DIR=$CACHE/apt-arm64
apt_private_prepare "$APT_DIR" deb "" "" -o Acquire::Languages=none \
	-o APT::Architecture=arm64 -o APT::Architectures=arm64
offline() {
	if ((APT_PRIVATE_UPDATE_RC)) && [[ -L $LINK ]] && board_ok "$CACHE/$(readlink "$LINK")"; then
		log "warning: $1; using $(readlink "$LINK")"
		printf '%s\n' "$CACHE/$(readlink "$LINK")"
		exit 0
	fi
	die "$1"
}
sandbox=()
((EUID == 0)) && sandbox=(-o APT::Sandbox::User=root)

# ---- the kernel, pinned
apt_private_kernel arm64 tests/vm/arm64.pin || offline "the archive could not be reached"
KDEB=$CACHE/downloads/${KPKG}_${KVER}_arm64.deb
apt_private_fetch "$KPKG" "$KVER" "$KSHA" "$KDEB" || offline "apt-get download $KPKG=$KVER failed"
TMP=$(mktemp -d "$CACHE/.arm64.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- the root's packages: the set apt resolves for an empty system
ARCH_DIR=$APT_DIR/cache/archives
log "resolving and downloading ${#ROOT_PKGS[@]} packages and their dependencies (arm64)"
apt-get "${APT_OPTS[@]}" "${sandbox[@]}" -qq -y --download-only --no-install-recommends \
	-o "Dir::Cache::archives=$ARCH_DIR" install "${ROOT_PKGS[@]}" >"$TMP/apt.log" 2>&1 || {
	sed 's/^/  /' "$TMP/apt.log" >&2
	offline "apt-get install --download-only failed"
}
# the debs of this resolution only (the folder may hold older ones)
mkdir -p "$TMP/none/partial"
apt-get "${APT_OPTS[@]}" -qq -y --print-uris --no-install-recommends \
	-o Dir::Cache::archives="$TMP/none" install "${ROOT_PKGS[@]}" 2>/dev/null |
	awk -F"'" 'NF >= 3 { split($3, a, " "); print a[1] }' >"$TMP/debs"
[[ -s $TMP/debs ]] || die "apt resolved no packages"

R=$TMP/board/root
mkdir -p "$R/usr/bin" "$R/usr/sbin" "$R/usr/lib"
for d in bin sbin lib; do ln -s "usr/$d" "$R/$d"; done
: >"$TMP/shas"
while read -r deb; do
	f=$ARCH_DIR/$deb
	[[ -f $f ]] || die "apt did not download $deb"
	sha256sum "$f" | sed "s|$ARCH_DIR/||" >>"$TMP/shas"
done <"$TMP/debs"
sha256sum "$KDEB" | sed "s|$CACHE/downloads/||" >>"$TMP/shas"
# dpkg-deb's own tar stream, extracted keeping the /usr links (dpkg-deb -x
# would replace them with folders)
while read -r _ deb; do
	f=$ARCH_DIR/$deb
	[[ -f $f ]] || f=$CACHE/downloads/$deb
	dpkg-deb --fsys-tarfile "$f" | tar -x -C "$R" --keep-directory-symlink --no-same-owner \
		--exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale ||
		die "unpacking $deb failed"
done <"$TMP/shas"
# the alternatives the postinsts would make (update-alternatives), for
# the commands the suite runs
ln -s gawk "$R/usr/bin/awk"
ln -s which.debianutils "$R/usr/bin/which"
cp "$R/usr/share/base-passwd/passwd.master" "$R/etc/passwd"
cp "$R/usr/share/base-passwd/group.master" "$R/etc/group"
kver=$(basename "$(ls -d "$R"/lib/modules/*)")
depmod -b "$R" "$kver" || die "depmod failed"
# Debian's arm64 vmlinuz is the Image itself (an EFI stub, uncompressed)
cp "$R/boot/vmlinuz-$kver" "$TMP/board/Image"
{
	printf 'key %s\nkernel %s %s\n' "$KEY" "$KPKG" "$KVER"
	cat "$TMP/shas"
} >"$TMP/board/.stamp"
rm -rf "$DEST"
mv "$TMP/board" "$DEST"
ln -sfn "$(basename "$DEST")" "$LINK"
for old in "$CACHE"/arm64-board-*; do # boards of older pins: 650 MB each
	[[ -L $old || $old == "$DEST" ]] || rm -rf "$old"
done
log "$(wc -l <"$TMP/shas") packages unpacked into $DEST ($(du -sh "$DEST" | cut -f1))"
printf '%s\n' "$DEST"
