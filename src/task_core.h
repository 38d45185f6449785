/*
 * task_core.h - the layer under the task handlers (task_core.c): request
 * decoding, lookup, calls that wait for a Create, runc jobs bound to a
 * call, a process's stdio and pid, and the events of the lifecycle.  Not
 * for use outside task*.c.
 *
 * Layer: task (README, "Architecture").
 */
#ifndef TASK_CORE_H
#define TASK_CORE_H
#include <stddef.h>

#include "container.h"
#include "containerd_task_v2.pb.h"
#include "park.h"
#include "ttrpc.h"

/* The generated messages have members named stdin/stdout/stderr, which
 * musl defines as macros. */
#undef stdin
#undef stdout
#undef stderr

#define DECODE(c, T) ((T *)ttrpc_decode((c), T##_fields, sizeof(T)))

struct op;
/* A job's completion: p is live (checked by generation), o->call is to be
 * answered (a reply to one answered early only frees it). */
typedef void (*op_done_fn)(struct op *o, struct proc *p, int status, const char *out,
			   size_t outlen);

/* A runc job bound to a call.  It lives in the call's arena, which stays
 * until the job completes; it names its process by reference, so a
 * completion for a process deleted meanwhile is dropped. */
/* The task events containerd hears of, each with its topic and message
 * type in one table (task_core.c). */
enum task_event {
	EV_CREATE,
	EV_START,
	EV_EXEC_ADDED,
	EV_EXEC_STARTED,
	EV_PAUSED,
	EV_RESUMED,
	EV_OOM,
	EV_EXIT,
	EV_DELETE,
};
/* Queue event k (msg: the matching containerd.events.Task* message). */
int task_publish(enum task_event k, const void *msg);

struct op {
	struct call *call;
	struct ref proc;
	uint32_t park;
	const char *what;
	int arg;
	int reports_pid;
	int fd3; /* runc's fd 3 (task_op: -1, none) */
	op_done_fn done;
	const char **argv; /* kept for a job spawned later (Create after its logger) */
	size_t argc;	   /* what argv holds so far */
	void *req;	   /* the decoded request, for its completion */
	union {		   /* what one verb's completion needs besides */
		struct ckpt *ckpt;     /* Checkpoint: its folders */
		const char *spec_path; /* Start of an exec: its process.json,
					* when it is a file (no memfd) */
	} u;
};

/* The process `exec_id` of container `id`, or NULL once c is answered
 * (NOT_FOUND) or parked (its container's Create is still running). */
struct proc *task_lookup(struct call *c, const char *id, const char *exec_id);
/* A runc job for call c about p, and runc's argv with its global flags
 * and room for `extra` more (*n counts what is filled); NULL once the call
 * has been answered. */
struct op *task_op(struct call *c, struct proc *p, const char *what, size_t extra,
		   const char ***argv, size_t *n);
/* Spawn the job (fds: its stdio, -1 for none; capture: its output); a
 * negative errno if it could not start, the call still unanswered. */
int task_op_run(struct op *o, struct proc *p, const char *const *argv, const int fds[3],
		int capture, op_done_fn done);
/* Answer the call of a job that could not start (task_op_run's errno). */
void task_op_refused(struct op *o, struct proc *p, int err);
/* task_op_run, and on failure task_op_refused: the negative errno is
 * returned with the call answered. */
int task_op_spawn(struct op *o, struct proc *p, const char *const *argv, const int fds[3],
		  int capture, op_done_fn done);
/* ct's rootfs mounts, if it made any, unmounted (Delete, a failed Create). */
void task_rootfs_unmount(struct container *ct);
int task_runc_ok(int status);
/* Answer c with runc's error for a failed job ("<what> failed: ..."). */
void task_runc_error(struct call *c, struct proc *p, const char *what, int status,
		     const char *out, size_t outlen);
/* A process's stdio before runc runs (pipes, or the console socket whose
 * flag is appended to argv). */
int task_io_open(struct call *c, struct proc *p, const char **argv, size_t *n, int hold);
/* After a successful runc create/exec/restore: the pid from `pidfile`, with
 * a terminal's pty attached; a negative errno if either failed (the process
 * is then killed). */
int task_runc_pid(struct proc *p, const char *pidfile);
/* The cgroup of ct's new init: kept (for Stats after its exit and the
 * OOM watch), controllers enabled down to it (v2), OOM kills watched. */
void task_cgroup_load(struct call *c, struct container *ct, pid_t pid);
/* Publish /tasks/start (init) or /tasks/exec-started, answer c with the pid,
 * then tell the model (the held exit, if any, follows). */
void task_started(struct call *c, struct proc *p);
/* Run the calls that waited for the Create of ct (ct may be gone). */
void task_create_ended(struct ref ct);
/* Resume function that runs the call's handler again. */
void task_rerun(struct call *c, struct ref target);
/* Answer c with the model's refusal of verb v on p (lc_may; p NULL: gone)
 * and return 1, or return 0 if v may go ahead. */
int task_refused(struct call *c, struct container *ct, struct proc *p, enum lc_verb v);
/* Run `runc delete --force` for a container we give up on (no call). */
void task_runc_forget(struct container *ct);
/* Set the lifecycle hooks (exit, OOM, orphans, idle, gone). */
void task_core_init(void);

/* Restore (Start of a container created from a checkpoint). */
void task_restore_start(struct call *c, struct op *o, struct proc *p, const char **argv,
		   size_t n);
void task_exec_start(struct call *c, struct proc *p);

void task_create(struct call *c);
void task_exec(struct call *c);
void task_checkpoint(struct call *c);
void task_pids(struct call *c);
void task_pause(struct call *c);
void task_resume(struct call *c);
void task_update(struct call *c);
void task_stats(struct call *c);

#endif
