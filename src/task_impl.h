/*
 * task_impl.h - what the task service's files share: request decoding, the
 * runc job bound to a call, and helpers for pid files and a process's
 * stdio.  Not for use outside task*.c.
 */
#ifndef TASK_IMPL_H
#define TASK_IMPL_H
#include <stddef.h>

#include "container.h"
#include "containerd_task_v2.pb.h"
#include "ttrpc.h"

/* The generated messages have members named stdin/stdout/stderr, which
 * musl defines as macros. */
#undef stdin
#undef stdout
#undef stderr

#define DECODE(c, T) ((T *)ttrpc_decode((c), T##_fields, sizeof(T)))

/* A runc job bound to a call: the call is answered when runc exits. */
struct op {
	struct call *call;
	struct proc *proc;
	const char *what;
	int arg;
};

/* A runc job for call c about p, and runc's argv with its global flags
 * and room for `extra` more (*n counts what is filled); NULL once the call
 * has been answered. */
struct op *op_begin(struct call *c, struct proc *p, const char *what, size_t extra,
		    const char ***argv, size_t *n);
/* Spawn runc with captured output; on failure the call is answered. */
int op_spawn(struct op *o, const char *const *argv, const int fds[3], runc_done_fn fn);
int runc_ok(int status);
/* The process `exec_id` of container `id`, or NULL after NOT_FOUND. */
struct proc *lookup(struct call *c, const char *id, const char *exec_id);
int proc_io_open(struct call *c, struct proc *p, const char **argv, size_t *n);
int proc_io_attach(struct proc *p);
/* After a successful runc create/exec/restore: the pid from `pidfile`, with
 * a terminal's pty attached; a negative errno if either failed (the process
 * is then killed). */
int proc_runc_pid(struct proc *p, const char *pidfile);

/* Completion of runc start, shared with restore. */
void start_done(void *ctx, int status, const char *out, size_t outlen);
void exec_start(struct call *c, struct proc *p);
void restore_start(struct call *c, struct op *o, struct proc *p, const char **argv,
		   size_t n);

/* Run the calls that waited for the Create of ct (ct may be gone). */
void replay_deferred(const struct container *ct);
void kill_orphans(struct container *ct);

void task_create(struct call *c);
void task_exec(struct call *c);
void task_checkpoint(struct call *c);
void task_pids(struct call *c);
void task_pause(struct call *c);
void task_resume(struct call *c);
void task_update(struct call *c);
void task_stats(struct call *c);

#endif
