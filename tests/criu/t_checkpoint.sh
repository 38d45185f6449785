# shellcheck shell=bash disable=SC2154
# Checkpoint and restore with a real CRIU, through ctr: run by
# tests/criu/run.sh (tests/integration/run.sh with TEST_FILES set to this
# file, sid's criu on containerd's PATH and the overlayfs snapshotter), for
# this shim and for the Go shim.

# a counter: its count lives in the shell's memory, /tmp/n shows it
CK_COUNTER='i=0; while :; do i=$((i+1)); echo $i >/tmp/n; sleep 0.2; done'

ck_need_criu() {
	[ -x "${CTRD_EXTRA_PATH:-/nonexistent}/criu" ] || skip "no criu on containerd's PATH (tests/criu/run.sh)"
}

# ck_image: the busybox image, for ctr container checkpoint/restore
ck_image() {
	ctr_ image ls -q | grep -qx localhost/busybox:ck && return 0
	ctr_import_busybox localhost/busybox:ck "$ROOTFS" || fail "cannot import the busybox image"
}

CK_N=0
# ck_count ID: the counter's value now (an exec of cat)
ck_count() {
	CK_N=$((CK_N + 1))
	ctr_ task exec --exec-id "n$CK_N" "$1" cat /tmp/n
}

# ck_wait_count ID MIN: until the counter of ID reaches MIN
ck_wait_count() {
	local i v
	for ((i = 0; i < 100; i++)); do
		v=$(ck_count "$1" 2>/dev/null)
		[ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "the counter of $1 is at '$v', never reached $2"
}

ck_stop() {
	ctr_ task kill -s SIGKILL "$1" 2>/dev/null
	wait_status "$1" STOPPED 20 >/dev/null
	ctr_ task rm "$1" >/dev/null 2>&1
	ctr_ containers rm "$1" >/dev/null 2>&1
}

# Checkpoint a running counter into an image (ctr pauses it, dumps it,
# resumes it), restore it as another container: the count goes on from
# where it was dumped, and the container checkpointed goes on running.
t_checkpoint_counter() {
	local v0 v1 vr vr2 out i
	ck_need_criu
	ck_image
	ctr_ run -d --runtime "$RUNTIME" localhost/busybox:ck "$T_ID" sh -c "$CK_COUNTER" ||
		fail "ctr run failed"
	ck_wait_count "$T_ID" 3
	v0=$(ck_count "$T_ID")
	out=$(ctr_ containers checkpoint --task "$T_ID" "localhost/ck:$T_ID" 2>&1) ||
		fail "ctr containers checkpoint failed: $out"
	[ "$(task_field "$T_ID" STATUS)" = RUNNING ] || fail "the task is $(task_field "$T_ID" STATUS) after the checkpoint, not RUNNING"
	sleep 4
	v1=$(ck_count "$T_ID")
	[ "$v1" -gt $((v0 + 5)) ] || fail "the checkpointed counter did not go on: $v0, then $v1 4 s later"
	ck_stop "$T_ID"

	out=$(ctr_ containers restore --live "$T_ID-r" "localhost/ck:$T_ID" 2>&1) ||
		fail "ctr containers restore failed: $out"
	wait_status "$T_ID-r" RUNNING 20 || fail "the restored task is not RUNNING"
	# the restored rootfs is fresh: /tmp/n is back at the counter's next tick
	for ((i = 0; i < 50; i++)); do
		vr=$(ck_count "$T_ID-r" 2>/dev/null) && [ -n "$vr" ] && break
		sleep 0.1
	done
	echo "counter: $v0 at the checkpoint, $v1 4 s later; restored: $vr"
	[ -n "$vr" ] && [ "$vr" -ge "$v0" ] && [ "$vr" -lt "$v1" ] ||
		fail "the restored counter is at '$vr': not from the checkpoint (dumped at >= $v0, the original reached $v1)"
	sleep 1
	vr2=$(ck_count "$T_ID-r")
	[ "$vr2" -gt "$vr" ] || fail "the restored counter does not count: $vr, then $vr2"
	ck_stop "$T_ID-r"
	ctr_ image rm "localhost/ck:$T_ID" >/dev/null
}

# --exit: the task is dumped, then stopped
t_checkpoint_exit() {
	local out
	ck_need_criu
	run_c -d "$T_ID" sh -c "$CK_COUNTER" || fail "ctr run failed"
	ck_wait_count "$T_ID" 2
	out=$(ctr_ task checkpoint --exit --image-path "$T_DIR/img" "$T_ID" 2>&1) ||
		fail "ctr task checkpoint --exit failed: $out"
	wait_status "$T_ID" STOPPED 20 || fail "the task is not STOPPED after a checkpoint with --exit"
	[ -s "$T_DIR/img/inventory.img" ] || fail "no inventory.img in the image path"
	ck_stop "$T_ID"
}

# A paused task is dumped, and stays paused; resumed, it goes on
t_checkpoint_paused() {
	local out v0 v1
	ck_need_criu
	run_c -d "$T_ID" sh -c "$CK_COUNTER" || fail "ctr run failed"
	ck_wait_count "$T_ID" 2
	ctr_ task pause "$T_ID" || fail "ctr task pause failed"
	wait_status "$T_ID" PAUSED 20 || fail "the task is not PAUSED"
	out=$(ctr_ task checkpoint --image-path "$T_DIR/img" "$T_ID" 2>&1) ||
		fail "the checkpoint of a paused task failed: $out"
	[ -s "$T_DIR/img/inventory.img" ] || fail "no inventory.img in the image path"
	[ "$(task_field "$T_ID" STATUS)" = PAUSED ] || fail "the task is $(task_field "$T_ID" STATUS) after the checkpoint, not PAUSED"
	v0=$(cat "/proc/$(task_field "$T_ID" PID)/root/tmp/n")
	sleep 1
	v1=$(cat "/proc/$(task_field "$T_ID" PID)/root/tmp/n")
	[ "$v0" = "$v1" ] || fail "the paused counter moved: $v0, then $v1"
	ctr_ task resume "$T_ID" || fail "ctr task resume failed"
	ck_wait_count "$T_ID" $((v0 + 2))
	ck_stop "$T_ID"
}

# A client-chosen image path and work path: the images go to the one, criu's
# log to the other, which is kept (a work path the shim chose is removed)
t_checkpoint_paths() {
	local out
	ck_need_criu
	run_c -d "$T_ID" sh -c "$CK_COUNTER" || fail "ctr run failed"
	ck_wait_count "$T_ID" 2
	out=$(ctr_ task checkpoint --image-path "$T_DIR/img" --work-path "$T_DIR/work" "$T_ID" 2>&1) ||
		fail "ctr task checkpoint failed: $out"
	[ -s "$T_DIR/img/inventory.img" ] || fail "no inventory.img in the image path"
	[ -s "$T_DIR/work/dump.log" ] || fail "no dump.log kept in the work path"
	[ -e "$T_DIR/img/dump.log" ] && fail "dump.log in the image path, not the work path"
	[ -e "$(bundle_dir "$T_ID")/work/criu-work" ] && fail "the shim's own work folder was made"
	[ "$(task_field "$T_ID" STATUS)" = RUNNING ] || fail "the task is not RUNNING after the checkpoint"
	ck_stop "$T_ID"
}

# A dump that fails inside criu (its image path is a full 32 KiB tmpfs):
# the error names criu's log, kept in the bundle as criu-dump.log; the task
# goes on running
t_checkpoint_dump_fails() {
	local out rc
	ck_need_criu
	mkdir -p "$T_DIR/small"
	mount -t tmpfs -o size=32k tmpfs "$T_DIR/small" || skip "cannot mount a tmpfs"
	run_c -d "$T_ID" sh -c "$CK_COUNTER" || { umount "$T_DIR/small"; fail "ctr run failed"; }
	ck_wait_count "$T_ID" 2
	out=$(ctr_ task checkpoint --image-path "$T_DIR/small" "$T_ID" 2>&1)
	rc=$?
	umount "$T_DIR/small"
	echo "ctr: status $rc: $out"
	[ "$rc" -ne 0 ] || fail "the checkpoint into a full folder succeeded"
	case $out in *"$(bundle_dir "$T_ID")/criu-dump.log"*) ;;
	*) fail "the error does not name $(bundle_dir "$T_ID")/criu-dump.log: $out" ;; esac
	grep -q . "$(bundle_dir "$T_ID")/criu-dump.log" || fail "criu-dump.log is missing or empty"
	wait_status "$T_ID" RUNNING 5 || fail "the task is not RUNNING after the failed dump"
	ck_wait_count "$T_ID" $(($(ck_count "$T_ID") + 2))
	ck_stop "$T_ID"
}
