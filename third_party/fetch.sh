#!/usr/bin/env bash
# Fetch third-party C sources (never committed) into third_party/src/.
#
#   nanopb 0.4.7 runtime -> third_party/src/nanopb/{pb.h,pb_common.[ch],pb_encode.[ch],pb_decode.[ch]}
#   jsmn 1.1.0           -> third_party/src/jsmn/jsmn.h
#   musl 1.2.3 (only with the argument `musl`, for cross builds)
#                        -> third_party/src/musl/ (the whole source tree)
#
#   third_party/fetch.sh [musl]
#
# Both come from the *orig* tarballs of the Debian source packages `nanopb`
# and `jsmn`, located through a private apt configuration (third_party/cache/apt)
# whose deb-src entries are derived at run time from the system's own apt
# sources; nothing about the system's apt setup is changed. Each tarball's
# sha256 is pinned below and checked before anything is extracted.
#
# Overrides: NANOPB_SRC=<dir with pb.h, pb_*.c>  JSMN_SRC=<dir with jsmn.h>
#   -> that component is not fetched; the build uses the folder directly.
# Extra suites (only if the system's suites lack the pinned upstream version):
#   FETCH_EXTRA_SUITES="trixie" (space separated suite names).
#
# Idempotent: a component whose stamp matches is left alone; once the
# tarballs are in third_party/cache/downloads no network is needed.
set -euo pipefail

NANOPB_VERSION=0.4.7
NANOPB_ORIG_SHA256=e1d89b166367a3c42d42311bdc2ed57ff78f86aede9a66828516e45490d48c81
NANOPB_FILES=(pb.h pb_common.c pb_common.h pb_encode.c pb_encode.h pb_decode.c pb_decode.h)

JSMN_VERSION=1.1.0
JSMN_ORIG_SHA256=5f0913a10657fe7ec8d5794ccf00a01000e3e1f2f1e1f143c34a0f7b47edcb38
JSMN_FILES=(jsmn.h)

MUSL_VERSION=1.2.3
MUSL_ORIG_SHA256=7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4
MUSL_FILES=(configure Makefile include/stdio.h src/thread/pthread_create.c)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$HERE/src
CACHE_DIR=$HERE/cache
DL_DIR=$CACHE_DIR/downloads
APT_DIR=$CACHE_DIR/apt

log() { printf 'fetch.sh: %s\n' "$*" >&2; }
die() { printf 'fetch.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
WANT_MUSL=0
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") ;;
    musl) WANT_MUSL=1 ;;
    *) usage >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- helpers

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

TMP_DIRS=()
cleanup() { local d; for d in ${TMP_DIRS[@]+"${TMP_DIRS[@]}"}; do rm -rf "$d"; done; }
trap cleanup EXIT

# stamp_ok NAME ORIG_SHA256 FILES... : the component folder holds exactly what
# the stamp says, extracted from the tarball with the pinned checksum.
stamp_ok() {
    local name=$1 sha=$2; shift 2
    local dir=$SRC_DIR/$name stamp=$SRC_DIR/$name/.stamp f
    [[ -f $stamp ]] || return 1
    [[ $(head -n1 "$stamp") == "orig-sha256 $sha" ]] || return 1
    for f in "$@"; do [[ -f $dir/$f ]] || return 1; done
    (cd "$dir" && tail -n +2 .stamp | sha256sum --check --quiet --strict >/dev/null 2>&1)
}

# check_override NAME DIR FILES... : an override folder must hold the files.
check_override() {
    local name=$1 dir=$2 f; shift 2
    [[ -d $dir ]] || die "$name override '$dir' is not a folder"
    for f in "$@"; do
        [[ -f $dir/$f ]] || die "$name override '$dir' lacks $f"
    done
    log "$name: using $dir (override; nothing fetched)"
}

# ------------------------------------------------- private apt configuration

# shellcheck source-path=SCRIPTDIR source=apt-private.sh
. "$HERE/apt-private.sh"

APT_READY=0

# deb-src entries derived from the system's apt sources (see apt-private.sh).
prepare_apt() {
    ((APT_READY)) && return 0
    apt_private_prepare "$APT_DIR" deb-src "${FETCH_EXTRA_SUITES:-}" ""
    APT_READY=1
}

# fetch_orig PKG UPSTREAM_VERSION SHA256 -> sets ORIG to the verified tarball
ORIG=
fetch_orig() {
    local pkg=$1 upver=$2 sha=$3 f
    mkdir -p "$DL_DIR"
    for f in "$DL_DIR/${pkg}_${upver}".orig.tar.*; do
        [[ -f $f ]] || continue
        if [[ $(sha256_of "$f") == "$sha" ]]; then
            log "$pkg: using cached $(basename "$f")"
            ORIG=$f; return 0
        fi
        log "$pkg: cached $(basename "$f") has the wrong sha256; fetching again"
        rm -f "$f"
    done

    prepare_apt
    # Highest Debian revision of the pinned upstream version in the suites.
    local v best=""
    while read -r v; do
        [[ $v == "$upver"-* || $v == *:"$upver"-* ]] || continue
        if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done < <({ apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null || true; } |
             awk -v p="$pkg" '/^Package: /{cur=$2} /^Version: /{if (cur==p) print $2}')
    if [[ -z $best ]]; then
        local have
        have=$({ apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null || true; } | awk '/^Version: /{printf " %s", $2}')
        die "$pkg: no source version $upver-* in the configured suites (found:${have:- none}); set FETCH_EXTRA_SUITES (e.g. \"trixie\") or ${pkg^^}_SRC"
    fi

    # Ask apt where the orig tarball is (URI + hash from the signed index), in an
    # empty folder so apt does not skip files it thinks are already there.
    local tmp uri name idxhash
    tmp=$(mktemp -d "$CACHE_DIR/tmp.XXXXXX")
    TMP_DIRS+=("$tmp")
    (cd "$tmp" && apt-get "${APT_OPTS[@]}" -qq source --print-uris "$pkg=$best") >"$tmp/uris" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "$pkg: apt-get source --print-uris $pkg=$best failed"; }
    read -r uri name _ idxhash < <(grep -E "^'[^']+' ${pkg}_${upver//./\\.}\.orig\.tar\.[a-z0-9]+ " "$tmp/uris") ||
        die "$pkg: no orig tarball listed for $pkg=$best"
    uri=${uri//\'/}
    if [[ $idxhash == SHA256:* && ${idxhash#SHA256:} != "$sha" ]]; then
        die "$pkg: the archive's $name has sha256 ${idxhash#SHA256:}, but the pinned value is $sha; refusing"
    fi

    log "$pkg: downloading $name ($pkg $best)"
    local -a sandbox=()
    ((EUID == 0)) && sandbox=(-o APT::Sandbox::User=root)
    /usr/lib/apt/apt-helper "${sandbox[@]}" download-file "$uri" "$tmp/$name" "SHA256:$sha" >"$tmp/dl.log" 2>&1 ||
        { cat "$tmp/dl.log" >&2; die "$pkg: download of $name failed or its sha256 is not $sha"; }
    [[ $(sha256_of "$tmp/$name") == "$sha" ]] ||
        die "$pkg: $name has sha256 $(sha256_of "$tmp/$name"), expected $sha; refusing"
    mv "$tmp/$name" "$DL_DIR/$name"
    rm -rf "$tmp"
    ORIG=$DL_DIR/$name
}

# extract NAME TARBALL SHA256 FILES... : top-level FILES of the tarball's
# single top folder -> $SRC_DIR/NAME, plus the stamp; replaced atomically.
extract() {
    local name=$1 tarball=$2 sha=$3; shift 3
    [[ $(sha256_of "$tarball") == "$sha" ]] ||
        die "$name: $(basename "$tarball") has sha256 $(sha256_of "$tarball"), expected $sha; refusing"
    local top f
    top=$(tar -tf "$tarball" | sed -n 1p); top=${top%%/*}
    [[ -n $top ]] || die "$name: cannot read $(basename "$tarball")"
    mkdir -p "$SRC_DIR"
    local tmp
    tmp=$(mktemp -d "$SRC_DIR/.tmp-$name.XXXXXX")
    TMP_DIRS+=("$tmp")
    tar -xf "$tarball" -C "$tmp" --no-same-owner --no-same-permissions --strip-components=1 "${@/#/$top/}" ||
        die "$name: $(basename "$tarball") lacks some of: $*"
    {
        echo "orig-sha256 $sha"
        (cd "$tmp" && sha256sum -- "$@")
    } >"$tmp/.stamp"
    rm -rf "${SRC_DIR:?}/${name:?}"
    mv "$tmp" "$SRC_DIR/$name"
    chmod 755 "$SRC_DIR/$name"
    log "$name: extracted $* into $SRC_DIR/$name"
}

# extract_tree NAME TARBALL SHA256 : the tarball's whole single top folder
# -> $SRC_DIR/NAME, with a stamp listing every file's sha256.
extract_tree() {
    local name=$1 tarball=$2 sha=$3
    [[ $(sha256_of "$tarball") == "$sha" ]] ||
        die "$name: $(basename "$tarball") has sha256 $(sha256_of "$tarball"), expected $sha; refusing"
    mkdir -p "$SRC_DIR"
    local tmp
    tmp=$(mktemp -d "$SRC_DIR/.tmp-$name.XXXXXX")
    TMP_DIRS+=("$tmp")
    tar -xf "$tarball" -C "$tmp" --no-same-owner --strip-components=1 ||
        die "$name: cannot unpack $(basename "$tarball")"
    {
        echo "orig-sha256 $sha"
        (cd "$tmp" && find . -type f ! -name .stamp -print0 | LC_ALL=C sort -z | xargs -0 sha256sum --)
    } >"$tmp/.stamp"
    rm -rf "${SRC_DIR:?}/${name:?}"
    mv "$tmp" "$SRC_DIR/$name"
    chmod 755 "$SRC_DIR/$name"
    log "$name: unpacked $(basename "$tarball") into $SRC_DIR/$name"
}

# component NAME OVERRIDE_VAR PKG UPSTREAM_VERSION SHA256 FILES...
component() {
    local name=$1 ovar=$2 pkg=$3 upver=$4 sha=$5; shift 5
    if [[ -n ${!ovar:-} ]]; then check_override "$name" "${!ovar}" "$@"; return 0; fi
    if stamp_ok "$name" "$sha" "$@"; then log "$name: up to date"; return 0; fi
    fetch_orig "$pkg" "$upver" "$sha"
    extract "$name" "$ORIG" "$sha" "$@"
}

# -------------------------------------------------------------------- main

if ((WANT_MUSL)); then
    if stamp_ok musl "$MUSL_ORIG_SHA256" "${MUSL_FILES[@]}"; then log "musl: up to date"; exit 0; fi
    mkdir -p "$CACHE_DIR"
    if command -v flock >/dev/null; then exec 9>"$CACHE_DIR/.lock"; flock 9; fi
    fetch_orig musl "$MUSL_VERSION" "$MUSL_ORIG_SHA256"
    extract_tree musl "$ORIG" "$MUSL_ORIG_SHA256"
    exit 0
fi

# Fast path: nothing to do without touching the cache or taking the lock.
if { [[ -n ${NANOPB_SRC:-} ]] || stamp_ok nanopb "$NANOPB_ORIG_SHA256" "${NANOPB_FILES[@]}"; } &&
   { [[ -n ${JSMN_SRC:-} ]] || stamp_ok jsmn "$JSMN_ORIG_SHA256" "${JSMN_FILES[@]}"; }; then
    [[ -n ${NANOPB_SRC:-} ]] && check_override nanopb "$NANOPB_SRC" "${NANOPB_FILES[@]}"
    [[ -n ${JSMN_SRC:-} ]] && check_override jsmn "$JSMN_SRC" "${JSMN_FILES[@]}"
    log "nothing to do (third_party/src up to date or overridden)"
    exit 0
fi

mkdir -p "$CACHE_DIR"
# Serialise concurrent runs (e.g. parallel make).
if command -v flock >/dev/null; then
    exec 9>"$CACHE_DIR/.lock"
    flock 9
fi

component nanopb NANOPB_SRC nanopb "$NANOPB_VERSION" "$NANOPB_ORIG_SHA256" "${NANOPB_FILES[@]}"
component jsmn JSMN_SRC jsmn "$JSMN_VERSION" "$JSMN_ORIG_SHA256" "${JSMN_FILES[@]}"
