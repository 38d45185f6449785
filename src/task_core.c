/*
 * task_core.c - the layer under the task handlers: lookup (and waiting
 * for a Create), runc jobs bound to calls, a process's stdio and pid, the
 * start events, and the lifecycle hooks that turn the model's reports
 * into events and Wait answers.
 *
 * Layer: task (README, "Architecture").
 *
 * A job's completion finds its process again by reference: if the process
 * was deleted meanwhile (or its slot reused), the result is dropped with a
 * log line and never applied to whatever holds the slot now.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "bundle.h"
#include "cgroup.h"
#include "containerd_events_task.pb.h"
#include "events.h"
#include "log.h"
#include "mount.h"
#include "pbcb.h"
#include "task.h"
#include "console.h"
#include "task_core.h"

static const struct {
	const char *topic;
	const pb_msgdesc_t *fields;
	const char *type_url;
} event_kinds[] = {
	[EV_CREATE] = { "/tasks/create", containerd_events_TaskCreate_fields, "containerd.events.TaskCreate" },
	[EV_START] = { "/tasks/start", containerd_events_TaskStart_fields, "containerd.events.TaskStart" },
	[EV_EXEC_ADDED] = { "/tasks/exec-added", containerd_events_TaskExecAdded_fields, "containerd.events.TaskExecAdded" },
	[EV_EXEC_STARTED] = { "/tasks/exec-started", containerd_events_TaskExecStarted_fields, "containerd.events.TaskExecStarted" },
	[EV_PAUSED] = { "/tasks/paused", containerd_events_TaskPaused_fields, "containerd.events.TaskPaused" },
	[EV_RESUMED] = { "/tasks/resumed", containerd_events_TaskResumed_fields, "containerd.events.TaskResumed" },
	[EV_OOM] = { "/tasks/oom", containerd_events_TaskOOM_fields, "containerd.events.TaskOOM" },
	[EV_EXIT] = { "/tasks/exit", containerd_events_TaskExit_fields, "containerd.events.TaskExit" },
	[EV_DELETE] = { "/tasks/delete", containerd_events_TaskDelete_fields, "containerd.events.TaskDelete" },
};

int task_publish(enum task_event k, const void *msg)
{
	return events_publish(event_kinds[k].topic, event_kinds[k].fields, msg,
			      event_kinds[k].type_url);
}

struct proc *task_lookup(struct call *c, const char *id, const char *exec_id)
{
	struct container *ct = container_find(id);
	if (!ct) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "container %s: not found", id);
		return NULL;
	}
	/* containerd lists the task (and may State or Kill it) before Create
	 * has returned: such calls wait for it, as behind the Go shim's lock */
	if (lc_creating(ct)) {
		park_call(c, PARK_CREATE, ct_ref(ct), task_rerun);
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

int task_refused(struct call *c, struct container *ct, struct proc *p, enum lc_verb v)
{
	const struct lc_refusal *r = lc_may(p, v);
	if (!r)
		return 0;
	const char *who = r->who == LW_CONTAINER ? ct->id
			  : r->who == LW_PROCESS ? (p ? p->id : "")
						 : "";
	ttrpc_reply_error(c, r->code, r->why, who);
	return 1;
}

void task_rerun(struct call *c, struct ref target)
{
	(void)target;
	c->fn(c);
}

void task_create_ended(struct ref ct)
{
	park_wake(PARK_CREATE, ct);
}

struct op *task_op(struct call *c, struct proc *p, const char *what, size_t extra,
		   const char ***argv, size_t *n)
{
	*argv = runc_argv(c->arena, &p->ct->rc, extra, n);
	struct op *o = *argv ? arena_alloc(c->arena, sizeof(*o)) : NULL;
	if (!o) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	o->call = c;
	c->op = o;
	o->proc = proc_ref(p);
	o->what = what;
	o->fd3 = -1;
	return o;
}

static void op_complete(void *ctx, int status, const char *out, size_t outlen)
{
	struct op *o = ctx;
	park_job_done(o->park);
	struct proc *p = proc_get(o->proc);
	if (!p) {
		log_warn("runc %s finished for a process deleted meanwhile: dropped",
			 o->what);
		ttrpc_drop(o->call);
		return;
	}
	struct ref r = o->proc;
	o->done(o, p, status, out, outlen);
	/* done may have freed p (Delete) */
	if ((p = proc_get(r)) != NULL)
		lc_job_end(p);
}

int task_op_run(struct op *o, struct proc *p, const char *const *argv, const int fds[3],
		int capture, op_done_fn done)
{
	static const int none[3] = { -1, -1, -1 };
	int err;
	o->done = done;
	uint32_t job = runc_spawn(argv, fds ? fds : none, o->fd3, capture ? RUNC_CAPTURE : 0,
				  op_complete, o, &err);
	if (!job)
		return err;
	lc_job_begin(p, o->reports_pid);
	o->park = park_job(o->call, job);
	return 0;
}

void task_op_refused(struct op *o, struct proc *p, int err)
{
	if (err == -EAGAIN)
		ttrpc_reply_error(o->call, ST_RESOURCE_EXHAUSTED,
				  "%s: too many runc jobs in flight (%d)", o->what,
				  LIM_JOBS);
	else
		task_runc_error(o->call, p, o->what, err, "", 0);
}

int task_op_spawn(struct op *o, struct proc *p, const char *const *argv, const int fds[3],
		  int capture, op_done_fn done)
{
	int err = task_op_run(o, p, argv, fds, capture, done);
	if (err < 0)
		task_op_refused(o, p, err);
	return err;
}

void task_rootfs_unmount(struct container *ct)
{
	if (!ct->rootfs_mounted)
		return;
	char rootfs[PATH_MAX_LEN + 8];
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", ct->bundle);
	int r = mount_unmount_all(rootfs);
	if (r < 0)
		log_warn("unmount %s: %s", rootfs, strerror(-r));
	ct->rootfs_mounted = 0;
}

int task_runc_ok(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void task_runc_error(struct call *c, struct proc *p, const char *what, int status,
		     const char *out, size_t outlen)
{
	char *title = arena_printf(c->arena, "OCI runtime %s failed", what);
	char *msg = title ? runc_error(c->arena, &p->ct->rc, title, status, out, outlen)
			  : NULL;
	ttrpc_reply_error(c, ST_UNKNOWN, "%s", msg ? msg : "runc failed");
}

int task_io_open(struct call *c, struct proc *p, const char **argv, size_t *n, int hold)
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
			     p->ct->io_gid, p->ct->id, shim_namespace, hold };
	return io_open(&p->io, &sc);
}

int task_runc_pid(struct proc *p, const char *pidfile)
{
	int pid = runc_read_pid(pidfile);
	if (pid < 0)
		return pid;
	if (p->terminal) {
		struct io_cfg sc = { p->in, p->out,    p->err,	      0,
				     0,	    p->ct->id, shim_namespace, 0 };
		int r = io_console_attach(&p->io, &sc);
		if (r < 0) {
			kill(pid, SIGKILL);
			return r;
		}
	}
	return pid;
}

void task_cgroup_load(struct call *c, struct container *ct, pid_t pid)
{
	enum { CAP = 8192 };
	char *pcg = arena_alloc(c->arena, CAP);
	if (pcg && cgroup_of(pid, pcg, CAP) == 0) {
		const char *kept = ct_str(ct, pcg);
		ct->cgroup = kept ? kept : "";
		cgroup_enable_controllers_of(pcg);
	}
	lc_watch_oom(ct, pid);
}

void task_started(struct call *c, struct proc *p)
{
	if (p == p->ct->init) {
		containerd_events_TaskStart ev;
		memset(&ev, 0, sizeof(ev));
		PB_SETSTR(ev.container_id, p->ct->id);
		ev.pid = (uint32_t)p->pid;
		task_publish(EV_START, &ev);
	} else {
		containerd_events_TaskExecStarted ev;
		memset(&ev, 0, sizeof(ev));
		PB_SETSTR(ev.container_id, p->ct->id);
		PB_SETSTR(ev.exec_id, p->id);
		ev.pid = (uint32_t)p->pid;
		task_publish(EV_EXEC_STARTED, &ev);
	}
	containerd_task_v2_StartResponse r = { .pid = (uint32_t)p->pid };
	ttrpc_reply(c, containerd_task_v2_StartResponse_fields, &r);
	lc_event(p, PE_STARTED); /* a held exit follows the start event */
}

/* ---- jobs the shim runs for itself ---- */

enum own_verb { OWN_DELETE, OWN_KILL_ALL, OWN_RESUME };

struct own_job {
	struct arena *a;
	struct ref ct;
	struct ref proc; /* the job counts as work on it (a Delete waits) */
	enum own_verb verb;
};

static void own_job_done(void *ctx, int status, const char *out, size_t outlen)
{
	static const char *const what[] = { "delete", "kill --all after init exit",
					    "resume after init exit" };
	struct own_job *j = ctx;
	struct container *ct = ct_get(j->ct);
	if (!task_runc_ok(status))
		log_warn("runc %s: %.*s", what[j->verb],
			 (int)(outlen > 200 ? 200 : outlen), out);
	enum own_verb verb = j->verb;
	struct proc *p = proc_get(j->proc);
	arena_free(j->a);
	if (p)
		lc_job_end(p);
	if (verb == OWN_KILL_ALL && ct)
		lc_orphans_killed(ct);
}

/* runc delete, kill --all or resume for ct; 0 or a negative errno. */
static int own_job(struct container *ct, enum own_verb verb)
{
	struct arena *a = arena_new_reserved();
	struct own_job *j = a ? arena_alloc(a, sizeof(*j)) : NULL;
	size_t n;
	const char **argv = j ? runc_argv(a, &ct->rc, 5, &n) : NULL;
	if (!argv) {
		arena_free(a);
		return -ENOMEM;
	}
	j->a = a;
	j->ct = ct_ref(ct);
	j->verb = verb;
	if (verb == OWN_KILL_ALL) {
		argv[n++] = "kill";
		argv[n++] = "--all";
		argv[n++] = ct->id;
		argv[n++] = "9";
	} else if (verb == OWN_RESUME) {
		argv[n++] = "resume";
		argv[n++] = ct->id;
	} else {
		argv[n++] = "delete";
		argv[n++] = "--force";
		argv[n++] = ct->id;
	}
	argv[n] = NULL;
	static const int none[3] = { -1, -1, -1 };
	int err;
	if (!runc_spawn(argv, none, -1, RUNC_CAPTURE | RUNC_RESERVED, own_job_done, j,
			&err)) {
		arena_free(a);
		return err;
	}
	if (verb == OWN_RESUME && ct->init) {
		j->proc = proc_ref(ct->init);
		lc_job_begin(ct->init, 0);
	}
	return 0;
}

void task_runc_forget(struct container *ct)
{
	int r = own_job(ct, OWN_DELETE);
	if (r < 0)
		log_warn("runc delete %s: %s", ct->id, strerror(-r));
}

/* ---- lifecycle hooks ---- */

/* The init's exit goes into its bundle's journal before anything reports
 * it: if the shim dies now, `shim delete` still tells containerd the truth
 * (bundle.h).  Execs are not journaled: containerd reports no exec's exit
 * for a dead shim, and a probe's exec writes no file. */
static void on_reaped(struct proc *p)
{
	if (p != p->ct->init)
		return;
	struct bundle_exit e = { .pid = p->pid,
				 .status = p->exit_status,
				 .sec = p->exited_at.tv_sec,
				 .nsec = (int32_t)p->exited_at.tv_nsec };
	snprintf(e.id, sizeof(e.id), "%s", p->ct->id);
	int r = bundle_exit_write(p->ct->bundle, &e);
	if (r < 0)
		log_warn("%s: cannot journal its exit (%d): %s", p->ct->id, e.status,
			 strerror(-r));
}

static void on_exited(struct proc *p)
{
	if (p->published) {
		containerd_events_TaskExit ev;
		memset(&ev, 0, sizeof(ev));
		PB_SETSTR(ev.container_id, p->ct->id);
		PB_SETSTR(ev.id, p->id[0] ? p->id : p->ct->id);
		ev.pid = (uint32_t)p->pid;
		ev.exit_status = (uint32_t)p->exit_status;
		ev.has_exited_at = true;
		ev.exited_at.seconds = p->exited_at.tv_sec;
		ev.exited_at.nanos = (int32_t)p->exited_at.tv_nsec;
		task_publish(EV_EXIT, &ev);
	}
	/* an init killed while paused leaves a frozen cgroup that runc cannot
	 * delete: thaw it, as the Go shim does */
	if (p == p->ct->init && p->frozen_exit) {
		int r = own_job(p->ct, OWN_RESUME);
		if (r < 0)
			log_warn("resume %s after its exit: %s", p->ct->id, strerror(-r));
	}
	park_wake(PARK_EXIT, proc_ref(p));
}

static void on_oom(struct container *ct)
{
	containerd_events_TaskOOM ev;
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, ct->id);
	task_publish(EV_OOM, &ev);
}

static void on_kill_orphans(struct container *ct)
{
	int r = own_job(ct, OWN_KILL_ALL);
	if (r < 0) {
		log_warn("kill --all %s: %s", ct->id, strerror(-r));
		lc_orphans_killed(ct);
	}
}

static void on_idle(struct proc *p)
{
	park_wake(PARK_IDLE, proc_ref(p));
}

static void on_gone(struct ref old)
{
	/* whoever waited on it is told it is gone */
	park_wake(PARK_EXIT, old);
	park_wake(PARK_IDLE, old);
	park_wake(PARK_DRAIN, old);
	park_wake(PARK_LOGGER, old);
}

void task_core_init(void)
{
	lc_hooks.reaped = on_reaped;
	lc_hooks.exited = on_exited;
	lc_hooks.oom = on_oom;
	lc_hooks.kill_orphans = on_kill_orphans;
	lc_hooks.idle = on_idle;
	lc_hooks.gone = on_gone;
}
