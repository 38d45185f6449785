#!/usr/bin/env bash
# Fetch Debian's `containerd` binary package of another suite and unpack it.
#
#   tests/compat/fetch-containerd.sh SUITE      (e.g. trixie -> 1.7, sid -> 2.x)
#
# Prints the path of the unpacked package's usr/bin (containerd, ctr, ...):
#   third_party/cache/containerd-<debian version>/usr/bin
# Nothing is installed: the package is only unpacked (dpkg-deb -x) into the
# git-ignored third_party/cache/. The binaries are Go programs that need
# only libc (GLIBC_2.34 at most for trixie's and sid's), so they run on
# bookworm; this is checked.
#
# The private apt configuration (third_party/apt-private.sh) is made under
# third_party/cache/apt-SUITE/: `deb` entries for SUITE with the URIs and
# Signed-By keyrings of the system's own entries for its release, own lists,
# cache and state. `apt-get download` checks the .deb against the signed
# index; its sha256 is checked again here and recorded in a .stamp.
#
# Idempotent: an unpacked version whose stamp matches is reused. If the
# archive cannot be reached, the last version unpacked for SUITE is used
# (with a warning). COMPAT_OFFLINE=1: use it without asking the archive.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE_DIR=$REPO/third_party/cache
DL_DIR=$CACHE_DIR/downloads
PKG=containerd

log() { printf 'fetch-containerd.sh: %s\n' "$*" >&2; }
die() { printf 'fetch-containerd.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
esac
[[ $# -eq 1 ]] || { usage >&2; exit 2; }
SUITE=$1
[[ $SUITE =~ ^[a-z][a-z0-9.-]*$ ]] || die "bad suite name '$SUITE'"

# shellcheck source-path=SCRIPTDIR source=../../third_party/apt-private.sh
. "$REPO/third_party/apt-private.sh"

TMP_DIRS=()
cleanup() { local d; for d in ${TMP_DIRS[@]+"${TMP_DIRS[@]}"}; do rm -rf "$d"; done; }
trap cleanup EXIT

# The last version unpacked for SUITE: third_party/cache/containerd-SUITE ->
# containerd-<version>.
LINK=$CACHE_DIR/$PKG-$SUITE

# unpacked_ok DIR SHA256: DIR holds the package with that sha256, complete
unpacked_ok() {
    [[ -f $1/.stamp && -x $1/usr/bin/containerd && -x $1/usr/bin/ctr ]] || return 1
    [[ $(head -n1 "$1/.stamp") == "deb-sha256 $2" ]]
}

use_last() {
    local dir sha
    [[ -L $LINK ]] || return 1
    dir=$CACHE_DIR/$(readlink "$LINK")
    sha=$(sed -n '1s/^deb-sha256 //p' "$dir/.stamp" 2>/dev/null) || return 1
    unpacked_ok "$dir" "$sha" || return 1
    log "using $(basename "$dir") (the last one unpacked for $SUITE)"
    printf '%s\n' "$dir/usr/bin"
}

if [[ ${COMPAT_OFFLINE:-0} == 1 ]]; then
    use_last || die "COMPAT_OFFLINE=1 but nothing unpacked yet for $SUITE"
    exit 0
fi

mkdir -p "$CACHE_DIR" "$DL_DIR"
if command -v flock >/dev/null; then
    exec 9>"$CACHE_DIR/.lock-$PKG-$SUITE"
    flock 9
fi

apt_private_prepare "$CACHE_DIR/apt-$SUITE" deb "" "$SUITE" -o Acquire::Languages=none

# Candidate = the highest version in SUITE (no status file, no pinning).
VERSION=$(apt-cache "${APT_OPTS[@]}" policy "$PKG" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
if [[ -z $VERSION || $VERSION == "(none)" ]]; then
    if ((APT_PRIVATE_UPDATE_RC)) && use_last; then
        log "warning: the archive could not be reached; $PKG may not be $SUITE's newest"
        exit 0
    fi
    die "no $PKG package in suite '$SUITE'"
fi

# Filename and SHA256 of that version, from the signed index.
read -r DEB_PATH DEB_SHA < <(apt-cache "${APT_OPTS[@]}" show "$PKG=$VERSION" 2>/dev/null |
    awk '/^Filename: /{ f = $2 } /^SHA256: /{ s = $2 } /^$/{ if (f != "") exit } END { print f, s }')
[[ -n ${DEB_PATH:-} && ${DEB_SHA:-} =~ ^[0-9a-f]{64}$ ]] || die "$PKG=$VERSION: no Filename/SHA256 in the index"
DEB_NAME=$(basename "$DEB_PATH")
DEST=$CACHE_DIR/$PKG-${VERSION//:/_}

if unpacked_ok "$DEST" "$DEB_SHA"; then
    log "$PKG $VERSION ($SUITE): up to date"
else
    DEB=$DL_DIR/$DEB_NAME
    apt_private_fetch "$PKG" "$VERSION" "$DEB_SHA" "$DEB" || die "apt-get download $PKG=$VERSION failed"

    [[ $(dpkg-deb -f "$DEB" Package) == "$PKG" && $(dpkg-deb -f "$DEB" Version) == "$VERSION" ]] ||
        die "$DEB_NAME is not $PKG $VERSION"
    tmp=$(mktemp -d "$CACHE_DIR/.tmp-$PKG.XXXXXX")
    TMP_DIRS+=("$tmp")
    dpkg-deb -x "$DEB" "$tmp" || die "dpkg-deb -x $DEB_NAME failed"
    [[ -x $tmp/usr/bin/containerd && -x $tmp/usr/bin/ctr ]] || die "$DEB_NAME has no usr/bin/containerd and usr/bin/ctr"
    echo "deb-sha256 $DEB_SHA" >"$tmp/.stamp"
    echo "$PKG $VERSION from $SUITE ($DEB_NAME)" >>"$tmp/.stamp"
    chmod 755 "$tmp"
    rm -rf "$DEST"
    mv "$tmp" "$DEST"
    log "$PKG $VERSION: unpacked into $DEST"
fi
ln -sfn "$(basename "$DEST")" "$LINK"

# The binaries must run here: static, or dynamic with libraries (glibc
# symbol versions included) that this system has (Debian builds them with
# cgo; they need only libc, up to GLIBC_2.34).
for b in containerd ctr; do
    f=$DEST/usr/bin/$b
    file -bL "$f" | grep -Eq 'statically linked|static-pie linked' && continue
    out=$(ldd "$f" 2>&1) || die "$f: ldd failed: $out"
    ! grep -q 'not found' <<<"$out" || die "$f cannot run here: $(grep 'not found' <<<"$out" | head -n 3)"
done
"$DEST/usr/bin/containerd" --version >/dev/null 2>&1 || die "$DEST/usr/bin/containerd does not run here"
printf '%s\n' "$DEST/usr/bin"
