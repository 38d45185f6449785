#!/usr/bin/env bash
# The house's layers (tools/layers.sh): src/ has no breach, and the check
# does catch one (the model including the wire, the runtime the model,
# a file with no layer).  Ends with "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }

if out=$("$ROOT/tools/layers.sh" "$ROOT/src"); then
	ok "src/: $(tail -n 1 <<<"$out")"
else
	ko "src/ breaks its layers:"
	sed 's/^/  /' <<<"$out"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
breach() { # NAME FILE LINE: add LINE at the top of FILE's includes; the check must fail
	rm -rf "$tmp/src" && cp -r "$ROOT/src" "$tmp/src"
	sed -i "0,/^#include \"/s//$3\n#include \"/" "$tmp/src/$2"
	if out=$("$ROOT/tools/layers.sh" "$tmp/src") || ! grep -q "^$2" <<<"$out"; then
		ko "$1: not caught"
	else
		ok "$1 is caught"
	fi
}
breach "the model including the wire" container.c '#include "ttrpc.h"'
breach "the runtime including the model" procio.c '#include "container.h"'
breach "the wire including the task layer" ttrpc.c '#include "park.h"'
rm -rf "$tmp/src" && cp -r "$ROOT/src" "$tmp/src"
sed -i 's/Layer: base/Layer: nowhere/' "$tmp/src/slots.h"
if "$ROOT/tools/layers.sh" "$tmp/src" >/dev/null; then ko "a file with no layer: not caught"; else ok "a file with no layer is caught"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
