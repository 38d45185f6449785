# shellcheck shell=bash
# Upgrade in place (src/upgrade.c) through the real containerd and runc:
# every shim of a binary path is upgraded by the `upgrade` command while
# its containers run, and nothing they do notices.  No other shim can do
# this, so every assertion is absolute.
#
# The shims run from a copy of the binary under the test's own folder
# (ctr --runtime PATH): the test replaces that copy, never build/.

timeout_upgrade_under_load=600

# up_build NAME: a variant build, build/upgrade-NAME (make upgrade-variants;
# built here if it is not there or is of another revision than build/)
up_build() {
	local name=$1 bin=$CTRD_REPO/build/upgrade-$1/containerd-shim-runc-v2-c
	local rev
	rev=$("$CTRD_REPO/build/containerd-shim-runc-v2-c" -v | awk '/Revision/ { print $2 }')
	if ! "$bin" -v 2>/dev/null | grep -q "Revision: $rev\$"; then
		make -s -C "$CTRD_REPO" upgrade-variants >"$T_DIR/make.log" 2>&1 ||
			fail "no build/upgrade-$name (make upgrade-variants): $(tail -n 3 "$T_DIR/make.log")"
	fi
	printf '%s\n' "$bin"
}

# up_install SRC DST: as a package does, a new file renamed over the old
up_install() { cp "$1" "$2.new" && chmod 755 "$2.new" && mv -f "$2.new" "$2"; }

# up_shims: "pid fds rss_kb" of every shim of our copy
up_shims() {
	local p
	for p in $(shim_pids); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null | sed 's/ (deleted)$//')" = "$UP_BIN" ] || continue
		printf '%s %s %s\n' "$p" "$(ls "/proc/$p/fd" | wc -l)" \
			"$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")"
	done | sort -n
}

# the whole set at once: 10 containers, a pod of 20, a numbered stream, a
# terminal and a stdin being written, an exec whose Wait is parked, an
# exit during an upgrade; 10 upgrades back and forth between two builds
t_upgrade_under_load() {
	[ "$RUNTIME" = io.containerd.runc.v2 ] && skip "the Go shim cannot be upgraded in place"
	command -v script >/dev/null || skip "no script(1) (util-linux)"
	local a b i n shims go=/tmp/go-$T_ID gox=/tmp/gox-$T_ID evpid line out rc want p
	# (a TCG guest: fewer; tests/vm/suite.sh)
	local nc=${UPGRADE_CONTAINERS:-10} np=${UPGRADE_POD:-20}
	a=$CTRD_REPO/build/containerd-shim-runc-v2-c
	b=$(up_build b) || exit 1
	mkdir -p "$T_DIR/bin"
	UP_BIN=$T_DIR/bin/containerd-shim-runc-v2-c
	up_install "$a" "$UP_BIN" || fail "install"
	RUNTIME=$UP_BIN

	ctr_ events >"$T_DIR/events" 2>&1 &
	evpid=$!
	for i in $(seq 0 $((nc - 1))); do
		run_c -d "$T_ID-c$i" sleep 86400 || fail "container c$i"
	done
	for i in $(seq 0 $((np - 1))); do
		run_c -d "--annotation=io.containerd.runc.v2.group=pod-$T_ID" "$T_ID-p$i" \
			sleep 86400 || fail "pod member p$i"
	done
	# shellcheck disable=SC2016 # the container's shell expands
	run_c -d "--log-uri=file://$T_DIR/seq.log" "$T_ID-seq" \
		sh -c 'i=0; while :; do echo $i; i=$((i+1)); done' || fail "numbered stream"
	run_c -d "$T_ID-exit" sh -c "while [ ! -e $go ]; do sleep 0.02; done; exit 5" ||
		fail "exit container"
	# stdin being written, and a terminal with its stdin
	mkfifo "$T_DIR/in.fifo" "$T_DIR/tty.fifo"
	run_c --rm "$T_ID-in" sh -c 'while read l; do echo got-$l; done' \
		<"$T_DIR/in.fifo" >"$T_DIR/in.out" 2>&1 &
	script -qefc "ctr --address $CTRD_SOCK -n $CTRD_NS run --rm -t --runtime $RUNTIME \
		--fifo-dir $(ctr_fifo_dir) --env PATH=/bin ${CTR_RUN_FLAGS:-} --rootfs $ROOTFS $T_ID-tty \
		sh -c 'while read l; do echo got-\$l-\$(tty); done'" /dev/null \
		<"$T_DIR/tty.fifo" >"$T_DIR/tty.out" 2>&1 &
	exec 7>"$T_DIR/in.fifo" 8>"$T_DIR/tty.fifo"
	wait_status "$T_ID-in" RUNNING 20 || fail "stdin container"
	wait_status "$T_ID-tty" RUNNING 20 || fail "tty container"
	wait_status "$T_ID-c0" RUNNING 20 || fail "c0"
	# an exec in flight, its Wait parked (ctr waits for its exit)
	exec_c "$T_ID-c0" e1 sh -c "while [ ! -e $gox ]; do sleep 0.05; done; exit 7" \
		>"$T_DIR/exec.out" 2>&1 &
	local execpid=$!
	wait_until 20 ctr_ task ps "$T_ID-c0" >/dev/null || true
	sleep 0.5

	shims=$(up_shims)
	n=$(wc -l <<<"$shims")
	# the containers, the pod, stream, exit, stdin, tty
	[ "$n" -eq $((nc + 5)) ] || fail "$n shims, want $((nc + 5)): $shims"
	echo "shims before (pid fds rss):"
	echo "$shims"
	ctr_ task ls | grep -v -- "-exit \|-seq " | sort >"$T_DIR/ls.before"
	ctr_ task ps "$T_ID-p$((np - 1))" >"$T_DIR/ps.before"

	for i in $(seq 1 10); do
		if [ $((i % 2)) -eq 1 ]; then up_install "$b" "$UP_BIN"; want=0.1.0-b; else
			up_install "$a" "$UP_BIN"; want=0.1.0; fi
		echo "a$i" >&7
		echo "t$i" >&8
		if [ "$i" -eq 5 ]; then
			# the exit comes while the shims are being upgraded
			(sleep 0.05; touch "$ROOTFS$go") &
		fi
		out=$("$UP_BIN" upgrade 2>&1)
		rc=$?
		echo "upgrade $i:"
		echo "$out"
		[ "$rc" -eq 0 ] || fail "upgrade $i exited $rc: $out"
		[ "$(grep -c -- "-> $want: upgraded in" <<<"$out")" -eq "$n" ] || fail "upgrade $i: not $n upgraded to $want"
		# same pids, the new binary
		[ "$(up_shims | awk '{ print $1 }')" = "$(awk '{ print $1 }' <<<"$shims")" ] ||
			fail "upgrade $i: the shims' pids changed: $(up_shims)"
		for p in $(awk '{ print $1 }' <<<"$shims"); do
			"/proc/$p/exe" -v 2>/dev/null | grep -q "Version:  $want\$" ||
				fail "upgrade $i: shim $p runs $(readlink "/proc/$p/exe")"
		done
	done
	rm -f "$ROOTFS$go"

	# containerd's view is unchanged
	ctr_ task ls | grep -v -- "-exit \|-seq " | sort >"$T_DIR/ls.after"
	diff "$T_DIR/ls.before" "$T_DIR/ls.after" || fail "ctr task ls changed"
	ctr_ task ps "$T_ID-p$((np - 1))" >"$T_DIR/ps.after"
	diff "$T_DIR/ps.before" "$T_DIR/ps.after" || fail "ctr task ps changed"
	# fds and memory not grown
	echo "shims after (pid fds rss):"
	up_shims | tee "$T_DIR/shims.after"
	while read -r p f r; do
		read -r _ f0 r0 < <(grep "^$p " <<<"$shims")
		[ "$f" -le "$f0" ] || fail "shim $p: $f fds, $f0 before"
		[ "$r" -le $((r0 + 64)) ] || fail "shim $p: RSS $r kB, $r0 kB before"
	done <"$T_DIR/shims.after"

	# the exit during the upgrades: stopped, its status, one event
	wait_status "$T_ID-exit" STOPPED 10 || fail "the exit container is not stopped"
	# the parked Wait on the exec is answered with its status
	touch "$ROOTFS$gox"
	wait "$execpid"
	rc=$?
	rm -f "$ROOTFS$gox"
	[ "$rc" -eq 7 ] || fail "exec: exit status $rc, want 7"
	# the terminal and stdin still work
	echo "a-last" >&7
	echo "t-last" >&8
	exec 7>&- 8>&-
	wait_until 10 grep -q "got-a-last" "$T_DIR/in.out" || fail "stdin: $(tail -n 3 "$T_DIR/in.out")"
	wait_until 10 grep -q "got-t-last-/dev/pts" "$T_DIR/tty.out" || fail "tty: $(tail -n 3 "$T_DIR/tty.out")"
	for i in $(seq 1 10); do
		grep -qx "got-a$i" "$T_DIR/in.out" || fail "stdin line a$i lost"
		grep -q "got-t$i-/dev/pts" "$T_DIR/tty.out" || fail "tty line t$i lost"
	done
	# the numbered stream: no gap, no repeat
	ctr_ task kill -s KILL "$T_ID-seq"
	wait_status "$T_ID-seq" STOPPED 20 || fail "seq not stopped"
	out=$(awk 'NR - 1 != $0 { print "line " NR ": " $0; bad = 1; exit } END { if (!bad) print "ok " NR }' "$T_DIR/seq.log")
	echo "numbered stream: $out"
	[ "${out%% *}" = ok ] || fail "numbered stream: $out"
	[ "${out#ok }" -gt 1000 ] || fail "numbered stream too short: $out"

	# kill and delete still work, every exit published once
	for i in $(seq 0 $((nc - 1))); do ctr_ task kill -s KILL "$T_ID-c$i"; done
	for i in $(seq 0 $((np - 1))); do ctr_ task kill -s KILL "$T_ID-p$i"; done
	for i in $(seq 0 $((nc - 1))); do wait_status "$T_ID-c$i" STOPPED 20 || fail "c$i not stopped"; done
	for i in $(seq 0 $((np - 1))); do wait_status "$T_ID-p$i" STOPPED 20 || fail "p$i not stopped"; done
	out=$(ctr_ task rm "$T_ID-exit" 2>&1)
	echo "delete of the exit container: $out"
	for i in $(seq 0 $((nc - 1))); do ctr_ task rm "$T_ID-c$i" >/dev/null || fail "rm c$i"; done
	for i in $(seq 0 $((np - 1))); do ctr_ task rm "$T_ID-p$i" >/dev/null || fail "rm p$i"; done
	ctr_ task rm "$T_ID-seq" >/dev/null || fail "rm seq"
	sleep 0.5
	kill "$evpid" 2>/dev/null
	# (ctr events: TIME NS /tasks/exit {"container_id":..,"id":..,"pid":..,"exit_status":..})
	line=$(grep -c "/tasks/exit .*\"id\":\"$T_ID-exit\"" "$T_DIR/events")
	[ "$line" -eq 1 ] || fail "$line exit events for the exit container: $(grep -- "$T_ID-exit" "$T_DIR/events")"
	grep "/tasks/exit .*\"id\":\"$T_ID-exit\"" "$T_DIR/events" | grep -q '"exit_status":5' ||
		fail "the exit event's status is not 5: $(grep "/tasks/exit .*$T_ID-exit" "$T_DIR/events")"
	grep "/tasks/exit .*\"container_id\":\"$T_ID-c0\",\"id\":\"e1\"" "$T_DIR/events" |
		grep -q '"exit_status":7' || fail "no exit event with status 7 for the exec"
	for i in $(seq 0 $((nc - 1))); do
		[ "$(grep -c "/tasks/exit .*\"id\":\"$T_ID-c$i\"" "$T_DIR/events")" -eq 1 ] ||
			fail "c$i: not one exit event: $(grep "/tasks/exit .*$T_ID-c$i\"" "$T_DIR/events")"
	done
	wait_until 20 test -z "$(up_shims)" || fail "shims left: $(up_shims)"
}

# a new binary that cannot take the state is refused, and the old one
# serves on, unchanged: one that exits 1 at once, one that crashes while it
# checks the state, one of another state format, and a path that is gone;
# the command says so and exits non-zero
t_upgrade_refused() {
	[ "$RUNTIME" = io.containerd.runc.v2 ] && skip "the Go shim cannot be upgraded in place"
	local a crash f0 sp out rc name
	a=$CTRD_REPO/build/containerd-shim-runc-v2-c
	crash=$(up_build crash) || exit 1
	f0=$(up_build f0) || exit 1
	mkdir -p "$T_DIR/bin"
	UP_BIN=$T_DIR/bin/containerd-shim-runc-v2-c
	up_install "$a" "$UP_BIN" || fail "install"
	RUNTIME=$UP_BIN
	run_c -d "$T_ID" sleep 86400 || fail "ctr run"
	wait_status "$T_ID" RUNNING 20 || fail "not running"
	sp=$(up_shims | awk '{ print $1 }')
	[ -n "$sp" ] || fail "no shim"
	printf '#!/bin/sh\nexit 1\n' >"$T_DIR/exit1"
	for name in exit1 crash f0 gone; do
		case $name in
		exit1) up_install "$T_DIR/exit1" "$UP_BIN" ;;
		crash) up_install "$crash" "$UP_BIN" ;;
		f0) up_install "$f0" "$UP_BIN" ;;
		gone) rm -f "$UP_BIN" ;;
		esac
		# the command from the good binary, for the shims of that path
		out=$("$a" upgrade "$UP_BIN" 2>&1) && rc=0 || rc=$?
		echo "$name: exit status $rc: $out"
		[ "$rc" -ne 0 ] || fail "$name: the upgrade command succeeded"
		grep -q "pid $sp .*: failed: " <<<"$out" || fail "$name: no failure line for shim $sp"
		[ -d "/proc/$sp" ] || fail "$name: the shim died"
		[ "$(task_field "$T_ID" STATUS)" = RUNNING ] || fail "$name: the task is not RUNNING"
		exec_c "$T_ID" "x-$name" true || fail "$name: exec after the refusal failed"
	done
	# and then a good binary at the path is taken
	up_install "$a" "$UP_BIN"
	out=$("$UP_BIN" upgrade 2>&1) || fail "upgrade after the refusals: $out"
	echo "$out"
	ctr_ task kill -s KILL "$T_ID"
	wait_status "$T_ID" STOPPED 20 || fail "not stopped"
	ctr_ task rm "$T_ID" >/dev/null || fail "rm"
}
