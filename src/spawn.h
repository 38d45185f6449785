/*
 * spawn.h - the one way the daemon (and `start`) starts a child: runc, the
 * daemon itself, a binary:// logger, helpers.
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
 *   struct spawn_req s = { .argv = argv, .fds = fds, .nfds = 3 };
 *   pid_t pid = spawn(&s);
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

struct spawn_req {
	const char *const *argv; /* argv[0] is looked up in PATH without a '/' */
	char *const *envp;	 /* NULL: ours without NOTIFY_SOCKET */
	const int *fds;		 /* fds[i] becomes the child's fd i */
	int nfds;		 /* >= 3 */
	int flags;
};

pid_t spawn(const struct spawn_req *s);

#endif
