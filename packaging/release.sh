#!/usr/bin/env bash
# make release: reproducible release artifacts for every architecture.
#
#   packaging/release.sh VERSION ARCH...
#
# HEAD is exported twice (git archive) into two clean trees at different
# paths, and each tree builds every ARCH with SOURCE_DATE_EPOCH (default:
# HEAD's commit time), then its tarball and its Debian package.  The two
# rounds must be byte-identical, file by file, or the release fails and
# names what differs.  Then dist/ gets round one's
#   containerd-shim-runc-v2-c-<version>-<arch>.tar.gz   (binary, LICENSE,
#       README excerpt: what it is, how to install it and upgrade running
#       shims in place; examples/)
#   containerd-shim-runc-v2-c_<version>_<debarch>.deb
#   SHA256SUMS
# The inputs both rounds share: the host's nanopb generator, the fetched
# nanopb/jsmn sources (third_party/src) and each ARCH's musl
# (third_party/musl-cross.sh); uncommitted changes are not in a release.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ $# -ge 2 ] || { echo "usage: $0 VERSION ARCH..." >&2; exit 2; }
version=$1
shift
pkg=containerd-shim-runc-v2-c
rev=$(git rev-parse --short HEAD)
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct HEAD)}"
export SOURCE_DATE_EPOCH TZ=UTC LC_ALL=C
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
	echo "release: warning: uncommitted changes are not in the release (it is built from HEAD, $rev)" >&2

third_party/fetch.sh
declare -A musl
for a in "$@"; do musl[$a]=$(third_party/musl-cross.sh "$a"); done

tmp=$(mktemp -d /tmp/release.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# round DIR: build, pack, into DIR/out
round() {
	local dir=$1 src=$1/$pkg-$version a b t
	mkdir -p "$src" "$dir/out"
	git archive --format=tar HEAD | tar -x -C "$src"
	for a in "${ARCHS[@]}"; do
		make -s -C "$src" ARCH="$a" MUSL_CC="${musl[$a]}" REVISION="$rev" VERSION="$version" \
			NANOPB_SRC="$ROOT/third_party/src/nanopb" JSMN_SRC="$ROOT/third_party/src/jsmn" \
			"build/$a/$pkg" >"$dir/build-$a.log" 2>&1 ||
			{ tail -20 "$dir/build-$a.log" >&2; echo "release: $a build failed" >&2; return 1; }
		b=$src/build/$a/$pkg
		t=$dir/stage/$pkg-$version-$a
		mkdir -p "$t/examples"
		install -m 0755 "$b" "$t/$pkg"
		install -m 0644 "$src/LICENSE" "$t/LICENSE"
		install -m 0644 "$src"/examples/* "$t/examples/"
		install -m 0644 "$src/packaging/$pkg.8" "$t/$pkg.8"
		# the README's introduction, its install and upgrade sections
		awk '/^## /{ intro = 0; keep = ($0 ~ /^## (Install|Upgrading)/) } NR == 1 { intro = 1 } intro || keep' \
			"$src/README.md" >"$t/README.md"
		find "$t" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
		tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
			--format=gnu -C "$dir/stage" -cf - "$pkg-$version-$a" | gzip -9n >"$dir/out/$pkg-$version-$a.tar.gz"
		"$src/packaging/deb.sh" "$b" "$a" "$version" "$dir/out" >/dev/null
	done
}
ARCHS=("$@")
echo "release: $pkg $version ($rev), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, ${ARCHS[*]}"
round "$tmp/one"
round "$tmp/round-two"

bad=0
for f in "$tmp/one/out"/*; do
	n=$(basename "$f")
	if ! cmp -s "$f" "$tmp/round-two/out/$n"; then
		echo "release: $n differs between the two builds" >&2
		bad=1
	fi
done
[ "$(ls "$tmp/one/out" | wc -l)" = "$(ls "$tmp/round-two/out" | wc -l)" ] || { echo "release: the rounds made different files" >&2; bad=1; }
for a in "${ARCHS[@]}"; do
	cmp -s "$tmp/one/$pkg-$version/build/$a/$pkg" "$tmp/round-two/$pkg-$version/build/$a/$pkg" ||
		{ echo "release: the $a binaries differ" >&2; bad=1; }
done
[ "$bad" = 0 ] || { echo "release: not reproducible; nothing written to dist/" >&2; exit 1; }

rm -rf dist
mkdir -p dist
cp "$tmp/one/out"/* dist/
(cd dist && sha256sum -- * >SHA256SUMS)
echo "release: two builds byte-identical; dist/:"
for f in dist/*; do printf '  %-58s %8s bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"; done
for a in "${ARCHS[@]}"; do
	printf '  %-8s binary %s bytes\n' "$a" "$(stat -c %s "$tmp/one/$pkg-$version/build/$a/$pkg")"
done
