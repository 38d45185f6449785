# shellcheck shell=bash disable=SC2154
# Basic `ctr run` behaviour.  Sourced by run.sh; helpers and T_ID, T_DIR,
# ROOTFS, RUNTIME come from there.

t_echo() {
	local out rc
	out=$(run_c --rm "$T_ID" echo hello)
	rc=$?
	[ "$rc" -eq 0 ] || fail "ctr run exit status $rc, want 0"
	[ "$out" = hello ] || fail "stdout '$out', want 'hello'"
}

t_exit_codes() {
	local rc
	run_c --rm "$T_ID-a" true
	rc=$?
	[ "$rc" -eq 0 ] || fail "true: exit status $rc, want 0"
	run_c --rm "$T_ID-b" sh -c 'exit 3'
	rc=$?
	[ "$rc" -eq 3 ] || fail "sh -c 'exit 3': exit status $rc, want 3"
	run_c --rm "$T_ID-c" false
	rc=$?
	[ "$rc" -eq 1 ] || fail "false: exit status $rc, want 1"
}

# SIGKILL from another ctr while `ctr run` waits: 128+9
t_exit_sigkill() {
	local cp rc
	run_c --rm "$T_ID" sleep 100 &
	cp=$!
	wait_status "$T_ID" RUNNING 20 || fail "task never RUNNING"
	ctr_ task kill -s SIGKILL "$T_ID" || fail "ctr task kill failed"
	wait "$cp"
	rc=$?
	[ "$rc" -eq 137 ] || fail "ctr run exit status $rc, want 137"
}

# runc's error text must reach ctr (through the shim's Create error)
t_nosuchcmd() {
	local out rc
	out=$(run_c --rm "$T_ID" nosuchcmd 2>&1)
	rc=$?
	printf '%s\n' "$out"
	[ "$rc" -ne 0 ] || fail "ctr run of a missing command succeeded"
	case $out in
	*"executable file not found"*) ;;
	*) fail "error output lacks runc's message: $(tail -n 1 <<<"$out")" ;;
	esac
	wait_until 10 no_shim_for "$T_ID" || fail "shim still running after failed create: $(shim_pids "$T_ID")"
	if ctr_ containers ls -q | grep -qx "$T_ID"; then
		fail "container still listed after failed run --rm"
	fi
}

# non-tty stdin reaches the container.  (ctr run never sends CloseIO on EOF,
# so `cat` would hang even with the Go shim: read one line instead.  EOF
# propagation is tested through `ctr task exec` in t_exec.)
t_stdin() {
	local out rc
	out=$(printf 'abc\nxyz\n' | run_c --rm "$T_ID" head -n 1)
	rc=$?
	[ "$rc" -eq 0 ] || fail "exit status $rc, want 0"
	[ "$out" = abc ] || fail "stdout '$out', want 'abc'"
}

# stdout and stderr stay separate
t_stderr() {
	local out err rc
	out=$(run_c --rm "$T_ID" sh -c 'echo out; echo err >&2' 2>"$T_DIR/err")
	rc=$?
	err=$(grep -v '^+ ' "$T_DIR/err")
	[ "$rc" -eq 0 ] || fail "exit status $rc, want 0"
	[ "$out" = out ] || fail "stdout '$out', want 'out'"
	[ "$err" = err ] || fail "stderr '$err', want 'err'"
}

# binary:// log URI: the logger gets stdout/stderr as fds 3/4, the ready pipe
# as fd 5, the query as arguments and the container id in its environment
t_binary_logger() {
	local logger out
	logger=$T_DIR/logger.sh
	out=$T_DIR/logged
	cat >"$logger" <<LOGGER
#!/bin/sh
trap "" TERM
exec 5>&-
{ echo "args: \$*"; echo "id: \$CONTAINER_ID"; cat <&3; cat <&4; } >"$out.tmp"
mv "$out.tmp" "$out"
LOGGER
	chmod +x "$logger"
	run_c --rm "--log-uri=binary://$logger?mode=test&x" "$T_ID" \
		sh -c 'echo to-stdout; echo to-stderr >&2' || fail "ctr run failed"
	wait_until 10 test -f "$out" || fail "logger wrote nothing"
	grep -qx "id: $T_ID" "$out" || fail "CONTAINER_ID missing: $(cat "$out")"
	grep -q "^args: .*mode test" "$out" || fail "query args missing: $(cat "$out")"
	grep -qx to-stdout "$out" || fail "stdout not logged: $(cat "$out")"
	grep -qx to-stderr "$out" || fail "stderr not logged: $(cat "$out")"
}

# a terminal (ctr run -t, given a terminal by script(1)): the process sees
# a tty, its output comes back with the terminal's CRLF, its exit status
# through ctr
t_tty() {
	local out rc
	command -v script >/dev/null || skip "no script(1) (util-linux)"
	# shellcheck disable=SC2016 # $(tty) is the container's
	out=$(script -qefc "ctr --address $CTRD_SOCK -n $CTRD_NS run --rm -t --runtime $RUNTIME \
		--fifo-dir $(ctr_fifo_dir) --env PATH=/bin ${CTR_RUN_FLAGS:-} --rootfs $ROOTFS $T_ID \
		sh -c 'echo tty=\$(tty); seq 1 3000 | tail -n 1; exit 7'" /dev/null </dev/null)
	rc=$?
	[ "$rc" -eq 7 ] || fail "exit status $rc, want 7 (output: $out)"
	# (ctr's own terminal adds a CR, and a NUL at the start, with either shim)
	grep -q $'tty=/dev/pts/[0-9]*\r\r*$' <<<"$out" || fail "no terminal: $out"
	grep -q $'^3000\r\r*$' <<<"$out" || fail "output lost or not through a terminal: $out"
}

# installed under the stock name (containerd-shim-runc-v2, runtime
# io.containerd.runc.v2), this binary serves containerd as the Go shim
# would: a second private containerd finds it by that name
t_stock_name() {
	local bin=$T_DIR/stock out p exe
	mkdir -p "$bin"
	cp "$CTRD_REPO/build/containerd-shim-runc-v2-c" "$bin/containerd-shim-runc-v2" ||
		fail "no build/containerd-shim-runc-v2-c"
	(
		# shellcheck disable=SC2030 # a containerd of this subshell's own
		CTRD_PID='' CTRD_NS=stock-$RUN_TAG SHIM_DIR=$bin RUNTIME=io.containerd.runc.v2
		trap ctrd_stop EXIT
		ctrd_start || fail "the second containerd did not start"
		ctr_ run -d --runtime io.containerd.runc.v2 --fifo-dir "$(ctr_fifo_dir)" --env PATH=/bin \
			--rootfs "$ROOTFS" "$T_ID" sleep 600 || fail "ctr run as io.containerd.runc.v2 failed"
		p=$(shim_pids "$T_ID" | head -n 1)
		exe=$(readlink "/proc/$p/exe")
		[ "$exe" = "$bin/containerd-shim-runc-v2" ] || fail "the shim is '$exe', not ours"
		"$exe" -v 2>&1 | grep -q containerd-shim-runc-v2-c || fail "$exe -v does not name this shim"
		out=$(ctr_ task exec --fifo-dir "$(ctr_fifo_dir)" --exec-id e "$T_ID" echo stock-ok) ||
			fail "exec failed"
		[ "$out" = stock-ok ] || fail "exec output '$out'"
		ctr_ task kill -s SIGKILL "$T_ID"
		wait_status "$T_ID" STOPPED 20 || fail "not STOPPED"
		ctr_ task rm "$T_ID" || fail "task rm failed"
	) || exit 1
}
