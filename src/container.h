/*
 * container.h - the lifecycle model: containers, their processes, the
 * state of each process and the work in flight on it.
 *
 * Layer: model (README, "Architecture").
 *
 * A process's state and exit change only through the functions below,
 * driven by the [state][event] table in container.c.  The model knows
 * nothing of ttrpc or events: it reports through the hooks the task layer
 * sets (`lc_hooks`), so its ordering rules are testable on their own:
 *  - no exit before the process's start: an exit reaped while its Start is
 *    in flight is held until the start has completed (or failed);
 *  - the init's exit after every exec's exit;
 *  - for an init without its own pid namespace, what it left behind is
 *    killed (hooks.kill_orphans) before its exit is reported;
 *  - an OOM kill is reported (hooks.oom) before the exit it caused;
 *  - the exit waits until what the process wrote is with its readers
 *    (io_watch, at most IO_EXIT_STALL_NS of a reader taking nothing);
 *  - an exit reaped before any process claimed its pid is kept only while
 *    a job that may report that pid (runc create/exec/restore) is in
 *    flight, and matched only to a process such a job started.
 *
 * Everything that outlives a call refers to a container or process by a
 * `struct ref` (slot and generation); ct_get()/proc_get() return NULL for
 * a stale one.
 */
#ifndef CONTAINER_H
#define CONTAINER_H
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "procio.h"
#include "capacity.h"
#include "runc.h"
#include "status.h"
#include "strblock.h"

#define ID_MAX	     128
#define PATH_MAX_LEN 1024

/* A stable name for a container or process: slot and generation. */
struct ref {
	uint32_t slot, gen; /* gen 0: none */
};

enum pstate {
	PS_NEW,	     /* an init whose runc create runs; an exec not started */
	PS_CREATED,  /* init created, not started */
	PS_STARTING, /* runc start/exec/restore in flight */
	PS_RUNNING,
	PS_PAUSING,
	PS_PAUSED,
	PS_STOPPED, /* its exit has been reported */
	PS_DELETED,
	PS__COUNT
};

enum pevent {
	PE_CREATED, /* runc create succeeded */
	PE_START,   /* runc start/exec/restore spawned */
	PE_STARTED, /* ... and succeeded */
	PE_START_FAILED,
	PE_PAUSE, /* runc pause spawned */
	PE_PAUSED,
	PE_PAUSE_FAILED,
	PE_RESUMED,
	PE_EXIT,   /* the exit is reported (internal: see lc_reaped) */
	PE_DELETE, /* removed from the table */
	PE__COUNT
};

struct container;

/* An init without its own pid namespace leaves processes behind: they are
 * killed (runc kill --all) before its exit is reported. */
enum orphans {
	ORPHANS_LEFT,	 /* not killed yet */
	ORPHANS_KILLING, /* runc kill --all in flight */
	ORPHANS_KILLED,
};

struct proc {
	struct container *ct;
	struct proc *next; /* the container's processes */
	const char *id; /* exec id; "" for the init */
	pid_t pid;
	enum pstate state; /* model-owned */
	int jobs;	   /* model-owned: runc jobs in flight on it */
	int reaped;	   /* model-owned: an exit has been reaped */
	int published;	   /* model-owned: the start event went out */
	int frozen_exit;   /* model-owned: it exited while paused (or pausing) */
	int io_settled;	   /* model-owned: its output has reached its readers */
	int exit_status;   /* model-owned */
	struct timespec exited_at;
	uint64_t pid_seq; /* model-owned: when the job that reports its pid began */
	int terminal;
	const char *in, *out, *err; /* stdio paths or URIs, "" for none */
	struct proc_io io;
	struct strblock strs; /* an exec's strings (the init uses its container's) */
	char *spec;	      /* exec: OCI Process JSON, mmap'd until deleted */
	size_t spec_len, spec_map;
};

struct container {
	const char *id;
	const char *bundle;
	struct runc_cfg rc;
	int rootfs_mounted;
	int own_pidns;		/* its own pid namespace: the kernel reaps orphans */
	int no_pivot;		/* Options.no_pivot_root: runc --no-pivot */
	int no_new_keyring;	/* Options.no_new_keyring */
	enum orphans orphans;	/* model-owned: what its init left behind */
	int init_exit_held;	/* model-owned */
	const char *checkpoint; /* created from a checkpoint: restore at Start */
	const char *parent_checkpoint;
	const char *criu_work; /* Options.criu_work_path */
	const char *cgroup;    /* its init's /proc/<pid>/cgroup at Create, or "" */
	int oom_watch;	       /* model-owned: cgroup OOM watch, or -1 */
	uint64_t oom_seen;     /* an upgrade: the kills its watch had counted */
	uid_t io_uid;	       /* owner of the stdio pipes (runc Options) */
	gid_t io_gid;
	struct proc *init;
	struct proc *procs;   /* init and execs */
	struct strblock strs; /* its strings and its init's */
};

/* What the model reports; set by the task layer. */
struct lc_hooks {
	/* p's exit is known (reaped), before anything may report it: the
	 * moment to journal it. */
	void (*reaped)(struct proc *p);
	/* p's exit is final: publish it (if p->published) and answer Waits. */
	void (*exited)(struct proc *p);
	/* An OOM kill in ct's cgroup. */
	void (*oom)(struct container *ct);
	/* Kill what ct's init left behind (runc kill --all), then call
	 * lc_orphans_killed(ct). */
	void (*kill_orphans)(struct container *ct);
	/* p has no runc job in flight any more. */
	void (*idle)(struct proc *p);
	/* The process that `old` named has been removed. */
	void (*gone)(struct ref old);
};
extern struct lc_hooks lc_hooks;

extern char shim_namespace[256];

/* Strings live in string blocks (strblock.h) per container and per exec,
 * so a container costs the few hundred bytes its paths take.
 * ct_str()/proc_str() copy s there (NULL: too long, or no room); the
 * copy lives as long as its owner. */
const char *ct_str(struct container *ct, const char *s);
const char *proc_str(struct proc *p, const char *s);

/* containerd's identifier rule: [A-Za-z0-9]+([._-][A-Za-z0-9]+)*, <= 76. */
int id_valid(const char *id);
struct container *container_find(const char *id);
struct container *container_new(const char *id);
void container_free(struct container *ct);
unsigned container_count(void);
struct ref ct_ref(const struct container *ct);
struct container *ct_get(struct ref r);

struct proc *proc_new(struct container *ct, const char *exec_id);
struct proc *proc_find(struct container *ct, const char *exec_id);
struct proc *proc_find_pid(struct container *ct, pid_t pid);
/* Remove p (PE_DELETE); its io is closed. */
void proc_free(struct proc *p);
/* Close p's io now (io_close), saying how much output nobody read. */
void proc_io_close(struct proc *p);
struct ref proc_ref(const struct proc *p);
struct proc *proc_get(struct ref r);

/* Apply a state event; -EINVAL (nothing changes) if it is not allowed in
 * p's state. */
int lc_event(struct proc *p, enum pevent ev);

/* What a client asks of a process.  Beside "what next" (the transitions),
 * the model answers "may I": a [verb][state] table of refusals, as each
 * state of the Go shim's init_state.go answers each verb. */
enum lc_verb {
	LV_START,	/* Start of an init */
	LV_START_EXEC,	/* Start of an exec: the exec itself */
	LV_EXEC_IN,	/* Start of an exec: its container's init */
	LV_DELETE,	/* Delete of an init */
	LV_DELETE_EXEC, /* Delete of an exec */
	LV_PAUSE,
	LV_RESUME,
	LV_CHECKPOINT,
	LV__COUNT
};
/* A refusal: its status code and reason; the reason holds one %s for the
 * container's id (who = LW_CONTAINER) or the process's (LW_PROCESS). */
enum lc_who { LW_NONE, LW_CONTAINER, LW_PROCESS };
struct lc_refusal {
	int code;
	const char *why;
	enum lc_who who;
};
/* NULL if verb v may go ahead on p in its state now, else why not (p
 * NULL: a process that is gone).  Work in flight is the caller's to wait
 * for first (p->jobs). */
const struct lc_refusal *lc_may(const struct proc *p, enum lc_verb v);
/* ct's Create (its runc create) is still in flight: calls about it wait. */
int lc_creating(const struct container *ct);
/* The status containerd sees (containerd.v1.types.Status values). */
int lc_status(const struct proc *p);
/* An exit has been reaped for p (reported or held). */
int lc_exited(const struct proc *p);
/* The exit has been reported (Wait, Delete may answer with it). */
int lc_exit_done(const struct proc *p);
/* Go's zero time (year 1) for processes whose exit is not reported. */
void lc_exited_at(const struct proc *p, int64_t *sec, int32_t *nsec);

/* Work in flight.  A job that will report p's pid (create, exec, restore)
 * passes reports_pid = 1; then lc_set_pid() (or lc_job_end) follows. */
void lc_job_begin(struct proc *p, int reports_pid);
void lc_job_end(struct proc *p);
/* The pid of p is known: match an exit reaped since its job began. */
void lc_set_pid(struct proc *p, pid_t pid);
/* A failed exec start: exit status 255 as for the Go shim, reported now. */
void lc_start_failed(struct proc *p);
/* A child that is not a runc job was reaped. */
void lc_reaped(pid_t pid, int status);
/* Watch ct's cgroup (ct->cgroup, else that of pid, its init) for OOM
 * kills from now on. */
void lc_watch_oom(struct container *ct, pid_t pid);
/* hooks.kill_orphans is done. */
void lc_orphans_killed(struct container *ct);
/* Exits reaped with no owner yet (tests). */
unsigned lc_unclaimed(void);

/* An upgrade in place (upgrade.c): the containers and processes written,
 * with their slots, strings, states and io; read back in the new image
 * (same slots and generations); lc_resume() watches OOM kills again. */
struct st_w;
struct st_r;
void lc_save(struct st_w *w);
int lc_load(struct st_r *r);
void lc_resume(void);

#endif
