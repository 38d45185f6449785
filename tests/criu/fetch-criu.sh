#!/usr/bin/env bash
# Fetch the CRIU that the checkpoint/restore tests use, and check it works.
#
#   tests/criu/fetch-criu.sh
#
# Prints a folder that holds one program, `criu`: put it first on the PATH
# of the shim (runc finds criu on its PATH).  That `criu` is a two-line
# wrapper that runs Debian sid's criu through sid's own ld-linux, with
# sid's libraries (--library-path: programs criu starts get the system's).
#
# The packages are those of tests/criu/criu.pin: criu and the closure of
# its Depends, downloaded with a private apt configuration for sid
# (third_party/apt-private.sh: the URIs and keyrings of the system's own
# sources; the system's apt setup is not touched), each checked against
# the pinned sha256, and unpacked with dpkg-deb -x into the git-ignored
# third_party/cache/criu-<version>/root.  Nothing is installed.
#
# sid moves on: a pinned version that has left the archive is replaced by
# the current closure, with a warning that prints the lines for the pin.
# Offline (or CRIU_OFFLINE=1), the last one unpacked is used.
#
# Exit status: 0 and the folder on stdout when `criu check` passes here;
# 3 when this CRIU cannot run on this machine (not amd64, or `criu check`
# fails: its output is shown); 1 on other errors.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=$REPO/third_party/cache
PIN=$HERE/criu.pin
LINK=$CACHE/criu-current
log() { printf 'fetch-criu.sh: %s\n' "$*" >&2; }
die() { printf 'fetch-criu.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $(uname -m) == x86_64 ]] || { log "criu is fetched for amd64 only (this is $(uname -m))"; exit 3; }

# pkg version sha256 lines, from the pin or from the index
PKGS=()
read_pin() { mapfile -t PKGS < <(awk '!/^#/ && NF == 3 { print $1, $2, $3 }' "$PIN"); }

done_ok() { [[ -f $1/.stamp && -x $1/bin/criu && -x $1/root/usr/sbin/criu ]]; }

# works DIR: criu check passes with that root (the reason is shown if not)
works() {
	local out
	if out=$("$1/bin/criu" check 2>&1); then
		return 0
	fi
	log "criu check fails on this machine (kernel $(uname -r)):"
	printf '  %s\n' "$out" | tail -n 5 >&2
	exit 3
}

finish() {
	ln -sfn "$(basename "$1")" "$LINK"
	works "$1"
	printf '%s\n' "$1/bin"
	exit 0
}

use_last() {
	local d
	[[ -L $LINK ]] && d=$CACHE/$(readlink "$LINK") && done_ok "$d" || die "$1, and nothing unpacked yet"
	log "warning: $1; using $(basename "$d")"
	finish "$d"
}

read_pin
((${#PKGS[@]})) || die "$PIN lists no packages"
CRIU_VER=$(printf '%s\n' "${PKGS[@]}" | awk '$1 == "criu" { print $2 }')
[[ -n $CRIU_VER ]] || die "$PIN has no criu line"
pin_sum() { printf '%s\n' "${PKGS[@]}" | sha256sum | cut -d' ' -f1; }

mkdir -p "$CACHE/downloads"
exec 9>"$CACHE/.lock-criu"
flock 9

DEST=$CACHE/criu-${CRIU_VER//:/_}
if done_ok "$DEST" && grep -qx "pin $(pin_sum)" "$DEST/.stamp"; then
	finish "$DEST"
fi
[[ ${CRIU_OFFLINE:-0} == 1 ]] && use_last "CRIU_OFFLINE=1"

# shellcheck source-path=SCRIPTDIR source=../../third_party/apt-private.sh
. "$REPO/third_party/apt-private.sh"
apt_private_prepare "$CACHE/apt-criu-sid" deb "" sid -o Acquire::Languages=none

# Every pinned version must still be in the index, with the pinned sha256.
missing=0
for line in "${PKGS[@]}"; do
	read -r pkg ver sha <<<"$line"
	got=$(apt_private_index_sha "$pkg" "$ver")
	if [[ -z $got ]]; then
		missing=1
	elif [[ $got != "$sha" ]]; then
		die "$pkg $ver: the index says sha256 $got, $PIN says $sha; refusing"
	fi
done
if ((missing)); then
	((APT_PRIVATE_UPDATE_RC)) && use_last "the archive could not be reached"
	# the pinned closure has left sid: take today's, loudly
	PKGS=()
	while read -r pkg; do
		ver=$(apt-cache "${APT_OPTS[@]}" policy "$pkg" | awk '$1 == "Candidate:" { print $2 }')
		sha=$(apt_private_index_sha "$pkg" "$ver")
		[[ -n $ver && $ver != "(none)" && -n $sha ]] || die "$pkg: no candidate in sid"
		PKGS+=("$pkg $ver $sha")
	done < <(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances criu | grep -v '^ ' | sort -u)
	log "warning: the pinned criu closure is no longer in sid; using today's. Put these lines in $PIN:"
	printf '%s\n' "${PKGS[@]}" >&2
	CRIU_VER=$(printf '%s\n' "${PKGS[@]}" | awk '$1 == "criu" { print $2 }')
	DEST=$CACHE/criu-${CRIU_VER//:/_}
fi

tmp=$(mktemp -d "$CACHE/.criu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root" "$tmp/bin"
for line in "${PKGS[@]}"; do
	read -r pkg ver sha <<<"$line"
	deb=$CACHE/downloads/${pkg}_${ver//:/_}_amd64.deb
	apt_private_fetch "$pkg" "$ver" "$sha" "$deb" || die "apt-get download $pkg=$ver failed"
	dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
done
R=$DEST/root
for f in "$tmp/root/usr/lib64/ld-linux-x86-64.so.2" "$tmp/root/usr/sbin/criu"; do
	[[ -e $f ]] || die "the unpacked closure has no ${f#"$tmp/root"}"
done
cat >"$tmp/bin/criu" <<EOF
#!/bin/sh
exec "$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "$R/usr/lib/x86_64-linux-gnu" "$R/usr/sbin/criu" "\$@"
EOF
chmod 755 "$tmp/bin/criu" "$tmp"
{
	echo "pin $(pin_sum)"
	printf '%s\n' "${PKGS[@]}"
} >"$tmp/.stamp"
rm -rf "$DEST"
mv "$tmp" "$DEST"
trap - EXIT
log "criu $CRIU_VER (sid) unpacked into $DEST"
finish "$DEST"
