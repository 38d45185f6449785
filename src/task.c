/*
 * task.c - task API handlers.
 *
 * Handlers that need runc park their call in the runc job's context and
 * answer from the job's completion callback.  Error codes follow what
 * containerd relies on: NOT_FOUND for missing or finished processes,
 * ALREADY_EXISTS for duplicates, FAILED_PRECONDITION for wrong states,
 * UNIMPLEMENTED for what this shim does not do.
 */
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "containerd_events_task.pb.h"
#include "containerd_runc_v1_options.pb.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "mount.h"
#include "pbcb.h"
#include "task_impl.h"

int task_shutdown_requested;
void (*task_on_shutdown)(void);

int task_valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 76)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');
		if (alnum)
			continue;
		if (c != '.' && c != '_' && c != '-')
			return 0;
		/* a separator must sit between two alphanumerics */
		if (i == 0 || i == n - 1)
			return 0;
		char nx = id[i + 1];
		if (nx == '.' || nx == '_' || nx == '-')
			return 0;
	}
	return 1;
}

/* Look up container and process, answering NOT_FOUND when missing. */
/*
 * Calls about a container whose `runc create` is still running wait for it
 * to finish, as they do behind the Go shim's lock: containerd lists the
 * task (and may State or Kill it) before Create has returned.
 */
#define MAX_DEFERRED 64
static struct call *deferred[MAX_DEFERRED];
static const struct container *deferred_ct[MAX_DEFERRED];

static void deferred_cancel(struct call *c)
{
	for (int i = 0; i < MAX_DEFERRED; i++)
		if (deferred[i] == c)
			deferred[i] = NULL;
}

static void defer_call(struct call *c, const struct container *ct)
{
	for (int i = 0; i < MAX_DEFERRED; i++)
		if (!deferred[i]) {
			deferred[i] = c;
			deferred_ct[i] = ct;
			c->cancel = deferred_cancel;
			return;
		}
	ttrpc_reply_error(c, ST_UNAVAILABLE, "container %s is being created", ct->id);
}

/* Create of ct has ended (ct may be gone): run the calls that waited. */
void replay_deferred(const struct container *ct)
{
	for (int i = 0; i < MAX_DEFERRED; i++) {
		struct call *c = deferred[i];
		if (!c || deferred_ct[i] != ct)
			continue;
		deferred[i] = NULL;
		c->cancel = NULL;
		c->fn(c);
	}
}

struct proc *lookup(struct call *c, const char *id, const char *exec_id)
{
	struct container *ct = container_find(id);
	if (!ct) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "container %s: not found", id);
		return NULL;
	}
	if (ct->init && ct->init->state == P_NEW && ct->init->busy) {
		defer_call(c, ct);
		return NULL;
	}
	struct proc *p = proc_find(ct, exec_id);
	if (!p) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "process %s: not found",
				  exec_id[0] ? exec_id : id);
		return NULL;
	}
	return p;
}

static struct op *op_new(struct call *c, struct proc *p, const char *what)
{
	struct op *o = arena_alloc(c->arena, sizeof(*o));
	if (o) {
		o->call = c;
		o->proc = p;
		o->what = what;
	}
	return o;
}

struct op *op_begin(struct call *c, struct proc *p, const char *what, size_t extra,
		    const char ***argv, size_t *n)
{
	*argv = runc_argv(c->arena, &p->ct->rc, extra, n);
	struct op *o = *argv ? op_new(c, p, what) : NULL;
	if (!o)
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
	return o;
}

int op_spawn(struct op *o, const char *const *argv, const int fds[3], runc_done_fn fn)
{
	int r = runc_spawn(argv, fds, RUNC_CAPTURE, fn, o, NULL);
	if (r < 0)
		ttrpc_reply_error(o->call, ST_UNAVAILABLE, "%s: %s", o->what,
				  strerror(-r));
	return r;
}

int runc_ok(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * A process's stdio before runc runs: pipes (and the FIFO copies), or for a
 * terminal the console socket, whose flag is appended to argv.
 */
int proc_io_open(struct call *c, struct proc *p, const char **argv, size_t *n)
{
	if (p->terminal) {
		char *path = arena_alloc(c->arena, 108);
		if (!path)
			return -ENOMEM;
		int r = io_console_prepare(&p->io, path, 108);
		if (r < 0)
			return r;
		argv[(*n)++] = "--console-socket";
		argv[(*n)++] = path;
		return 0;
	}
	struct io_cfg sc = { p->in,	    p->out,    p->err,	      p->ct->io_uid,
			     p->ct->io_gid, p->ct->id, shim_namespace };
	return io_open(&p->io, &sc);
}

/* After runc succeeded: a terminal process's pty master arrives now. */
int proc_io_attach(struct proc *p)
{
	if (!p->terminal)
		return 0;
	struct io_cfg sc = { p->in, p->out, p->err, 0, 0, p->ct->id, shim_namespace };
	return io_console_attach(&p->io, &sc);
}

int proc_runc_pid(struct proc *p, const char *pidfile)
{
	int pid = runc_read_pid(pidfile);
	if (pid < 0)
		return pid;
	int r = proc_io_attach(p);
	if (r < 0) {
		kill(pid, SIGKILL);
		return r;
	}
	return pid;
}

/* ---- Start ---- */

void start_done(void *ctx, int status, const char *out, size_t outlen)
{
	struct op *o = ctx;
	struct proc *p = o->proc;
	if (!runc_ok(status)) {
		char *msg = runc_error(o->call->arena, &p->ct->rc,
				       "OCI runtime start failed", status, out, outlen);
		proc_started(p, 0);
		ttrpc_reply_error(o->call, ST_UNKNOWN, "%s", msg ? msg : "start failed");
		return;
	}
	containerd_events_TaskStart ev;
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, p->ct->id);
	ev.pid = (uint32_t)p->pid;
	events_publish("/tasks/start", containerd_events_TaskStart_fields, &ev,
		       "containerd.events.TaskStart");
	containerd_task_v2_StartResponse r = { .pid = (uint32_t)p->pid };
	ttrpc_reply(o->call, containerd_task_v2_StartResponse_fields, &r);
	proc_started(p, 1);
}

static void task_start(struct call *c)
{
	containerd_task_v2_StartRequest *req = DECODE(c, containerd_task_v2_StartRequest);
	if (!req)
		return;
	struct proc *p = lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (p->ct->init != p) {
		exec_start(c, p);
		return;
	}
	if (p->state != P_CREATED || p->busy || p->exited) {
		ttrpc_reply_error(
			c, ST_FAILED_PRECONDITION,
			"cannot start a process that is not in the created state");
		return;
	}
	size_t n;
	const char **argv;
	struct op *o = op_begin(c, p, "start", 24, &argv, &n);
	if (!o)
		return;
	if (p->ct->checkpoint[0]) {
		restore_start(c, o, p, argv, n);
		return;
	}
	argv[n++] = "start";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	static const int nofds[3] = { -1, -1, -1 };
	p->busy = 1;
	if (op_spawn(o, argv, nofds, start_done) < 0)
		p->busy = 0;
}

/* ---- State, Wait, Connect, Pids ---- */

static containerd_v1_types_Status status_of(const struct proc *p)
{
	struct proc *init = p->ct->init;
	if (p != init && init && !p->exited &&
	    (init->state == P_PAUSED || init->state == P_PAUSING))
		return init->state == P_PAUSED ? containerd_v1_types_Status_PAUSED
					       : containerd_v1_types_Status_PAUSING;
	switch (p->state) {
	case P_NEW:
		return p != init ? containerd_v1_types_Status_CREATED
				 : containerd_v1_types_Status_UNKNOWN;
	case P_CREATED: return containerd_v1_types_Status_CREATED;
	case P_RUNNING: return containerd_v1_types_Status_RUNNING;
	case P_PAUSING: return containerd_v1_types_Status_PAUSING;
	case P_PAUSED: return containerd_v1_types_Status_PAUSED;
	case P_STOPPED: return containerd_v1_types_Status_STOPPED;
	default: return containerd_v1_types_Status_UNKNOWN;
	}
}

static void task_state(struct call *c)
{
	containerd_task_v2_StateRequest *req = DECODE(c, containerd_task_v2_StateRequest);
	if (!req)
		return;
	struct proc *p = lookup(c, req->id, req->exec_id);
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
	r->status = status_of(p);
	/* An exited process whose exit is held is still reported running. */
	if (p->state == P_STOPPED && !p->exit_done)
		r->status = containerd_v1_types_Status_RUNNING;
	PB_SETSTR(r->stdin, p->in);
	PB_SETSTR(r->stdout, p->out);
	PB_SETSTR(r->stderr, p->err);
	r->terminal = p->terminal;
	r->exit_status = p->exit_done ? (uint32_t)p->exit_status : 0;
	r->has_exited_at = true;
	proc_exited_at(p, &r->exited_at.seconds, &r->exited_at.nanos);
	ttrpc_reply(c, containerd_task_v2_StateResponse_fields, r);
}

static void task_wait(struct call *c)
{
	containerd_task_v2_WaitRequest *req = DECODE(c, containerd_task_v2_WaitRequest);
	if (!req)
		return;
	struct proc *p = lookup(c, req->id, req->exec_id);
	if (p)
		proc_wait(p, c);
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

static void kill_done(void *ctx, int status, const char *out, size_t outlen)
{
	struct op *o = ctx;
	struct call *c = o->call;
	if (runc_ok(status)) {
		ttrpc_reply(c, NULL, NULL);
		return;
	}
	char *msg = runc_error(c->arena, &o->proc->ct->rc, "OCI runtime kill failed",
			       status, out, outlen);
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
	struct proc *p = lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (req->signal == 0 || req->signal > 64) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid signal %u",
				  req->signal);
		return;
	}
	if (p->exited && !(req->all && p == p->ct->init)) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "process already finished");
		return;
	}
	if (p != p->ct->init) {
		if (!p->pid || kill(p->pid, (int)req->signal) < 0) {
			ttrpc_reply_error(c, ST_NOT_FOUND, "process already finished");
			return;
		}
		ttrpc_reply(c, NULL, NULL);
		return;
	}
	size_t n;
	const char **argv;
	struct op *o = op_begin(c, p, "kill", 5, &argv, &n);
	if (!o)
		return;
	argv[n++] = "kill";
	if (req->all)
		argv[n++] = "--all";
	argv[n++] = p->ct->id;
	argv[n++] = arena_printf(c->arena, "%u", req->signal);
	argv[n] = NULL;
	static const int nofds[3] = { -1, -1, -1 };
	op_spawn(o, argv, nofds, kill_done);
}

/* ---- Delete ---- */

static void delete_reply(struct call *c, struct proc *p)
{
	containerd_task_v2_DeleteResponse r;
	memset(&r, 0, sizeof(r));
	r.pid = (uint32_t)p->pid;
	r.exit_status = (uint32_t)p->exit_status;
	r.has_exited_at = true;
	proc_exited_at(p, &r.exited_at.seconds, &r.exited_at.nanos);
	ttrpc_reply(c, containerd_task_v2_DeleteResponse_fields, &r);
}

static void delete_done(void *ctx, int status, const char *out, size_t outlen)
{
	struct op *o = ctx;
	struct call *c = o->call;
	struct proc *p = o->proc;
	struct container *ct = p->ct;
	p->busy = 0;
	if (!runc_ok(status)) {
		char *msg = runc_error(c->arena, &ct->rc, "OCI runtime delete failed",
				       status, out, outlen);
		if (msg && !strstr(msg, "does not exist") && !strstr(msg, "not found")) {
			ttrpc_reply_error(c, ST_UNKNOWN, "%s", msg);
			return;
		}
	}
	io_close(&p->io);
	if (ct->rootfs_mounted) {
		char rootfs[PATH_MAX_LEN + 8];
		snprintf(rootfs, sizeof(rootfs), "%s/rootfs", ct->bundle);
		int r = mount_unmount_all(rootfs);
		if (r < 0)
			log_warn("unmount %s: %s", rootfs, strerror(-r));
	}
	containerd_events_TaskDelete ev;
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, ct->id);
	ev.pid = (uint32_t)p->pid;
	ev.exit_status = (uint32_t)p->exit_status;
	ev.has_exited_at = true;
	proc_exited_at(p, &ev.exited_at.seconds, &ev.exited_at.nanos);
	events_publish("/tasks/delete", containerd_events_TaskDelete_fields, &ev,
		       "containerd.events.TaskDelete");
	delete_reply(c, p);
	container_free(ct);
}

/* What Delete does once the process's output has been copied out. */
static void delete_proceed(struct call *c, struct proc *p)
{
	if (p != p->ct->init) {
		delete_reply(c, p);
		proc_free(p);
		return;
	}
	size_t n;
	const char **argv;
	struct op *o = op_begin(c, p, "delete", 3, &argv, &n);
	if (!o)
		return;
	argv[n++] = "delete";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	static const int nofds[3] = { -1, -1, -1 };
	p->busy = 1;
	if (op_spawn(o, argv, nofds, delete_done) < 0)
		p->busy = 0;
}

/*
 * Like the Go shim, Delete waits (at most 10 s) for the copies of the
 * process's stdout and stderr to finish, so that output still in a pipe
 * reaches a slow reader instead of being cut off.
 */
#define DRAIN_WAIT_S 10

struct drain {
	struct call *call;
	struct proc *proc;
	int timer;
};

static void drain_stop(struct drain *d)
{
	d->proc->io.on_drained = NULL;
	d->proc->busy = 0;
	loop_del(d->timer);
	close(d->timer);
	d->call->cancel = NULL;
}

static void drain_done(void *ctx)
{
	struct drain *d = ctx;
	drain_stop(d);
	delete_proceed(d->call, d->proc);
}

static void drain_timeout(int fd, uint32_t events, void *ctx)
{
	(void)fd;
	(void)events;
	struct drain *d = ctx;
	log_warn("delete %s: output still being copied after %d s, closing it",
		 d->proc->ct->id, DRAIN_WAIT_S);
	drain_done(d);
}

static void drain_cancel(struct call *c)
{
	drain_stop(c->owner);
}

static void delete_after_drain(struct call *c, struct proc *p)
{
	if (!io_busy(&p->io)) {
		delete_proceed(c, p);
		return;
	}
	struct drain *d = arena_alloc(c->arena, sizeof(*d));
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec it = { .it_value = { DRAIN_WAIT_S, 0 } };
	if (!d || tfd < 0 || timerfd_settime(tfd, 0, &it, NULL) < 0) {
		if (tfd >= 0)
			close(tfd);
		delete_proceed(c, p); /* no way to wait: the final drain in io_close */
		return;
	}
	d->call = c;
	d->proc = p;
	d->timer = tfd;
	if (loop_add(tfd, EPOLLIN, drain_timeout, d) < 0) {
		close(tfd);
		delete_proceed(c, p);
		return;
	}
	p->busy = 1;
	p->io.on_drained = drain_done;
	p->io.ctx = d;
	c->owner = d;
	c->cancel = drain_cancel;
}

static void task_delete(struct call *c)
{
	containerd_task_v2_DeleteRequest *req =
		DECODE(c, containerd_task_v2_DeleteRequest);
	if (!req)
		return;
	struct proc *p = lookup(c, req->id, req->exec_id);
	if (!p)
		return;
	if (p->busy) {
		ttrpc_reply_error(c, ST_FAILED_PRECONDITION, "process %s is busy",
				  req->id);
		return;
	}
	int running = (p->state == P_RUNNING || p->state == P_PAUSED ||
		       p->state == P_PAUSING) &&
		      !p->exit_done;
	if (running) {
		ttrpc_reply_error(c, ST_FAILED_PRECONDITION,
				  "cannot delete a running process");
		return;
	}
	delete_after_drain(c, p);
}

/* ---- CloseIO, ResizePty, Shutdown ---- */

static void task_close_io(struct call *c)
{
	containerd_task_v2_CloseIORequest *req =
		DECODE(c, containerd_task_v2_CloseIORequest);
	if (!req)
		return;
	struct proc *p = lookup(c, req->id, req->exec_id);
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
	struct proc *p = lookup(c, req->id, req->exec_id);
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
	container_kill_orphans = kill_orphans;
	int r = ttrpc_register("containerd.task.v2.Task", methods);
	if (r == 0)
		r = ttrpc_register("containerd.task.v3.Task", methods);
	return r;
}
