/*
 * spawn.c - clone(CLONE_VM | CLONE_VFORK) and exec, with the child's fds,
 * signals and environment set up on its own stack.
 *
 * Layer: runtime (README, "Architecture").
 *
 * The child shares our memory until it execs: it must not write anything
 * of ours.  It works on its locals and reads the request; the environment
 * is prepared here beforehand rather than edited in the child.  With
 * CLONE_VFORK we resume only after the exec (or the child's exit), so the
 * exec-error pipe can be read at once.  The errno goes through a pipe, not
 * through the memory we share: qemu-user (the cross tests) runs this clone
 * as a fork.  The child's stack is a block of ours, below the frame that
 * waits for it: no mapping per spawn.
 */
#include "cold.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "capacity.h"
#include "log.h"
#include "pages.h"

/* execvpe builds PATH candidates on it, SPAWN_SELF reads a path onto it */
#define CHILD_STACK   (32 * 1024)

/* The children followed until reaped, packed: a reap scans only those
 * alive (runc jobs in flight, loggers), and removes by moving the last. */
struct followed {
	pid_t pid;
	spawn_exit_fn fn;
	void *ctx;
};
static struct followed followed[LIM_CHILDREN] PAGE_ALIGNED;
static unsigned nfollowed;
static unsigned followed_high; /* the most followed since the last trim */

static struct followed *find(pid_t pid)
{
	for (unsigned i = 0; i < nfollowed; i++)
		if (followed[i].pid == pid)
			return &followed[i];
	return NULL;
}

int spawn_reaped(pid_t pid, int status)
{
	struct followed *f = find(pid);
	if (!f)
		return 0;
	struct followed was = *f;
	*f = followed[--nfollowed];
	was.fn(was.ctx, pid, status);
	return 1;
}

int spawn_rebind(pid_t pid, spawn_exit_fn fn, void *ctx)
{
	struct followed *f = find(pid);
	if (!f)
		return -ESRCH;
	f->fn = fn;
	f->ctx = ctx;
	return 0;
}

COLD int spawn_follow(pid_t pid, spawn_exit_fn fn, void *ctx)
{
	if (nfollowed >= LIM_CHILDREN)
		return -ENOSPC;
	followed[nfollowed++] = (struct followed){ pid, fn, ctx };
	if (nfollowed > followed_high)
		followed_high = nfollowed;
	return 0;
}

int spawn_trimmable(void)
{
	return !nfollowed && followed_high;
}

void spawn_trim(void)
{
	if (!spawn_trimmable())
		return;
	pages_release_head(followed, followed_high * sizeof(followed[0]), sizeof(followed));
	followed_high = 0;
}

unsigned spawn_children(void)
{
	return nfollowed;
}

/* Our environment without NOTIFY_SOCKET: taken out of our own, in place
 * (no copy of the array to keep; the shim itself never notifies), at each
 * spawn, as a setenv may have put it back. */
static char *const *default_env(void)
{
	extern char **environ;
	if (environ) {
		char **to = environ;
		for (char **e = environ; *e; e++)
			if (strncmp(*e, "NOTIFY_SOCKET=", 14) != 0)
				*to++ = *e;
		*to = NULL;
	}
	return environ;
}

struct child {
	const struct spawn_req *req;
	char *const *envp;
	int devnull;
	int errfd;
};

static int child_main(void *arg)
{
	const struct child *c = arg;
	const struct spawn_req *s = c->req;
	int src[SPAWN_MAX_FDS];
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (s->flags & SPAWN_PDEATHSIG)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (s->flags & SPAWN_SETPGID)
		setpgid(0, 0);
	/* Move every source out of 0..nfds-1 first, so that no dup2 clobbers
	 * a source still to be placed; the copies are CLOEXEC. */
	for (int i = 0; i < s->nfds; i++) {
		int fd = s->fds[i];
		if (fd < 0 && i < 3)
			fd = c->devnull;
		src[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, s->nfds);
		if (fd >= 0 && src[i] < 0)
			goto fail;
	}
	for (int i = 0; i < s->nfds; i++) {
		if (src[i] < 0)
			close(i);
		else if (dup2(src[i], i) < 0)
			goto fail;
	}
	if (s->flags & SPAWN_SELF) {
		/* By our own path, so that comm is the binary's name, not "exe". */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			execve(self, (char *const *)s->argv, c->envp);
		}
		execve("/proc/self/exe", (char *const *)s->argv, c->envp);
	} else {
		execvpe(s->argv[0], (char *const *)s->argv, c->envp);
	}
fail:;
	int e = errno ? errno : ENOEXEC;
	ssize_t w = write(c->errfd, &e, sizeof(e));
	(void)w;
	_exit(127);
}

pid_t spawn(const struct spawn_req *s)
{
	if (s->nfds < 3 || s->nfds > SPAWN_MAX_FDS)
		return -EINVAL;
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct child c = { s, s->envp ? s->envp : default_env(), devnull, ep[1] };
	_Alignas(16) char stack[CHILD_STACK];
	pid_t pid = clone(child_main, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD,
			  &c);
	if (pid < 0)
		pid = -errno;
#ifdef __SANITIZE_ADDRESS__
	/* (tests) the child's frames poisoned parts of the block as theirs */
	ASAN_UNPOISON_MEMORY_REGION(stack, sizeof(stack));
#endif
	close(ep[1]);
	if (devnull >= 0)
		close(devnull);
	if (pid > 0) {
		int e = 0;
		if (read(ep[0], &e, sizeof(e)) == (ssize_t)sizeof(e) && e) {
			/* exec failed: the child has exited already */
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			pid = -e;
		}
	}
	close(ep[0]);
	if (pid > 0 && s->on_exit) {
		if (nfollowed < LIM_CHILDREN) {
			followed[nfollowed++] = (struct followed){ pid, s->on_exit, s->ctx };
			if (nfollowed > followed_high)
				followed_high = nfollowed;
		} else { /* cannot happen: jobs and loggers are bounded below it */
			log_warn("pid %d: %u children followed already", pid, nfollowed);
		}
	}
	return pid;
}
