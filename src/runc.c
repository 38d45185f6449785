/*
 * runc.c - spawning runc and collecting its result.
 *
 * An exec failure is written by the child as an errno on a CLOEXEC pipe; the
 * parent reads that pipe when it reaps the child (the write happens before
 * the child exits, so the bytes are there by then).  Captured output is read
 * from a non-blocking pipe as it arrives so that runc never stalls on a full
 * pipe, and drained when runc is reaped.
 */
#include "runc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "loop.h"

#define MAX_JOBS    64
#define CAPTURE_MAX (1u << 20)

struct job {
	pid_t pid;
	int errfd; /* exec-error pipe, read end */
	int outfd; /* capture pipe, read end, or -1 */
	char *out; /* mmap'd capture buffer */
	size_t outlen;
	runc_done_fn fn;
	void *ctx;
};

static struct job jobs[MAX_JOBS];

static void capture_read(struct job *j)
{
	for (;;) {
		if (!j->out) {
			j->out = mmap(NULL, CAPTURE_MAX, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (j->out == MAP_FAILED) {
				j->out = NULL;
				return;
			}
		}
		char sink[512];
		char *dst = j->outlen < CAPTURE_MAX - 1 ? j->out + j->outlen : sink;
		size_t room = j->outlen < CAPTURE_MAX - 1 ? CAPTURE_MAX - 1 - j->outlen
							  : sizeof(sink);
		ssize_t n = read(j->outfd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (dst != sink)
			j->outlen += (size_t)n;
	}
}

static void on_capture(int fd, uint32_t events, void *data)
{
	(void)fd;
	struct job *j = data;
	capture_read(j);
	if (events & (EPOLLHUP | EPOLLERR)) {
		loop_del(j->outfd);
		close(j->outfd);
		j->outfd = -1;
	}
}

/*
 * The child is started with clone(CLONE_VM | CLONE_VFORK): it borrows our
 * memory until it execs, so there is no page-table copy and no copy-on-write
 * fault in the daemon afterwards (a fork cost about as much CPU as the rest
 * of a container's life).  The child therefore touches nothing shared: it
 * works on its own stack and the struct below, and gets a prepared
 * environment instead of calling unsetenv.
 */
struct child {
	const char *const *argv;
	int fds[3];  /* -1: /dev/null, or the capture pipe for 1 and 2 */
	int capture; /* write end of the capture pipe, or -1 */
	int devnull;
	int errfd; /* exec errors are written here */
};

#define CHILD_STACK   (64 * 1024)
#define CHILD_ENV_MAX 256
static char *child_env[CHILD_ENV_MAX];
static int child_env_ready;

/* Our environment without NOTIFY_SOCKET, built once. */
static void child_env_init(void)
{
	extern char **environ;
	int n = 0;
	for (char **e = environ; e && *e && n < CHILD_ENV_MAX - 1; e++)
		if (strncmp(*e, "NOTIFY_SOCKET=", 14) != 0)
			child_env[n++] = *e;
	child_env[n] = NULL;
	child_env_ready = 1;
}

static int child_main(void *arg)
{
	const struct child *c = arg;
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int src[3];
	for (int i = 0; i < 3; i++) {
		src[i] = c->fds[i];
		if (src[i] < 0)
			src[i] = (i > 0 && c->capture >= 0) ? c->capture : c->devnull;
	}
	/* Move sources above 2 first so dup2 never clobbers one. */
	for (int i = 0; i < 3; i++)
		if (src[i] >= 0 && src[i] <= 2)
			src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < 3; i++)
		if (src[i] < 0 || dup2(src[i], i) < 0)
			goto fail;
	execvpe(c->argv[0], (char *const *)c->argv, child_env);
fail:;
	int e = errno;
	ssize_t w = write(c->errfd, &e, sizeof(e));
	(void)w;
	_exit(127);
}

static pid_t spawn_child(struct child *c)
{
	if (!child_env_ready)
		child_env_init();
	char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -ENOMEM;
	/* returns once the child has exec'd or exited */
	pid_t pid = clone(child_main, stack + CHILD_STACK,
			  CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	int e = errno;
	munmap(stack, CHILD_STACK);
	return pid < 0 ? -e : pid;
}

int runc_spawn(const char *const argv[], const int fds[3], int flags, runc_done_fn fn,
	       void *ctx, pid_t *pid_out)
{
	struct job *j = NULL;
	for (int i = 0; i < MAX_JOBS; i++)
		if (!jobs[i].pid) {
			j = &jobs[i];
			break;
		}
	if (!j)
		return -EAGAIN;
	int ep[2], cp[2] = { -1, -1 };
	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	if ((flags & RUNC_CAPTURE) && pipe2(cp, O_CLOEXEC) < 0) {
		int e = errno;
		close(ep[0]);
		close(ep[1]);
		return -e;
	}
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct child c = { argv, { fds[0], fds[1], fds[2] }, cp[1], devnull, ep[1] };
	pid_t pid = spawn_child(&c);
	if (pid < 0) {
		int e = -pid;
		close(ep[0]);
		close(ep[1]);
		if (cp[0] >= 0) {
			close(cp[0]);
			close(cp[1]);
		}
		if (devnull >= 0)
			close(devnull);
		return -e;
	}
	close(ep[1]);
	if (devnull >= 0)
		close(devnull);
	memset(j, 0, sizeof(*j));
	j->pid = pid;
	j->errfd = ep[0];
	j->outfd = -1;
	j->fn = fn;
	j->ctx = ctx;
	if (cp[0] >= 0) {
		close(cp[1]);
		fcntl(cp[0], F_SETFL, O_NONBLOCK);
		j->outfd = cp[0];
		if (loop_add(cp[0], EPOLLIN, on_capture, j) < 0) {
			/* Still drained at exit; only a huge output could stall. */
			log_warn("runc capture: too many fds");
		}
	}
	if (pid_out)
		*pid_out = pid;
	log_debug("spawned %s %s (pid %d)", argv[0], argv[1] ? argv[1] : "", pid);
	return 0;
}

int runc_reaped(pid_t pid, int status)
{
	struct job *j = NULL;
	for (int i = 0; i < MAX_JOBS; i++)
		if (jobs[i].pid == pid) {
			j = &jobs[i];
			break;
		}
	if (!j)
		return 0;
	int e = 0;
	if (read(j->errfd, &e, sizeof(e)) == (ssize_t)sizeof(e) && e)
		status = -e;
	close(j->errfd);
	if (j->outfd >= 0) {
		capture_read(j);
		loop_del(j->outfd);
		close(j->outfd);
	}
	struct job done = *j;
	memset(j, 0, sizeof(*j));
	if (done.fn)
		done.fn(done.ctx, status, done.out ? done.out : "", done.outlen);
	if (done.out)
		munmap(done.out, CAPTURE_MAX);
	return 1;
}

void runc_forget(void *ctx)
{
	for (int i = 0; i < MAX_JOBS; i++)
		if (jobs[i].pid && jobs[i].ctx == ctx)
			jobs[i].ctx = NULL;
}

const char **runc_argv(struct arena *a, const struct runc_cfg *cfg, size_t extra,
		       size_t *argc)
{
	const char **v = arena_alloc(a, sizeof(char *) * (12 + extra));
	if (!v)
		return NULL;
	size_t n = 0;
	v[n++] = cfg->binary[0] ? cfg->binary : "runc";
	v[n++] = "--root";
	v[n++] = cfg->root;
	v[n++] = "--log";
	v[n++] = arena_printf(a, "%s/log.json", cfg->bundle);
	v[n++] = "--log-format";
	v[n++] = "json";
	if (cfg->systemd_cgroup)
		v[n++] = "--systemd-cgroup";
	if (cfg->criu[0]) {
		v[n++] = "--criu";
		v[n++] = cfg->criu;
	}
	if (!v[4])
		return NULL;
	*argc = n;
	return v;
}

int runc_read_pid(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = 0;
	int pid = 0;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	return pid > 0 ? pid : -EINVAL;
}

int runc_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

char *runc_error(struct arena *a, const struct runc_cfg *cfg, const char *what,
		 int status, const char *out, size_t outlen)
{
	if (status < 0)
		return arena_printf(a, "%s: exec %s: %s", what,
				    cfg->binary[0] ? cfg->binary : "runc",
				    strerror(-status));
	char path[1100];
	snprintf(path, sizeof(path), "%s/log.json", cfg->bundle);
	char msg[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		off_t size = lseek(fd, 0, SEEK_END);
		/* The last 64 KiB hold the last error line. */
		off_t from = size > 65536 ? size - 65536 : 0;
		char *buf = arena_alloc(a, 65537);
		ssize_t n = buf ? pread(fd, buf, 65536, from) : -1;
		close(fd);
		if (n > 0 && json_log_last_error(buf, (size_t)n, msg, sizeof(msg)) == 0)
			return arena_printf(a, "%s: %s", what, msg);
	}
	/* No log line: use what runc printed, trimmed. */
	while (outlen && (out[outlen - 1] == '\n' || out[outlen - 1] == ' '))
		outlen--;
	if (outlen > 2048)
		outlen = 2048;
	if (outlen)
		return arena_printf(a, "%s: %.*s", what, (int)outlen, out);
	return arena_printf(a, "%s: exit status %d", what, runc_exit_code(status));
}
