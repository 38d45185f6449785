# shellcheck shell=bash disable=SC2154
# Our shim is a static binary, and its idle process stays small.

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

# only_our_shim: skip the test unless the shim under test is this one (by
# name, or installed as another with FORCE_STATIC_TEST=1)
only_our_shim() {
	if [ "$SHIM_BIN_NAME" != containerd-shim-runc-v2-c ] && [ "${FORCE_STATIC_TEST:-0}" != 1 ]; then
		skip "only for our shim (RUNTIME=$RUNTIME)"
	fi
}

t_static() {
	only_our_shim
	check_static "$SHIM_DIR/$SHIM_BIN_NAME" || fail "$SHIM_DIR/$SHIM_BIN_NAME is not statically linked"
}

# The idle shim keeps its tables out of transparent huge pages (src/pages.h):
# on a kernel whose THP setting is "always" one touched byte of them would
# cost 2 MiB.  Every anonymous writable mapping of 2 MiB or more carries
# VmFlags "nh", and none is backed by a huge page.
t_no_huge_pages() {
	only_our_shim
	[ -e /sys/kernel/mm/transparent_hugepage/enabled ] || skip "no transparent huge pages here"
	local sp bad
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	ctr_ task exec --exec-id probe "$T_ID" true || fail "ctr task exec failed"
	sp=$(shim_pids "$T_ID")
	[ -n "$sp" ] || fail "no shim process with -id $T_ID"
	echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled); shim RSS $(rss_kb "$sp") kB"
	bad=$(awk '
		function hex(s, i, n) {
			for (n = i = 0; i < length(s); i++)
				n = n * 16 + index("0123456789abcdef", substr(s, i + 1, 1)) - 1
			return n
		}
		/^[0-9a-f]+-[0-9a-f]+ / {
			split($1, r, "-"); m = $0; anon = (NF == 5 && $2 ~ /^rw/)
			size = hex(r[2]) - hex(r[1]); next
		}
		/^AnonHugePages:/ && $2 > 0 { print "huge pages (" $2 " kB): " m }
		/^VmFlags:/ && anon && size >= 2097152 && !/ nh( |$)/ { print "no nh: " m }
	' "/proc/$sp/smaps")
	[ -z "$bad" ] || fail "$(printf '%s\n' "$bad" | head -n 5)"
}

# The code a daemon never runs in a container's life (src/cold.ld) is a
# mapping of its own that stays out of memory: after a create, a start, an
# exec and a kill of an exec, the binary has an executable mapping with
# nothing resident.  A cold function that does run fails this test, as it
# would bring its neighbours back into every shim's RSS.
t_cold_code_not_resident() {
	only_our_shim
	[ "$(getconf PAGESIZE)" -le 16384 ] || skip "pages of $(getconf PAGESIZE) bytes: the cold stretch is under one"
	local sp maps
	run_c -d "$T_ID" sleep 100 || fail "ctr run -d failed"
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	ctr_ task exec --exec-id probe "$T_ID" true || fail "ctr task exec failed"
	ctr_ task exec --exec-id probe2 "$T_ID" sh -c 'exit 3'
	ctr_ task pause "$T_ID" || fail "pause failed"
	ctr_ task resume "$T_ID" || fail "resume failed"
	sp=$(shim_pids "$T_ID")
	[ -n "$sp" ] || fail "no shim process with -id $T_ID"
	# every r-xp mapping of the shim's binary: size and Rss in kB
	maps=$(awk -v exe="$(readlink "/proc/$sp/exe")" '
		/^[0-9a-f]+-[0-9a-f]+ / { want = ($2 ~ /^r-xp/ && $6 == exe); m = $1; next }
		want && /^Size:/ { size = $2 }
		want && /^Rss:/ { print m, size, $2; want = 0 }
	' "/proc/$sp/smaps")
	echo "the binary's executable mappings (range, size kB, Rss kB):"
	echo "$maps"
	[ "$(wc -l <<<"$maps")" -ge 2 ] || fail "one executable mapping: the cold code was not split off"
	awk '$2 >= 16 && $3 == 0 { found = 1 } END { exit !found }' <<<"$maps" ||
		fail "no executable mapping of 16 kB or more with nothing resident: cold code ran"
}
