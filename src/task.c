/*
 * task.c - the task API's method table and its small handlers: Start,
 * State, Wait, Connect, Kill, Delete, CloseIO, ResizePty, Shutdown.
 *
 * Layer: task (README, "Architecture").
 *
 * Handlers that need runc bind their call to a runc job (task_core.c) and
 * answer from its completion; those that wait for something else park the
 * call (park.c).  Error codes follow what
 * containerd relies on: NOT_FOUND for missing or finished processes,
 * ALREADY_EXISTS for duplicates, FAILED_PRECONDITION for wrong states,
 * UNIMPLEMENTED for what this shim does not do.
 */
#include "cold.h"
#include "task.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "containerd_events_task.pb.h"
#include "containerd_runc_v1_options.pb.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "pbcb.h"
#include "console.h"
#include "task_core.h"

int task_shutdown_requested;
void (*task_on_shutdown)(void);

/* ---- Start ---- */

static void start_done(struct op *o, struct proc *p, int status, const char *out,
		       size_t outlen)
{
	if (!task_runc_ok(status)) {
		lc_event(p, PE_START_FAILED);
		task_runc_error(o->call, p, "start", status, out, outlen);
		return;
	}
	task_started(o->call, p);
}

static void task_start(struct call *c)
{
	containerd_task_v2_StartRequest *req = DECODE(c, containerd_task_v2_StartRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (p->ct->init != p) {
		task_exec_start(c, p);
		return;
	}
	if (task_refused(c, p->ct, p, LV_START))
		return;
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "start", 24, &argv, &n);
	if (!o)
		return;
	if (p->ct->checkpoint[0]) {
		task_restore_start(c, o, p, argv, n);
		return;
	}
	argv[n++] = "start";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	if (task_op_spawn(o, p, argv, NULL, 1, start_done) == 0)
		lc_event(p, PE_START);
}

/* ---- State, Wait, Connect, Pids ---- */

static void task_state(struct call *c)
{
	containerd_task_v2_StateRequest *req = DECODE(c, containerd_task_v2_StateRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	containerd_task_v2_StateResponse *r = arena_alloc(c->arena, sizeof(*r));
	if (!r) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	PB_SETSTR(r->id, p->id[0] ? p->id : p->ct->id);
	PB_SETSTR(r->bundle, p->ct->bundle);
	r->pid = (uint32_t)p->pid;
	r->status = (containerd_v1_types_Status)lc_status(p);
	PB_SETSTR(r->stdin, p->in);
	PB_SETSTR(r->stdout, p->out);
	PB_SETSTR(r->stderr, p->err);
	r->terminal = p->terminal;
	r->exit_status = lc_exit_done(p) ? (uint32_t)p->exit_status : 0;
	r->has_exited_at = true;
	lc_exited_at(p, &r->exited_at.seconds, &r->exited_at.nanos);
	ttrpc_reply(c, containerd_task_v2_StateResponse_fields, r);
}

/* Answer a Wait with p's exit (or NOT_FOUND if p went meanwhile). */
static void wait_answer(struct call *c, struct ref r)
{
	struct proc *p = proc_get(r);
	if (!p) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "process deleted");
		return;
	}
	containerd_task_v2_WaitResponse w;
	memset(&w, 0, sizeof(w));
	w.exit_status = (uint32_t)p->exit_status;
	w.has_exited_at = true;
	lc_exited_at(p, &w.exited_at.seconds, &w.exited_at.nanos);
	ttrpc_reply(c, containerd_task_v2_WaitResponse_fields, &w);
}

static void task_wait(struct call *c)
{
	containerd_task_v2_WaitRequest *req = DECODE(c, containerd_task_v2_WaitRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (lc_exit_done(p))
		wait_answer(c, proc_ref(p));
	else
		park_call(c, PARK_EXIT, proc_ref(p), wait_answer);
}

static void task_connect(struct call *c)
{
	containerd_task_v2_ConnectRequest *req =
		DECODE(c, containerd_task_v2_ConnectRequest);
	if (!req)
		return;
	containerd_task_v2_ConnectResponse r;
	memset(&r, 0, sizeof(r));
	r.shim_pid = (uint32_t)getpid();
	struct container *ct = container_find(req->id);
	if (ct && ct->init)
		r.task_pid = (uint32_t)ct->init->pid;
	ttrpc_reply(c, containerd_task_v2_ConnectResponse_fields, &r);
}

/* ---- Kill ---- */

static void kill_done(struct op *o, struct proc *p, int status, const char *out,
		      size_t outlen)
{
	struct call *c = o->call;
	if (task_runc_ok(status)) {
		ttrpc_reply(c, NULL, NULL);
		return;
	}
	char *msg = runc_error(c->arena, &p->ct->rc, "OCI runtime kill failed", status,
			       out, outlen);
	if (!msg)
		msg = "kill failed";
	if (strstr(msg, "process already finished") ||
	    strstr(msg, "container not running") || strstr(msg, "no such process"))
		ttrpc_reply_error(c, ST_NOT_FOUND, "process already finished");
	else if (strstr(msg, "does not exist"))
		ttrpc_reply_error(c, ST_NOT_FOUND, "no such container");
	else
		ttrpc_reply_error(c, ST_UNKNOWN, "%s", msg);
}

static void task_kill(struct call *c)
{
	containerd_task_v2_KillRequest *req = DECODE(c, containerd_task_v2_KillRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (req->signal == 0 || req->signal > 64) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid signal %u",
				  req->signal);
		return;
	}
	if (lc_exited(p) && !(req->all && p == p->ct->init)) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "process already finished");
		return;
	}
	if (p != p->ct->init) {
		if (!p->pid && p->jobs > 0) {
			/* its runc exec is in flight: the signal follows the start,
			 * as the Go shim's process lock makes it (else a Kill sent
			 * as the process starts is lost, and its client waits) */
			park_call(c, PARK_IDLE, proc_ref(p), task_rerun);
			return;
		}
		if (!p->pid) {
			ttrpc_reply_error(c, ST_FAILED_PRECONDITION,
					  "process not created");
			return;
		}
		if (kill(p->pid, (int)req->signal) < 0) {
			ttrpc_reply_error(c, ST_NOT_FOUND, "process already finished");
			return;
		}
		ttrpc_reply(c, NULL, NULL);
		return;
	}
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "kill", 5, &argv, &n);
	if (!o)
		return;
	argv[n++] = "kill";
	if (req->all)
		argv[n++] = "--all";
	argv[n++] = p->ct->id;
	argv[n++] = arena_printf(c->arena, "%u", req->signal);
	argv[n] = NULL;
	task_op_spawn(o, p, argv, NULL, 1, kill_done);
}

/* ---- Delete ----
 *
 * A Delete is work in flight on its process from the moment it is
 * accepted (a second Delete waits for it, then finds nothing), waits for
 * runc jobs still running on the process, then (at most 10 s) for its
 * output to be copied out, as the Go shim does, then removes it.
 */

static void delete_reply(struct call *c, struct proc *p)
{
	containerd_task_v2_DeleteResponse r;
	memset(&r, 0, sizeof(r));
	r.pid = (uint32_t)p->pid;
	r.exit_status = (uint32_t)p->exit_status;
	r.has_exited_at = true;
	lc_exited_at(p, &r.exited_at.seconds, &r.exited_at.nanos);
	ttrpc_reply(c, containerd_task_v2_DeleteResponse_fields, &r);
}

static void delete_done(struct op *o, struct proc *p, int status, const char *out,
			size_t outlen)
{
	struct call *c = o->call;
	struct container *ct = p->ct;
	if (!task_runc_ok(status)) {
		char *msg = runc_error(c->arena, &ct->rc, "OCI runtime delete failed",
				       status, out, outlen);
		if (msg && !strstr(msg, "does not exist") && !strstr(msg, "not found")) {
			ttrpc_reply_error(c, ST_UNKNOWN, "%s", msg);
			lc_job_end(p); /* the Delete itself */
			return;
		}
	}
	proc_io_close(p);
	task_rootfs_unmount(ct);
	containerd_events_TaskDelete ev;
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, ct->id);
	ev.pid = (uint32_t)p->pid;
	ev.exit_status = (uint32_t)p->exit_status;
	ev.has_exited_at = true;
	lc_exited_at(p, &ev.exited_at.seconds, &ev.exited_at.nanos);
	task_publish(EV_DELETE, &ev);
	delete_reply(c, p);
	container_free(ct);
}

/* The output has been copied out (or the wait is over). */
static void delete_proceed(struct call *c, struct ref r)
{
	struct proc *p = proc_get(r);
	if (!p) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "process deleted");
		return;
	}
	if (p != p->ct->init) {
		/* its pid file goes with it (an exec probe every few seconds
		 * would otherwise fill the bundle until the container goes) */
		char *pidfile = arena_printf(c->arena, "%s/%s.pid", p->ct->bundle, p->id);
		if (pidfile)
			unlink(pidfile);
		delete_reply(c, p);
		lc_event(p, PE_DELETE);
		return;
	}
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "delete", 3, &argv, &n);
	if (!o) {
		lc_job_end(p);
		return;
	}
	argv[n++] = "delete";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	if (task_op_spawn(o, p, argv, NULL, 1, delete_done) < 0)
		lc_job_end(p);
}

static void on_drained(void *ctx, int stalled)
{
	struct proc *p = ctx; /* io_close cancels this before p goes */
	if (stalled)
		log_warn("delete %s/%s: its output has not been read for %lld s: "
			 "closing it",
			 p->ct->id, p->id, IO_DELETE_STALL_NS / 1000000000LL);
	park_wake(PARK_DRAIN, proc_ref(p));
}

static void task_delete(struct call *c)
{
	containerd_task_v2_DeleteRequest *req =
		DECODE(c, containerd_task_v2_DeleteRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (p->jobs > 0) {
		/* runc jobs (or another Delete) in flight: after them */
		park_call(c, PARK_IDLE, proc_ref(p), task_rerun);
		return;
	}
	if (task_refused(c, p->ct, p, p == p->ct->init ? LV_DELETE : LV_DELETE_EXEC))
		return;
	lc_job_begin(p, 0); /* the Delete itself, until it ends */
	/* what it wrote reaches its readers before the copies close */
	if (io_watch(&p->io, IO_DELETE_STALL_NS, on_drained, p) == 0) {
		delete_proceed(c, proc_ref(p));
		return;
	}
	if (park_call(c, PARK_DRAIN, proc_ref(p), delete_proceed) < 0)
		lc_job_end(p); /* (the watch's wake then finds nobody) */
}

/* ---- CloseIO, ResizePty, Shutdown ---- */

static void task_close_io(struct call *c)
{
	containerd_task_v2_CloseIORequest *req =
		DECODE(c, containerd_task_v2_CloseIORequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (req->stdin)
		io_close_stdin(&p->io);
	ttrpc_reply(c, NULL, NULL);
}

static void task_resize_pty(struct call *c)
{
	containerd_task_v2_ResizePtyRequest *req =
		DECODE(c, containerd_task_v2_ResizePtyRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	int r = io_resize(&p->io, req->width, req->height); /* no-op without a pty */
	if (r < 0)
		ttrpc_reply_error(c, ST_UNKNOWN, "resize pty: %s", strerror(-r));
	else
		ttrpc_reply(c, NULL, NULL);
}

static void task_shutdown(struct call *c)
{
	containerd_task_v2_ShutdownRequest *req =
		DECODE(c, containerd_task_v2_ShutdownRequest);
	if (!req)
		return;
	if (container_count() == 0)
		task_shutdown_requested = 1;
	ttrpc_reply(c, NULL, NULL);
	if (task_shutdown_requested && task_on_shutdown)
		task_on_shutdown();
}

static const struct ttrpc_method methods[] = {
	{ "Create", task_create },
	{ "Start", task_start },
	{ "Delete", task_delete },
	{ "State", task_state },
	{ "Wait", task_wait },
	{ "Kill", task_kill },
	{ "Pids", task_pids },
	{ "Connect", task_connect },
	{ "Shutdown", task_shutdown },
	{ "Pause", task_pause },
	{ "Resume", task_resume },
	{ "CloseIO", task_close_io },
	{ "ResizePty", task_resize_pty },
	{ "Exec", task_exec },
	{ "Stats", task_stats },
	{ "Update", task_update },
	{ "Checkpoint", task_checkpoint },
	{ NULL, NULL },
};

int task_register(void)
{
	task_core_init();
	int r = park_init();
	if (r == 0)
		r = ttrpc_register("containerd.task.v2.Task", methods);
	if (r == 0)
		r = ttrpc_register("containerd.task.v3.Task", methods);
	return r;
}

/* ---- an upgrade in place ---- */

COLD unsigned task_busy(void)
{
	return park_busy() + (unsigned)task_shutdown_requested;
}

COLD void task_save(struct st_w *w)
{
	lc_save(w);
	park_save(w);
}

COLD int task_load(struct st_r *r)
{
	int e = lc_load(r);
	return e < 0 ? e : park_load(r, wait_answer);
}

COLD void task_upgrade_resume(void)
{
	lc_resume();
	park_resume();
}
