/*
 * container.c - container and process tables, exits, Wait.
 */
#include "container.h"

#include <string.h>
#include <sys/mman.h>

#include "cgroup.h"
#include "containerd_events_task.pb.h"
#include "containerd_task_v2.pb.h"
#include "events.h"
#include "log.h"
#include "pbcb.h"
#include "ttrpc.h"

#define MAX_WAITERS   256
#define MAX_UNCLAIMED 64
#define GO_ZERO_TIME  (-62135596800LL)

char shim_namespace[256];
void (*container_kill_orphans)(struct container *ct);

/* The tables are large and mostly never touched; whether a slot is in use
 * is kept apart, so that a scan reads a few hundred bytes instead of
 * faulting in a page per entry. */
static struct container containers[MAX_CONTAINERS];
static struct proc procs[MAX_PROCS];
static unsigned char ct_used[MAX_CONTAINERS];
static unsigned char proc_used[MAX_PROCS];

struct waiter {
	struct call *call;
	struct proc *proc;
};
static struct waiter waiters[MAX_WAITERS];

struct unclaimed {
	pid_t pid;
	int status;
	struct timespec at;
};
static struct unclaimed unclaimed[MAX_UNCLAIMED];
static unsigned unclaimed_next;

struct container *container_find(const char *id)
{
	for (int i = 0; i < MAX_CONTAINERS; i++)
		if (ct_used[i] && strcmp(containers[i].id, id) == 0)
			return &containers[i];
	return NULL;
}

struct container *container_new(const char *id)
{
	for (int i = 0; i < MAX_CONTAINERS; i++)
		if (!ct_used[i]) {
			struct container *ct = &containers[i];
			memset(ct, 0, sizeof(*ct));
			ct_used[i] = 1;
			ct->oom_watch = -1;
			PB_SETSTR(ct->id, id);
			return ct;
		}
	return NULL;
}

static void on_oom(void *ctx)
{
	struct container *ct = ctx;
	containerd_events_TaskOOM ev;
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, ct->id);
	events_publish("/tasks/oom", containerd_events_TaskOOM_fields, &ev,
		       "containerd.events.TaskOOM");
}

void container_watch_oom(struct container *ct, pid_t pid)
{
	if (ct->oom_watch >= 0)
		return;
	int h = cgroup_oom_watch(pid, on_oom, ct);
	if (h < 0)
		log_warn("oom watch for %s: %s", ct->id, strerror(-h));
	else
		ct->oom_watch = h;
}

void container_free(struct container *ct)
{
	if (ct->oom_watch >= 0)
		cgroup_oom_unwatch(ct->oom_watch);
	ct->oom_watch = -1;
	for (int i = 0; i < MAX_PROCS; i++)
		if (proc_used[i] && procs[i].ct == ct)
			proc_free(&procs[i]);
	ct_used[ct - containers] = 0;
}

unsigned container_count(void)
{
	unsigned n = 0;
	for (int i = 0; i < MAX_CONTAINERS; i++)
		n += ct_used[i];
	return n;
}

struct proc *proc_new(struct container *ct, const char *exec_id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (!proc_used[i]) {
			struct proc *p = &procs[i];
			memset(p, 0, sizeof(*p));
			proc_used[i] = 1;
			p->ct = ct;
			PB_SETSTR(p->id, exec_id);
			io_init(&p->io);
			if (!exec_id[0])
				ct->init = p;
			return p;
		}
	return NULL;
}

struct proc *proc_find(struct container *ct, const char *exec_id)
{
	if (!exec_id[0])
		return ct->init;
	for (int i = 0; i < MAX_PROCS; i++)
		if (proc_used[i] && procs[i].ct == ct &&
		    strcmp(procs[i].id, exec_id) == 0)
			return &procs[i];
	return NULL;
}

struct proc *proc_find_pid(struct container *ct, pid_t pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (proc_used[i] && procs[i].ct == ct && procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

void proc_free(struct proc *p)
{
	proc_drop_waiters(p);
	io_close(&p->io);
	if (p->spec)
		munmap(p->spec, p->spec_map);
	p->spec = NULL;
	if (p->ct && p->ct->init == p)
		p->ct->init = NULL;
	proc_used[p - procs] = 0;
}

void proc_exited_at(const struct proc *p, int64_t *sec, int32_t *nsec)
{
	if (p->exited && p->exit_done) {
		*sec = p->exited_at.tv_sec;
		*nsec = (int32_t)p->exited_at.tv_nsec;
	} else {
		*sec = GO_ZERO_TIME;
		*nsec = 0;
	}
}

static void answer_wait(struct call *c, struct proc *p)
{
	containerd_task_v2_WaitResponse r;
	memset(&r, 0, sizeof(r));
	r.exit_status = (uint32_t)p->exit_status;
	r.has_exited_at = true;
	proc_exited_at(p, &r.exited_at.seconds, &r.exited_at.nanos);
	ttrpc_reply(c, containerd_task_v2_WaitResponse_fields, &r);
}

static void wait_cancel(struct call *c)
{
	for (int i = 0; i < MAX_WAITERS; i++)
		if (waiters[i].call == c)
			waiters[i].call = NULL;
}

void proc_wait(struct proc *p, struct call *c)
{
	if (p->exit_done) {
		answer_wait(c, p);
		return;
	}
	for (int i = 0; i < MAX_WAITERS; i++)
		if (!waiters[i].call) {
			waiters[i].call = c;
			waiters[i].proc = p;
			c->cancel = wait_cancel;
			return;
		}
	ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "too many waiters");
}

void proc_drop_waiters(struct proc *p)
{
	for (int i = 0; i < MAX_WAITERS; i++)
		if (waiters[i].call && waiters[i].proc == p) {
			struct call *c = waiters[i].call;
			waiters[i].call = NULL;
			ttrpc_reply_error(c, ST_NOT_FOUND, "process deleted");
		}
}

static int running_execs(const struct container *ct)
{
	int n = 0;
	for (int i = 0; i < MAX_PROCS; i++) {
		const struct proc *p = &procs[i];
		if (proc_used[i] && p->ct == ct && p != ct->init && p->pid &&
		    !p->exit_done)
			n++;
	}
	return n;
}

/* Queue TaskExit (if the start was published) and answer every Wait. */
static void exit_complete(struct proc *p)
{
	p->exit_done = 1;
	p->state = P_STOPPED;
	/* an OOM kill is reported before the exit it caused */
	if (p == p->ct->init && p->ct->oom_watch >= 0)
		cgroup_oom_drain(p->ct->oom_watch);
	if (p->started) {
		containerd_events_TaskExit ev;
		memset(&ev, 0, sizeof(ev));
		PB_SETSTR(ev.container_id, p->ct->id);
		PB_SETSTR(ev.id, p->id[0] ? p->id : p->ct->id);
		ev.pid = (uint32_t)p->pid;
		ev.exit_status = (uint32_t)p->exit_status;
		ev.has_exited_at = true;
		ev.exited_at.seconds = p->exited_at.tv_sec;
		ev.exited_at.nanos = (int32_t)p->exited_at.tv_nsec;
		events_publish("/tasks/exit", containerd_events_TaskExit_fields, &ev,
			       "containerd.events.TaskExit");
	}
	for (int i = 0; i < MAX_WAITERS; i++)
		if (waiters[i].call && waiters[i].proc == p) {
			struct call *c = waiters[i].call;
			waiters[i].call = NULL;
			answer_wait(c, p);
		}
}

static void exit_handle(struct proc *p)
{
	struct container *ct = p->ct;
	if (p == ct->init && !ct->own_pidns && container_kill_orphans &&
	    ct->orphans != 2) {
		/* The init's exit waits until what it left behind is killed, as
		 * the Go shim's does: a client that sees the exit sees them gone. */
		if (!ct->orphans) {
			ct->orphans = 1;
			container_kill_orphans(ct);
		}
		return;
	}
	if (p == ct->init && running_execs(ct) > 0) {
		/* Publish the init's exit after its execs' exits. */
		ct->init_exit_held = 1;
		return;
	}
	exit_complete(p);
	if (p != ct->init && ct->init_exit_held && ct->init && running_execs(ct) == 0) {
		ct->init_exit_held = 0;
		exit_complete(ct->init);
	}
}

void container_orphans_killed(struct container *ct)
{
	ct->orphans = 2;
	if (ct->init && ct->init->exited && !ct->init->exit_done && !ct->init->busy)
		exit_handle(ct->init);
}

static void proc_exited(struct proc *p, int status, const struct timespec *at)
{
	p->exited = 1;
	p->exit_status = runc_exit_code(status);
	p->exited_at = *at;
	log_debug("process %s/%s (pid %d) exited with %d", p->ct->id, p->id, p->pid,
		  p->exit_status);
	if (p->busy)
		return; /* finished when its Start completes */
	exit_handle(p);
}

void container_reaped(pid_t pid, int status)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];
		if (!proc_used[i])
			continue;
		if (p->pid == pid && !p->exited) {
			proc_exited(p, status, &now);
			return;
		}
		if (p->io.logger == pid) {
			p->io.logger = 0; /* never signal a reused pid */
			return;
		}
	}
	struct unclaimed *u = &unclaimed[unclaimed_next++ % MAX_UNCLAIMED];
	u->pid = pid;
	u->status = status;
	u->at = now;
}

void proc_set_pid(struct proc *p, pid_t pid)
{
	p->pid = pid;
	for (int i = 0; i < MAX_UNCLAIMED; i++)
		if (unclaimed[i].pid == pid) {
			unclaimed[i].pid = 0;
			proc_exited(p, unclaimed[i].status, &unclaimed[i].at);
			return;
		}
}

void proc_started(struct proc *p, int ok)
{
	p->busy = 0;
	if (ok) {
		p->started = 1;
		if (p->state == P_CREATED || p->state == P_NEW)
			p->state = P_RUNNING;
	}
	if (p->exited && !p->exit_done)
		exit_handle(p);
}
