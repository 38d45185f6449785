/*
 * container.c - the lifecycle model: tables of containers and processes,
 * the [state][event] table, exits and the order they are reported in.
 *
 * Layer: model (README, "Architecture").
 *
 * Nothing here answers a call or publishes an event: the task layer does,
 * through lc_hooks.  Slots are handed out from a lazily used pool (a
 * never-used slot is never touched), and each carries a generation that
 * changes when it is freed, so a struct ref to a freed slot goes stale.
 */
#include "cold.h"
#include "container.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cgroup.h"
#include "console.h"
#include "log.h"
#include "pages.h"
#include "pbcb.h"
#include "slots.h"
#include "state.h"

#define GO_ZERO_TIME (-62135596800LL)

/* containerd.v1.types.Status */
enum {
	ST_UNKNOWN_ = 0,
	ST_CREATED_ = 1,
	ST_RUNNING_ = 2,
	ST_STOPPED_ = 3,
	ST_PAUSED_ = 4,
	ST_PAUSING_ = 5
};

char shim_namespace[256];
struct lc_hooks lc_hooks;

static struct container containers[LIM_CONTAINERS] PAGE_ALIGNED;
static struct proc procs[LIM_PROCS] PAGE_ALIGNED;
/* Their slots (in use, generation) are kept apart, so a scan reads a few
 * KiB instead of faulting in a page per entry. */
static struct slot ct_slots[LIM_CONTAINERS] PAGE_ALIGNED;
static struct slot proc_slots[LIM_PROCS] PAGE_ALIGNED;
static struct slots ct_pool = SLOTS_BESIDE(ct_slots, LIM_CONTAINERS);
static struct slots proc_pool = SLOTS_BESIDE(proc_slots, LIM_PROCS);
#define CT_USED(i)   slot_used(&ct_pool, (i))
#define PROC_USED(i) slot_used(&proc_pool, (i))

/*
 * The transitions.  X: not allowed in that state.  An exit is reported
 * (PE_EXIT) only from a state where the process has really run; one
 * reaped during NEW or STARTING waits for the start to settle.
 */
#define X 0xff
static const unsigned char next_state[PS__COUNT][PE__COUNT] = {
	/*              CREATED     START        STARTED     START_FAILED PAUSE       PAUSED     PAUSE_FAILED RESUMED     EXIT        DELETE */
	[PS_NEW] = { PS_CREATED, PS_STARTING, X, X, X, X, X, X, X, PS_DELETED },
	[PS_CREATED] = { X, PS_STARTING, X, X, X, X, X, X, PS_STOPPED, PS_DELETED },
	[PS_STARTING] = { X, X, PS_RUNNING, PS_CREATED, X, X, X, X, X, X },
	[PS_RUNNING] = { X, X, X, X, PS_PAUSING, X, X, X, PS_STOPPED, X },
	[PS_PAUSING] = { X, X, X, X, X, PS_PAUSED, PS_RUNNING, X, PS_STOPPED, X },
	[PS_PAUSED] = { X, X, X, X, X, X, X, PS_RUNNING, PS_STOPPED, X },
	[PS_STOPPED] = { X, X, X, X, X, X, X, X, X, PS_DELETED },
	[PS_DELETED] = { X, X, X, X, X, X, X, X, X, X },
};

/*
 * The refusals, beside the transitions: what each verb meets in each
 * state.  The columns are the states, and one more: EXITED, an exit that
 * has been reaped but not yet reported (held for its start, its execs or
 * its output), in which a process is no longer running yet not stopped.
 */
enum {
	R_OK,
	R_START,
	R_EXEC_STARTED,
	R_EXEC_STOPPED,
	R_EXEC_PAUSED,
	R_DELETE,
	R_PAUSE,
	R_PAUSE_STOPPED,
	R_RESUME,
	R_RESUME_STOPPED,
	R_CKPT_CREATED,
	R_CKPT_STOPPED,
};
#define FP ST_FAILED_PRECONDITION
static const struct lc_refusal refusals[] = {
	[R_OK] = { 0, NULL, LW_NONE },
	[R_START] = { FP, "cannot start a process that is not in the created state", LW_NONE },
	[R_EXEC_STARTED] = { FP, "exec %s was already started", LW_PROCESS },
	[R_EXEC_STOPPED] = { FP, "container %s is not running: cannot start exec", LW_CONTAINER },
	[R_EXEC_PAUSED] = { FP, "container %s is paused", LW_CONTAINER },
	[R_DELETE] = { FP, "cannot delete a running process", LW_NONE },
	[R_PAUSE] = { FP, "cannot pause a non-running container", LW_NONE },
	[R_PAUSE_STOPPED] = { FP, "cannot pause a stopped container", LW_NONE },
	[R_RESUME] = { FP, "cannot resume a non-paused container", LW_NONE },
	[R_RESUME_STOPPED] = { FP, "cannot resume a stopped container", LW_NONE },
	[R_CKPT_CREATED] = { FP, "cannot checkpoint a task in created state", LW_NONE },
	[R_CKPT_STOPPED] = { FP, "cannot checkpoint a stopped container", LW_NONE },
};
#undef FP
#define EXITED PS__COUNT
static const unsigned char may[LV__COUNT][PS__COUNT + 1] = {
	/*                NEW             CREATED         STARTING        RUNNING         PAUSING         PAUSED          STOPPED          DELETED          EXITED */
	[LV_START] = { R_START, R_OK, R_START, R_START, R_START, R_START, R_START, R_START, R_START },
	[LV_START_EXEC] = { R_OK, R_EXEC_STARTED, R_EXEC_STARTED, R_EXEC_STARTED, R_EXEC_STARTED, R_EXEC_STARTED, R_EXEC_STARTED, R_EXEC_STARTED, R_EXEC_STARTED },
	[LV_EXEC_IN] = { R_OK, R_OK, R_OK, R_OK, R_EXEC_PAUSED, R_EXEC_PAUSED, R_EXEC_STOPPED, R_EXEC_STOPPED, R_EXEC_STOPPED },
	[LV_DELETE] = { R_DELETE, R_OK, R_DELETE, R_DELETE, R_DELETE, R_DELETE, R_OK, R_OK, R_DELETE },
	[LV_DELETE_EXEC] = { R_OK, R_OK, R_DELETE, R_DELETE, R_DELETE, R_DELETE, R_OK, R_OK, R_DELETE },
	[LV_PAUSE] = { R_PAUSE, R_PAUSE, R_PAUSE, R_OK, R_PAUSE, R_PAUSE, R_PAUSE_STOPPED, R_PAUSE_STOPPED, R_PAUSE_STOPPED },
	[LV_RESUME] = { R_RESUME, R_RESUME, R_RESUME, R_RESUME, R_RESUME, R_OK, R_RESUME_STOPPED, R_RESUME_STOPPED, R_RESUME_STOPPED },
	[LV_CHECKPOINT] = { R_CKPT_CREATED, R_CKPT_CREATED, R_CKPT_CREATED, R_OK, R_CKPT_CREATED, R_OK, R_CKPT_STOPPED, R_CKPT_STOPPED, R_CKPT_STOPPED },
};

/* ---- exits reaped before their pid was known ---- */

struct unclaimed {
	pid_t pid;
	int status;
	struct timespec at;
	uint64_t seq;
};
static struct unclaimed unclaimed[LIM_UNCLAIMED] PAGE_ALIGNED;
static unsigned n_unclaimed;
static uint64_t seq;	  /* counts reaps and pid-reporting job starts */
static unsigned pid_jobs; /* pid-reporting jobs in flight */

/* Drop what no job in flight can claim any more: exits reaped before the
 * oldest such job began. */
static void unclaimed_purge(void)
{
	uint64_t oldest = UINT64_MAX;
	if (pid_jobs)
		for (unsigned i = 0; i < proc_pool.high; i++)
			if (PROC_USED(i) && procs[i].pid_seq && procs[i].pid_seq < oldest)
				oldest = procs[i].pid_seq;
	unsigned k = 0;
	for (unsigned i = 0; i < n_unclaimed; i++) {
		if (unclaimed[i].seq < oldest)
			log_debug("dropping the exit of pid %d: no process had it",
				  unclaimed[i].pid);
		else
			unclaimed[k++] = unclaimed[i];
	}
	n_unclaimed = k;
}

unsigned lc_unclaimed(void)
{
	return n_unclaimed;
}

/* ---- tables ---- */

struct ref ct_ref(const struct container *ct)
{
	uint32_t i = (uint32_t)(ct - containers);
	struct ref r = { i, slot_gen(&ct_pool, i) };
	return r;
}

struct container *ct_get(struct ref r)
{
	if (!slot_live(&ct_pool, r.slot, r.gen))
		return NULL;
	return &containers[r.slot];
}

struct ref proc_ref(const struct proc *p)
{
	uint32_t i = (uint32_t)(p - procs);
	struct ref r = { i, slot_gen(&proc_pool, i) };
	return r;
}

struct proc *proc_get(struct ref r)
{
	if (!slot_live(&proc_pool, r.slot, r.gen))
		return NULL;
	return &procs[r.slot];
}

#define CT_FIRST   2048 /* a container's first string block */
#define PROC_FIRST 1024 /* an exec's */

const char *ct_str(struct container *ct, const char *s)
{
	return strblock_add(&ct->strs, CT_FIRST, s);
}

const char *proc_str(struct proc *p, const char *s)
{
	if (p == p->ct->init)
		return ct_str(p->ct, s);
	return strblock_add(&p->strs, PROC_FIRST, s);
}

int id_valid(const char *id)
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

struct container *container_find(const char *id)
{
	for (unsigned i = 0; i < ct_pool.high; i++)
		if (CT_USED(i) && strcmp(containers[i].id, id) == 0)
			return &containers[i];
	return NULL;
}

struct container *container_new(const char *id)
{
	int i = slot_take(&ct_pool, LIM_CONTAINERS);
	if (i < 0)
		return NULL;
	struct container *ct = &containers[i];
	memset(ct, 0, sizeof(*ct));
	ct->oom_watch = -1;
	ct->bundle = ct->checkpoint = ct->parent_checkpoint = ct->criu_work = "";
	ct->cgroup = "";
	ct->rc.binary = ct->rc.root = ct->rc.bundle = ct->rc.criu = "";
	if (!(ct->id = ct_str(ct, id)) || !ct->id[0]) {
		strblock_free(&ct->strs);
		slot_put(&ct_pool, (unsigned)i);
		return NULL;
	}
	return ct;
}

static void on_oom(void *ctx)
{
	struct container *ct = ctx; /* unwatched before ct is freed */
	if (lc_hooks.oom)
		lc_hooks.oom(ct);
}

void lc_watch_oom(struct container *ct, pid_t pid)
{
	if (ct->oom_watch >= 0)
		return;
	int h = ct->cgroup[0] ? cgroup_oom_watch_of(ct->cgroup, on_oom, ct)
			      : cgroup_oom_watch(pid, on_oom, ct);
	if (h < 0)
		log_warn("oom watch for %s: %s", ct->id, strerror(-h));
	else
		ct->oom_watch = h;
}

void container_free(struct container *ct)
{
	/* out of the table first: whatever the gone hooks run finds it gone,
	 * while its strings are still there to read */
	slot_put(&ct_pool, (unsigned)(ct - containers));
	if (ct->oom_watch >= 0)
		cgroup_oom_unwatch(ct->oom_watch);
	ct->oom_watch = -1;
	while (ct->procs)
		proc_free(ct->procs);
	strblock_free(&ct->strs);
}

unsigned container_count(void)
{
	return ct_pool.used;
}

struct proc *proc_new(struct container *ct, const char *exec_id)
{
	int i = slot_take(&proc_pool, LIM_PROCS);
	if (i < 0)
		return NULL;
	struct proc *p = &procs[i];
	memset(p, 0, sizeof(*p));
	p->ct = ct;
	p->state = PS_NEW;
	p->id = "";
	p->in = p->out = p->err = "";
	if (exec_id[0] && !(p->id = strblock_add(&p->strs, PROC_FIRST, exec_id))) {
		strblock_free(&p->strs);
		slot_put(&proc_pool, (unsigned)i);
		return NULL;
	}
	io_init(&p->io);
	p->next = ct->procs;
	ct->procs = p;
	if (!exec_id[0])
		ct->init = p;
	return p;
}

struct proc *proc_find(struct container *ct, const char *exec_id)
{
	if (!exec_id[0])
		return ct->init;
	for (struct proc *p = ct->procs; p; p = p->next)
		if (p != ct->init && strcmp(p->id, exec_id) == 0)
			return p;
	return NULL;
}

struct proc *proc_find_pid(struct container *ct, pid_t pid)
{
	for (struct proc *p = ct->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

void proc_io_close(struct proc *p)
{
	size_t dropped = io_close(&p->io);
	if (dropped)
		log_warn("process %s/%s: %zu bytes of its output were never read",
			 p->ct->id, p->id, dropped);
}

void proc_free(struct proc *p)
{
	struct container *ct = p->ct;
	struct ref old = proc_ref(p);
	p->state = PS_DELETED;
	if (p->pid_seq) {
		p->pid_seq = 0;
		pid_jobs--;
	}
	proc_io_close(p);
	if (p->spec)
		munmap(p->spec, p->spec_map);
	p->spec = NULL;
	strblock_free(&p->strs);
	for (struct proc **pp = &ct->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (ct->init == p)
		ct->init = NULL;
	slot_put(&proc_pool, (unsigned)(p - procs));
	if (n_unclaimed)
		unclaimed_purge();
	if (lc_hooks.gone)
		lc_hooks.gone(old);
}

/* ---- states and exits ---- */

static void exit_try(struct proc *p);

static int execs_pending(const struct container *ct)
{
	for (const struct proc *p = ct->procs; p; p = p->next)
		if (p != ct->init &&
		    (p->state == PS_STARTING ||
		     (p->pid && p->state != PS_STOPPED && p->state != PS_NEW)))
			return 1;
	return 0;
}

static void exit_complete(struct proc *p)
{
	struct container *ct = p->ct;
	/* an OOM kill is reported before the exit it caused */
	if (p == ct->init && ct->oom_watch >= 0)
		cgroup_oom_drain(ct->oom_watch);
	p->frozen_exit = p->state == PS_PAUSED || p->state == PS_PAUSING;
	p->state = next_state[p->state][PE_EXIT];
	log_debug("process %s/%s (pid %d) exited with %d", ct->id, p->id, p->pid,
		  p->exit_status);
	if (lc_hooks.exited)
		lc_hooks.exited(p);
}

static void exit_io_settled(void *ctx, int stalled)
{
	struct proc *p = ctx; /* io_close (proc_free) cancels this first */
	if (stalled)
		log_warn("process %s/%s (pid %d): its output has not been read for "
			 "%lld s: its exit is reported now, the output is kept",
			 p->ct->id, p->id, p->pid, IO_EXIT_STALL_NS / 1000000000LL);
	p->io_settled = 1;
	exit_try(p);
}

/* Report p's exit if nothing holds it back any more. */
static void exit_try(struct proc *p)
{
	if (!p->reaped || next_state[p->state][PE_EXIT] == X)
		return;
	struct container *ct = p->ct;
	if (p == ct->init) {
		if (!ct->own_pidns && ct->orphans != ORPHANS_KILLED && lc_hooks.kill_orphans) {
			/* What it left behind goes first, as with the Go shim: a
			 * client that sees the exit sees them gone. */
			if (ct->orphans == ORPHANS_LEFT) {
				ct->orphans = ORPHANS_KILLING;
				lc_hooks.kill_orphans(ct);
			}
			return;
		}
		if (execs_pending(ct)) {
			ct->init_exit_held = 1;
			return;
		}
	}
	/* what it wrote is with its readers before its exit is: a client
	 * may close its FIFOs as soon as it sees the exit */
	if (!p->io_settled) {
		if (io_watch(&p->io, IO_EXIT_STALL_NS, exit_io_settled, p))
			return;
		p->io_settled = 1;
	}
	exit_complete(p);
	if (p != ct->init && ct->init_exit_held && ct->init) {
		ct->init_exit_held = 0;
		exit_try(ct->init);
	}
}

int lc_event(struct proc *p, enum pevent ev)
{
	if (ev == PE_EXIT || ev >= PE__COUNT)
		return -EINVAL; /* exits go through lc_reaped/exit_try only */
	unsigned char to = next_state[p->state][ev];
	if (to == X)
		return -EINVAL;
	if (ev == PE_DELETE) {
		proc_free(p);
		return 0;
	}
	p->state = (enum pstate)to;
	/* an exit is reported once its process was announced: an exec by its
	 * start, the init already by its create (a created init that is killed
	 * before Start gets its /tasks/exit too, as with the Go shim) */
	if (ev == PE_STARTED || (ev == PE_CREATED && p == p->ct->init))
		p->published = 1;
	if (ev == PE_CREATED || ev == PE_STARTED || ev == PE_START_FAILED)
		exit_try(p);
	return 0;
}

void lc_orphans_killed(struct container *ct)
{
	ct->orphans = ORPHANS_KILLED;
	if (ct->init)
		exit_try(ct->init);
}

static void record_exit(struct proc *p, int status, const struct timespec *at)
{
	p->reaped = 1;
	p->exit_status = runc_exit_code(status);
	p->exited_at = *at;
	if (lc_hooks.reaped)
		lc_hooks.reaped(p);
	exit_try(p);
}

void lc_reaped(pid_t pid, int status)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	seq++;
	for (unsigned i = 0; i < proc_pool.high; i++) {
		struct proc *p = &procs[i];
		if (!PROC_USED(i))
			continue;
		if (p->pid == pid && !p->reaped) {
			record_exit(p, status, &now);
			return;
		}
	}
	if (!pid_jobs) {
		log_debug("pid %d exited: not ours", pid);
		return;
	}
	if (n_unclaimed == LIM_UNCLAIMED) {
		log_warn("dropping the exit of pid %d: %u unclaimed exits",
			 unclaimed[0].pid, n_unclaimed);
		memmove(unclaimed, unclaimed + 1, sizeof(unclaimed[0]) * --n_unclaimed);
	}
	struct unclaimed *u = &unclaimed[n_unclaimed++];
	u->pid = pid;
	u->status = status;
	u->at = now;
	u->seq = seq;
}

void lc_job_begin(struct proc *p, int reports_pid)
{
	p->jobs++;
	if (reports_pid && !p->pid_seq) {
		p->pid_seq = ++seq;
		pid_jobs++;
	}
}

void lc_set_pid(struct proc *p, pid_t pid)
{
	p->pid = pid;
	for (unsigned i = 0; i < n_unclaimed; i++) {
		struct unclaimed u = unclaimed[i];
		if (u.pid != pid || u.seq < p->pid_seq)
			continue;
		memmove(unclaimed + i, unclaimed + i + 1,
			sizeof(unclaimed[0]) * (n_unclaimed - i - 1));
		n_unclaimed--;
		record_exit(p, u.status, &u.at);
		return;
	}
}

void lc_job_end(struct proc *p)
{
	if (p->jobs > 0)
		p->jobs--;
	if (p->pid_seq) {
		p->pid_seq = 0;
		pid_jobs--;
		unclaimed_purge();
	}
	if (!p->jobs && lc_hooks.idle)
		lc_hooks.idle(p);
}

void lc_start_failed(struct proc *p)
{
	if (lc_event(p, PE_START_FAILED) < 0)
		return;
	if (p == p->ct->init || p->reaped)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* as the Go shim reports an exec that never ran */
	p->reaped = 1;
	p->exit_status = 255;
	p->exited_at = now;
	exit_try(p);
}

const struct lc_refusal *lc_may(const struct proc *p, enum lc_verb v)
{
	unsigned col = !p ? PS_DELETED
		       : p->reaped && !lc_exit_done(p) ? EXITED
						       : (unsigned)p->state;
	unsigned char r = may[v][col];
	return r == R_OK ? NULL : &refusals[r];
}

int lc_creating(const struct container *ct)
{
	return ct->init && ct->init->state == PS_NEW && ct->init->jobs > 0;
}

int lc_exited(const struct proc *p)
{
	return p->reaped;
}

int lc_exit_done(const struct proc *p)
{
	return p->state == PS_STOPPED || p->state == PS_DELETED;
}

void lc_exited_at(const struct proc *p, int64_t *sec, int32_t *nsec)
{
	if (lc_exit_done(p)) {
		*sec = p->exited_at.tv_sec;
		*nsec = (int32_t)p->exited_at.tv_nsec;
	} else {
		*sec = GO_ZERO_TIME;
		*nsec = 0;
	}
}

int lc_status(const struct proc *p)
{
	const struct proc *init = p->ct->init;
	if (p != init && init && !p->reaped &&
	    (init->state == PS_PAUSED || init->state == PS_PAUSING))
		return init->state == PS_PAUSED ? ST_PAUSED_ : ST_PAUSING_;
	switch (p->state) {
	case PS_NEW: return p != init ? ST_CREATED_ : ST_UNKNOWN_;
	case PS_CREATED:
	case PS_STARTING: return ST_CREATED_;
	case PS_RUNNING: return ST_RUNNING_;
	case PS_PAUSING: return ST_PAUSING_;
	case PS_PAUSED: return ST_PAUSED_;
	case PS_STOPPED:
	case PS_DELETED: return ST_STOPPED_;
	default: return ST_UNKNOWN_;
	}
}

/* ---- an upgrade in place ---- */

/*
 * Every container and process with its slot and generation (the refs of
 * parked Waits name them), its strings, state and io; the exits reaped
 * before their pid was known.  OOM watches are not carried as fds: the
 * new image watches the same cgroups again (lc_resume).
 */
COLD void lc_save(struct st_w *w)
{
	st_tag(w, "LIFE");
	st_u64(w, ct_pool.gen_next);
	st_u64(w, proc_pool.gen_next);
	st_u64(w, seq);
	st_u64(w, n_unclaimed);
	for (unsigned i = 0; i < n_unclaimed; i++) {
		st_u64(w, (uint64_t)unclaimed[i].pid);
		st_u64(w, (uint64_t)unclaimed[i].status);
		st_u64(w, (uint64_t)unclaimed[i].at.tv_sec);
		st_u64(w, (uint64_t)unclaimed[i].at.tv_nsec);
		st_u64(w, unclaimed[i].seq);
	}
	st_u64(w, ct_pool.used);
	for (unsigned i = 0; i < ct_pool.high; i++) {
		if (!CT_USED(i))
			continue;
		struct container *ct = &containers[i];
		st_u64(w, i);
		st_u64(w, slot_gen(&ct_pool, i));
		const char *strs[] = { ct->id, ct->bundle, ct->rc.binary, ct->rc.root,
				       ct->rc.bundle, ct->rc.criu, ct->checkpoint,
				       ct->parent_checkpoint, ct->criu_work, ct->cgroup };
		for (unsigned k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			st_str(w, strs[k]);
		st_u64(w, (uint64_t)ct->rc.systemd_cgroup);
		st_u64(w, (uint64_t)ct->rootfs_mounted | (uint64_t)ct->own_pidns << 1 |
				  (uint64_t)ct->no_pivot << 2 | (uint64_t)ct->no_new_keyring << 3 |
				  (uint64_t)ct->init_exit_held << 4 |
				  (uint64_t)(ct->oom_watch >= 0) << 5);
		st_u64(w, (uint64_t)ct->orphans);
		st_u64(w, ct->oom_watch >= 0 ? cgroup_oom_seen(ct->oom_watch) : 0);
		st_u64(w, ct->io_uid);
		st_u64(w, ct->io_gid);
		unsigned np = 0;
		for (struct proc *p = ct->procs; p; p = p->next)
			np++;
		st_u64(w, np);
		/* oldest first, so the list is rebuilt in its order */
		for (unsigned k = np; k-- > 0;) {
			struct proc *p = ct->procs;
			for (unsigned m = 0; m < k; m++)
				p = p->next;
			unsigned pi = (unsigned)(p - procs);
			st_u64(w, pi);
			st_u64(w, slot_gen(&proc_pool, pi));
			st_str(w, p->id);
			st_u64(w, (uint64_t)p->pid);
			st_u64(w, (uint64_t)p->state);
			st_u64(w, (uint64_t)p->jobs);
			st_u64(w, (uint64_t)p->reaped | (uint64_t)p->published << 1 |
					  (uint64_t)p->frozen_exit << 2 |
					  (uint64_t)p->io_settled << 3 | (uint64_t)p->terminal << 4);
			st_u64(w, (uint64_t)(int64_t)p->exit_status);
			st_u64(w, (uint64_t)p->exited_at.tv_sec);
			st_u64(w, (uint64_t)p->exited_at.tv_nsec);
			st_u64(w, p->pid_seq);
			st_str(w, p->in);
			st_str(w, p->out);
			st_str(w, p->err);
			st_bytes(w, p->spec ? p->spec : "", p->spec ? p->spec_len : 0);
			io_save(w, &p->io);
		}
	}
}

COLD static const char *load_str(struct st_r *r, struct container *ct, struct proc *p)
{
	const char *s = st_get_str(r);
	const char *d = p ? proc_str(p, s) : ct_str(ct, s);
	if (!d) {
		st_fail(r, "no room for a container's strings");
		return "";
	}
	return d;
}

COLD int lc_load(struct st_r *r)
{
	if (!st_want(r, "LIFE"))
		return -EINVAL;
	uint32_t ct_gen = (uint32_t)st_get(r), proc_gen = (uint32_t)st_get(r);
	seq = st_get(r);
	n_unclaimed = (unsigned)st_get_max(r, LIM_UNCLAIMED, "too many exits unclaimed");
	for (unsigned i = 0; i < n_unclaimed; i++) {
		unclaimed[i].pid = (pid_t)st_get(r);
		unclaimed[i].status = (int)st_get(r);
		unclaimed[i].at.tv_sec = (time_t)st_get(r);
		unclaimed[i].at.tv_nsec = (long)st_get(r);
		unclaimed[i].seq = st_get(r);
	}
	unsigned nct = (unsigned)st_get_max(r, LIM_CONTAINERS, "too many containers");
	for (unsigned j = 0; j < nct && !r->err; j++) {
		unsigned i = (unsigned)st_get(r);
		uint32_t gen = (uint32_t)st_get(r);
		if (slot_claim(&ct_pool, i, gen) < 0) {
			st_fail(r, "a container's slot is taken twice");
			break;
		}
		struct container *ct = &containers[i];
		memset(ct, 0, sizeof(*ct));
		ct->oom_watch = -1;
		const char **strs[] = { &ct->id, &ct->bundle, &ct->rc.binary, &ct->rc.root,
					&ct->rc.bundle, &ct->rc.criu, &ct->checkpoint,
					&ct->parent_checkpoint, &ct->criu_work, &ct->cgroup };
		for (unsigned k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			*strs[k] = load_str(r, ct, NULL);
		ct->rc.systemd_cgroup = (int)st_get(r);
		uint64_t f = st_get(r);
		ct->rootfs_mounted = f & 1;
		ct->own_pidns = (f >> 1) & 1;
		ct->no_pivot = (f >> 2) & 1;
		ct->no_new_keyring = (f >> 3) & 1;
		ct->init_exit_held = (f >> 4) & 1;
		ct->oom_watch = (f >> 5) & 1 ? -2 : -1; /* -2: to watch again */
		ct->orphans = (enum orphans)st_get_max(r, ORPHANS_KILLED, "bad orphans state");
		ct->oom_seen = st_get(r);
		ct->io_uid = (uid_t)st_get(r);
		ct->io_gid = (gid_t)st_get(r);
		if (!id_valid(ct->id))
			st_fail(r, "a container's id is not valid");
		unsigned np = (unsigned)st_get_max(r, LIM_PROCS, "too many processes");
		for (unsigned k = 0; k < np && !r->err; k++) {
			unsigned pi = (unsigned)st_get(r);
			uint32_t pgen = (uint32_t)st_get(r);
			if (slot_claim(&proc_pool, pi, pgen) < 0) {
				st_fail(r, "a process's slot is taken twice");
				break;
			}
			struct proc *p = &procs[pi];
			memset(p, 0, sizeof(*p));
			p->ct = ct;
			const char *id = st_get_str(r);
			p->id = id[0] ? strblock_add(&p->strs, PROC_FIRST, id) : "";
			if (!p->id) {
				st_fail(r, "no room for a process's id");
				p->id = "";
			}
			if (!id[0]) {
				if (ct->init)
					st_fail(r, "a container has two inits");
				ct->init = p;
			}
			/* appended: the list keeps its order */
			struct proc **tail = &ct->procs;
			while (*tail)
				tail = &(*tail)->next;
			*tail = p;
			p->pid = (pid_t)st_get_max(r, 0x7fffffff, "bad pid");
			p->state = (enum pstate)st_get_max(r, PS__COUNT - 1, "bad process state");
			p->jobs = (int)st_get_max(r, LIM_JOBS, "bad job count");
			uint64_t pf = st_get(r);
			p->reaped = pf & 1;
			p->published = (pf >> 1) & 1;
			p->frozen_exit = (pf >> 2) & 1;
			p->io_settled = (pf >> 3) & 1;
			p->terminal = (pf >> 4) & 1;
			p->exit_status = (int)(int64_t)st_get(r);
			p->exited_at.tv_sec = (time_t)st_get(r);
			p->exited_at.tv_nsec = (long)st_get(r);
			p->pid_seq = st_get(r);
			p->in = load_str(r, ct, p);
			p->out = load_str(r, ct, p);
			p->err = load_str(r, ct, p);
			size_t sn;
			const char *spec = st_get_bytes(r, &sn);
			if (sn) {
				size_t map = (sn + 4095) & ~(size_t)4095;
				if (!(p->spec = pages_map(map, 0))) {
					st_fail(r, "no memory for an exec's spec");
					break;
				}
				memcpy(p->spec, spec, sn);
				p->spec_len = sn;
				p->spec_map = map;
			}
			io_load(r, &p->io, console_stdin_ended);
		}
		if (!r->err && !ct->init)
			st_fail(r, "a container has no init");
	}
	slots_relink(&ct_pool, ct_gen);
	slots_relink(&proc_pool, proc_gen);
	return r->err ? -EINVAL : 0;
}

COLD void lc_resume(void)
{
	for (unsigned i = 0; i < ct_pool.high; i++) {
		struct container *ct = &containers[i];
		if (!CT_USED(i) || ct->oom_watch != -2)
			continue;
		ct->oom_watch = -1;
		lc_watch_oom(ct, ct->init->pid);
		if (ct->oom_watch >= 0)
			cgroup_oom_since(ct->oom_watch, ct->oom_seen);
	}
}
