#!/usr/bin/env bash
# Check the house's layers: every file of src/ names its layer in its
# opening comment ("Layer: NAME"), and includes only headers of its own
# layer or of those below it (README, "Architecture"):
#
#   face > task > model, wire > runtime > base
#
# model and wire stand side by side: neither includes the other.
# Generated headers (*.pb.h) and third-party ones (jsmn.h, pb*.h) count as
# base.  Prints one line per breach and "layers: N files, N breaches";
# exit status 1 on any.
#
#   tools/layers.sh [SRC_DIR]
set -uo pipefail
SRC=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../src" && pwd)}

rank() {
	case $1 in
	base) echo 0 ;; runtime) echo 1 ;; model | wire) echo 2 ;; task) echo 3 ;; face) echo 4 ;;
	*) echo -1 ;;
	esac
}

declare -A layer=()
bad=0 files=0
for f in "$SRC"/*.c "$SRC"/*.h; do
	name=$(basename "$f")
	l=$(awk '/\*\//{ exit } match($0, /Layer: [a-z]+/) { print substr($0, RSTART + 7, RLENGTH - 7); exit }' "$f")
	if [ -z "$l" ] || [ "$(rank "$l")" -lt 0 ]; then
		echo "$name: no layer in its opening comment"
		bad=$((bad + 1))
		continue
	fi
	layer[$name]=$l
done
for f in "$SRC"/*.c "$SRC"/*.h; do
	name=$(basename "$f")
	l=${layer[$name]:-}
	[ -n "$l" ] || continue
	files=$((files + 1))
	while read -r inc; do
		case $inc in *.pb.h | jsmn.h | pb.h | pb_*.h) il=base ;; *) il=${layer[$inc]:-} ;; esac
		if [ -z "$il" ]; then
			echo "$name: includes $inc, which names no layer"
			bad=$((bad + 1))
		elif [ "$(rank "$il")" -gt "$(rank "$l")" ] ||
			{ [ "$il" != "$l" ] && [ "$(rank "$il")" -eq "$(rank "$l")" ]; }; then
			echo "$name ($l) includes $inc ($il): a layer above it, or beside it"
			bad=$((bad + 1))
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
echo "layers: $files files, $bad breaches"
[ "$bad" -eq 0 ]
