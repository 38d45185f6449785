/*
 * task_ops.c - the operations on a running container: Pids, Pause/Resume,
 * Update, Stats.
 *
 * Layer: task (README, "Architecture").
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "containerd_events_task.pb.h"
#include "json.h"
#include "log.h"
#include "pbcb.h"

#include "task_core.h"

static void pids_done(struct op *o, struct proc *p, int status, const char *out,
		      size_t outlen)
{
	struct call *c = o->call;
	if (!task_runc_ok(status)) {
		task_runc_error(c, p, "ps", status, out, outlen);
		return;
	}
	enum { MAXP = 65536 };
	int *pids = arena_alloc(c->arena, sizeof(int) * MAXP);
	int n = pids ? json_int_array(c->arena, out, outlen, pids, MAXP) : -ENOMEM;
	if (n < 0) {
		ttrpc_reply_error(c, ST_UNKNOWN, "cannot parse runc ps output");
		return;
	}
	struct pbpid *v = arena_alloc(c->arena, sizeof(*v) * (size_t)(n ? n : 1));
	if (!v) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (int i = 0; i < n; i++) {
		struct proc *e = proc_find_pid(p->ct, pids[i]);
		v[i].pid = (uint32_t)pids[i];
		v[i].exec_id = e && e->id[0] ? e->id : NULL;
	}
	containerd_task_v2_PidsResponse r;
	memset(&r, 0, sizeof(r));
	r.processes.v = v;
	r.processes.n = (unsigned)n;
	ttrpc_reply(c, containerd_task_v2_PidsResponse_fields, &r);
}

void task_pids(struct call *c)
{
	containerd_task_v2_PidsRequest *req = DECODE(c, containerd_task_v2_PidsRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, "");
	if (!p)
		return;
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "ps", 5, &argv, &n);
	if (!o)
		return;
	argv[n++] = "ps";
	argv[n++] = "--format";
	argv[n++] = "json";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	task_op_spawn(o, p, argv, NULL, 1, pids_done);
}

/* ---- Pause / Resume ---- */

static void pause_done(struct op *o, struct proc *p, int status, const char *out,
		       size_t outlen)
{
	int pause = o->arg;
	if (!task_runc_ok(status)) {
		if (pause)
			lc_event(p, PE_PAUSE_FAILED);
		task_runc_error(o->call, p, pause ? "pause" : "resume", status, out,
				outlen);
		return;
	}
	/* refused if the process exited meanwhile: its state stays */
	lc_event(p, pause ? PE_PAUSED : PE_RESUMED);
	containerd_events_TaskPaused ev; /* TaskResumed has the same shape */
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, p->ct->id);
	if (pause)
		task_publish(EV_PAUSED, &ev);
	else
		task_publish(EV_RESUMED, &ev);
	ttrpc_reply(o->call, NULL, NULL);
}

static void pause_resume(struct call *c, int pause)
{
	containerd_task_v2_PauseRequest *req = DECODE(c, containerd_task_v2_PauseRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, "");
	if (!p)
		return;
	if (task_refused(c, p->ct, p, pause ? LV_PAUSE : LV_RESUME))
		return;
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, pause ? "pause" : "resume", 3, &argv, &n);
	if (!o)
		return;
	o->arg = pause;
	argv[n++] = pause ? "pause" : "resume";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	if (task_op_spawn(o, p, argv, NULL, 1, pause_done) == 0 && pause)
		lc_event(p, PE_PAUSE);
}

void task_pause(struct call *c)
{
	pause_resume(c, 1);
}

void task_resume(struct call *c)
{
	pause_resume(c, 0);
}

/* ---- Update ---- */

static void update_done(struct op *o, struct proc *p, int status, const char *out,
			size_t outlen)
{
	if (!task_runc_ok(status)) {
		task_runc_error(o->call, p, "update", status, out, outlen);
		return;
	}
	ttrpc_reply(o->call, NULL, NULL);
}

void task_update(struct call *c)
{
	containerd_task_v2_UpdateTaskRequest *req =
		DECODE(c, containerd_task_v2_UpdateTaskRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, "");
	if (!p)
		return;
	if (lc_exited(p)) {
		ttrpc_reply_error(c, ST_FAILED_PRECONDITION,
				  "cannot update a stopped container");
		return;
	}
	const struct pbbytes *res = &req->resources.value;
	if (!req->has_resources || !res->len || res->len > 65536) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT,
				  "resources must be LinuxResources JSON");
		return;
	}
	/* The JSON goes to runc's stdin through a pipe that holds all of it. */
	int pp[2];
	if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) < 0) {
		ttrpc_reply_error(c, ST_UNAVAILABLE, "pipe: %s", strerror(errno));
		return;
	}
	fcntl(pp[1], F_SETPIPE_SZ, 65536);
	ssize_t w = write(pp[1], res->ptr, res->len);
	close(pp[1]);
	if (w != (ssize_t)res->len) {
		close(pp[0]);
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "resources too large");
		return;
	}
	fcntl(pp[0], F_SETFL, 0);
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "update", 4, &argv, &n);
	if (!o) {
		close(pp[0]);
		return;
	}
	argv[n++] = "update";
	argv[n++] = "--resources=-";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	int fds[3] = { pp[0], -1, -1 };
	task_op_spawn(o, p, argv, fds, 1, update_done);
	close(pp[0]);
}

/* ---- Stats ---- */

void task_stats(struct call *c)
{
	containerd_task_v2_StatsRequest *req = DECODE(c, containerd_task_v2_StatsRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, "");
	if (!p)
		return;
	int gone = !p->pid || lc_exited(p);
	if (gone && !p->ct->cgroup[0]) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "container %s: no running process",
				  req->id);
		return;
	}
	containerd_task_v2_StatsResponse r;
	memset(&r, 0, sizeof(r));
	/* an exited task: its cgroup as it was at Create, while it exists */
	int e = gone ? cgroup_stats_of(c->arena, p->ct->cgroup, &r.stats)
		     : cgroup_stats(c->arena, p->pid, &r.stats);
	if (e == -ENOENT) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "cgroup of %s: not found", req->id);
		return;
	}
	if (e < 0) {
		ttrpc_reply_error(c, ST_UNKNOWN, "read cgroup stats: %s", strerror(-e));
		return;
	}
	r.has_stats = true;
	ttrpc_reply(c, containerd_task_v2_StatsResponse_fields, &r);
}
