/*
 * spawn.h - the one way the daemon (and `start`) starts a child: runc, the
 * daemon itself, a binary:// logger, helpers.
 *
 * Layer: runtime (README, "Architecture").
 *
 * The child gets a clean signal mask, default SIGPIPE, fds 0..nfds-1 set
 * exactly as asked (-1: /dev/null for 0-2, closed above), nothing else
 * (every other fd of ours is CLOEXEC), an environment without
 * NOTIFY_SOCKET unless one is given, and optionally its own process group
 * or PDEATHSIG.  It is started with clone(CLONE_VM | CLONE_VFORK), so
 * spawn() returns once the child has exec'd, and an exec failure comes
 * back as spawn()'s negative errno (through a CLOEXEC pipe; the failed
 * child is reaped here).
 *
 *   int fds[3] = { -1, out, out };
 *   struct spawn_req s = { .argv = argv, .fds = fds, .nfds = 3,
 *                          .on_exit = done, .ctx = job };
 *   pid_t pid = spawn(&s);
 *
 * It is also the daemon's one reaper: a child started with an on_exit is
 * kept in a table until it is reaped, and spawn_reaped() runs its on_exit
 * then.  A pid that is not there is a container's process (main.c hands
 * it to the lifecycle model).  Who owns a child may change while it runs
 * (spawn_rebind: a logger whose process is gone is followed until it
 * ends).
 */
#ifndef SPAWN_H
#define SPAWN_H
#include <sys/types.h>

#define SPAWN_MAX_FDS 8

enum {
	SPAWN_PDEATHSIG = 1, /* SIGKILL when the daemon dies */
	SPAWN_SETPGID = 2,   /* a process group of its own */
	SPAWN_SELF = 4,	     /* exec our own binary (argv[0] is only its name) */
};

/* A child of ours has ended (status as from waitpid). */
typedef void (*spawn_exit_fn)(void *ctx, pid_t pid, int status);

struct spawn_req {
	const char *const *argv; /* argv[0] is looked up in PATH without a '/' */
	char *const *envp;	 /* NULL: ours without NOTIFY_SOCKET */
	const int *fds;		 /* fds[i] becomes the child's fd i */
	int nfds;		 /* >= 3 */
	int flags;
	spawn_exit_fn on_exit;	 /* NULL: not followed (the caller waits for it) */
	void *ctx;
};

pid_t spawn(const struct spawn_req *s);
/* A child was reaped: 1 if it was one of ours (its on_exit has run), 0 if
 * not (a container's process). */
int spawn_reaped(pid_t pid, int status);
/* pid's on_exit is now fn(ctx); -ESRCH if it is not followed. */
int spawn_rebind(pid_t pid, spawn_exit_fn fn, void *ctx);
/* Follow pid, a child of ours already (an upgrade's new image takes the
 * loggers of the old one); -ENOSPC if the table is full. */
int spawn_follow(pid_t pid, spawn_exit_fn fn, void *ctx);
/* Idle: no child followed, the table gives its pages back. */
int spawn_trimmable(void);
void spawn_trim(void);
/* Children followed now (tests). */
unsigned spawn_children(void);

#endif
