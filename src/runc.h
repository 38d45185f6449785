/*
 * runc.h - runc (or crun) as an asynchronous child.
 *
 * runc_spawn() forks and execs, and returns at once; the job's callback runs
 * from the SIGCHLD reaper once runc has exited, with its wait status (or a
 * negative errno if exec itself failed) and its captured stdout+stderr.
 * Every child gets a clean signal mask, PDEATHSIG=SIGKILL, no NOTIFY_SOCKET
 * and only the fds meant for it.
 *
 *   const char *argv[] = { ..., NULL };
 *   int fds[3] = { -1, -1, -1 };      // -1: /dev/null, or captured
 *   runc_spawn(argv, fds, RUNC_CAPTURE, done_cb, ctx);
 */
#ifndef RUNC_H
#define RUNC_H
#include <stddef.h>
#include <sys/types.h>
#include "arena.h"

enum { RUNC_CAPTURE = 1 };

/* runc --root when the runtime options give none; /<namespace> follows. */
#define RUNC_DEFAULT_ROOT "/run/containerd/runc"

typedef void (*runc_done_fn)(void *ctx, int status, const char *out, size_t outlen);

/* The runc flags shared by all commands of one container. */
struct runc_cfg {
	char binary[1024]; /* Options.binary_name, bounded like it */
	char root[1100];
	char bundle[1024];
	int systemd_cgroup;
	char criu[1024];
};

/* fds[i] < 0: /dev/null (or the capture pipe for 1 and 2 with CAPTURE). */
int runc_spawn(const char *const argv[], const int fds[3], int flags, runc_done_fn fn,
	       void *ctx, pid_t *pid_out);
/* Called by the reaper; returns 1 if pid was one of our runc jobs. */
int runc_reaped(pid_t pid, int status);
/* A runc job whose requester went away: run its callback with ctx NULL. */
void runc_forget(void *ctx);
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
