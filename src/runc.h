/*
 * runc.h - runc (or crun) as an asynchronous child.
 *
 * Layer: runtime (README, "Architecture").
 *
 * runc_spawn() starts runc (spawn.c) and returns a job handle at once; the
 * job's callback runs from the SIGCHLD reaper once runc has exited, with its
 * wait status and its captured stdout+stderr.  An exec failure is
 * runc_spawn's own error (the callback never runs).  The callback's ctx is
 * the caller's: whatever it names must be checked for staleness there.
 *
 *   const char *argv[] = { ..., NULL };
 *   int fds[3] = { -1, -1, -1 };      // -1: /dev/null, or captured
 *   uint32_t job = runc_spawn(argv, fds, RUNC_CAPTURE, done_cb, ctx, &err);
 *   runc_cancel(job);                 // SIGKILL; the callback still runs
 */
#ifndef RUNC_H
#define RUNC_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "arena.h"

enum {
	RUNC_CAPTURE = 1,
	RUNC_RESERVED = 2, /* the shim's own work: may use the reserved slots */
};

/* runc --root when the runtime options give none; /<namespace> follows. */
#define RUNC_DEFAULT_ROOT "/run/containerd/runc"

typedef void (*runc_done_fn)(void *ctx, int status, const char *out, size_t outlen);

/* The runc flags shared by all commands of one container. */
struct runc_cfg {
	const char *binary; /* Options.binary_name, or "" for runc */
	const char *root;
	const char *bundle;
	const char *criu; /* or "" */
	int systemd_cgroup;
};

/* fds[i] < 0: /dev/null (or the capture pipe for 1 and 2 with CAPTURE);
 * fd3 >= 0 is runc's fd 3 (an exec's process.json, read through
 * /proc/self/fd/3).  Returns the job's handle (never 0), or 0 with *err
 * set. */
uint32_t runc_spawn(const char *const argv[], const int fds[3], int fd3, int flags,
		    runc_done_fn fn, void *ctx, int *err);
/* Kill a job that nobody waits for any more; -ESRCH if it has ended. */
int runc_cancel(uint32_t job);
/* Idle: no job in flight, the table gives its pages back. */
int runc_trimmable(void);
void runc_trim(void);
/* runc jobs in flight (an upgrade waits until there is none). */
unsigned runc_jobs(void);
/* argv of "runc <global flags>" followed by up to `extra` more slots. */
const char **runc_argv(struct arena *a, const struct runc_cfg *cfg, size_t extra,
		       size_t *argc);
/* "<what> failed: <last error in log.json>" or a generic message. */
char *runc_error(struct arena *a, const struct runc_cfg *cfg, const char *what,
		 int status, const char *out, size_t outlen);
/* The pid in a --pid-file runc wrote, or a negative errno. */
int runc_read_pid(const char *path);
/* Exit code convention: WEXITSTATUS, or 128+signal. */
int runc_exit_code(int status);

#endif
