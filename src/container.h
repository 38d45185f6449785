/*
 * container.h - containers and their processes, their states, and the one
 * place where exits become events and Wait answers.
 *
 * Ordering rules enforced here (protocol notes, "Events"):
 *  - no TaskExit before the process's TaskStart/TaskExecStarted: an exit
 *    reaped while its Start is in flight is held until Start completes;
 *  - the init's TaskExit only after every exec of the container has exited;
 *  - an exit reaped before its pid is known (runc had not yet written the
 *    pid file) is kept and matched when the pid is read.
 */
#ifndef CONTAINER_H
#define CONTAINER_H
#include <sys/types.h>
#include <time.h>
#include "runc.h"
#include "iocopy.h"

#define MAX_CONTAINERS 64
#define MAX_PROCS      256
#define ID_MAX	       128
#define PATH_MAX_LEN   1024

enum pstate {
	P_NEW, /* recorded (exec) or being created */
	P_CREATED,
	P_RUNNING,
	P_PAUSING,
	P_PAUSED,
	P_STOPPED,
};

struct container;

struct proc {
	struct container *ct;
	char id[ID_MAX]; /* exec id; "" for the init */
	pid_t pid;
	enum pstate state;
	int busy;      /* a runc create/start/exec is in flight */
	int exited;    /* an exit has been reaped */
	int exit_done; /* exit handled: event queued, waits answered */
	int started;   /* its start event has been queued */
	int exit_status;
	struct timespec exited_at;
	int terminal;
	char in[PATH_MAX_LEN], out[PATH_MAX_LEN], err[PATH_MAX_LEN];
	struct pio io;
	char *spec; /* exec: OCI Process JSON, mmap'd until deleted */
	size_t spec_len, spec_map;
};

struct container {
	char id[ID_MAX];
	char bundle[PATH_MAX_LEN];
	struct runc_cfg rc;
	int rootfs_mounted;
	int init_exit_held; /* init exited while execs still run */
	int own_pidns;	    /* its own pid namespace: the kernel reaps orphans */
	int orphans;	    /* 1: runc kill --all running, 2: done */
	char checkpoint[PATH_MAX_LEN]; /* created from a checkpoint: restore at Start */
	char parent_checkpoint[PATH_MAX_LEN];
	char criu_work[PATH_MAX_LEN]; /* Options.criu_work_path */
	int oom_watch;		      /* cgroup OOM watch handle, or -1 */
	uid_t io_uid;		      /* owner of the stdio pipes (runc Options) */
	gid_t io_gid;
	struct proc *init;
};

extern char shim_namespace[256];

struct container *container_find(const char *id);
struct container *container_new(const char *id);
void container_free(struct container *ct);
unsigned container_count(void);
struct proc *proc_new(struct container *ct, const char *exec_id);
struct proc *proc_find(struct container *ct, const char *exec_id);
struct proc *proc_find_pid(struct container *ct, pid_t pid);
void proc_free(struct proc *p);

/* Publish /tasks/oom for ct's OOM kills from now on (pid: its init). */
void container_watch_oom(struct container *ct, pid_t pid);
/* A child that is not a runc job was reaped. */
void container_reaped(pid_t pid, int status);
/* Set by task.c: runs `runc kill --all SIGKILL` for a container whose init
 * exited without its own pid namespace (its orphans would live on), and
 * calls container_orphans_killed() when runc is done. */
extern void (*container_kill_orphans)(struct container *ct);
void container_orphans_killed(struct container *ct);
/* The pid of p is now known: match an exit reaped earlier. */
void proc_set_pid(struct proc *p, pid_t pid);
/* Start (runc start/exec) completed; the caller has queued the start
 * event already, so a held exit now follows it. */
void proc_started(struct proc *p, int ok);
/* Answer Wait now if p has exited, else keep the call until it does. */
struct call;
void proc_wait(struct proc *p, struct call *c);
/* Go's zero time (year 1) for processes that have not exited. */
void proc_exited_at(const struct proc *p, int64_t *sec, int32_t *nsec);
/* Forget waits on p (deleted). */
void proc_drop_waiters(struct proc *p);

#endif
