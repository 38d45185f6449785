# shellcheck shell=bash disable=SC2154
# Our shim must be a static binary.

# check_static FILE: no PT_INTERP, no DT_NEEDED
check_static() {
	local f=$1 out
	[ -f "$f" ] || { echo "$f: missing"; return 1; }
	out=$(file -L "$f")
	echo "$out"
	if readelf -lW "$f" | grep -q 'INTERP'; then
		echo "$f: has an INTERP segment: $(readelf -lW "$f" | grep -A1 INTERP | tail -n 1)"
		return 1
	fi
	if readelf -dW "$f" 2>/dev/null | grep -q '(NEEDED)'; then
		echo "$f: needs $(readelf -dW "$f" | grep '(NEEDED)' | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' ')"
		return 1
	fi
	case $out in
	*"statically linked"* | *"static-pie linked"*) ;;
	*)
		echo "$f: file(1) does not say static"
		return 1
		;;
	esac
}

t_static() {
	if [ "$SHIM_BIN_NAME" != containerd-shim-runc-v2-c ] && [ "${FORCE_STATIC_TEST:-0}" != 1 ]; then
		skip "only for our shim (RUNTIME=$RUNTIME)"
	fi
	check_static "$SHIM_DIR/$SHIM_BIN_NAME" || fail "$SHIM_DIR/$SHIM_BIN_NAME is not statically linked"
}
