/*
 * runc.c - spawning runc and collecting its result.
 *
 * Layer: runtime (README, "Architecture").
 *
 * A job is started by spawn() (an exec failure is spawn's error) and is
 * named by a handle of slot and generation, so that a caller that gave up
 * can kill it without ever hitting a later job in the same slot.  Captured
 * output is read
 * from a non-blocking pipe as it arrives so that runc never stalls on a full
 * pipe, and drained when runc is reaped.
 */
#include "cold.h"
#include "runc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "capacity.h"
#include "log.h"
#include "loop.h"
#include "pages.h"
#include "slots.h"
#include "spawn.h"

#define JOBS_TOTAL  (LIM_JOBS + LIM_RESERVED)
#define CAPTURE_MAX (1u << 20)

struct job {
	struct slot slot;
	pid_t pid;
	int outfd; /* capture pipe, read end, or -1 */
	char *out; /* mmap'd capture buffer */
	size_t outlen;
	runc_done_fn fn;
	void *ctx;
};

static struct job jobs[JOBS_TOTAL] PAGE_ALIGNED;
static struct slots pool = SLOTS_IN(jobs, JOBS_TOTAL, struct job, slot);

static void capture_read(struct job *j)
{
	for (;;) {
		/* runc mostly says nothing: its buffer is mapped for the first
		 * byte read, not for the end of the pipe */
		char sink[512];
		int room_left = j->outlen < CAPTURE_MAX - 1;
		char *dst = j->out && room_left ? j->out + j->outlen : sink;
		size_t room = dst != sink ? CAPTURE_MAX - 1 - j->outlen : sizeof(sink);
		ssize_t n = read(j->outfd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (dst == sink && !j->out) {
			if (!(j->out = pages_map(CAPTURE_MAX, 0)))
				return;
			memcpy(j->out, sink, (size_t)n);
			dst = j->out;
		}
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

static struct job *job_alloc(int reserved)
{
	/* Client work may not take the last LIM_RESERVED slots. */
	int i = slot_take(&pool, reserved ? JOBS_TOTAL : LIM_JOBS);
	if (i < 0)
		return NULL;
	slot_clear(&pool, (unsigned)i);
	return &jobs[i];
}

static void job_reaped(void *ctx, pid_t pid, int status);

uint32_t runc_spawn(const char *const argv[], const int fds[3], int fd3, int flags,
		    runc_done_fn fn, void *ctx, int *err)
{
	struct job *j = job_alloc(flags & RUNC_RESERVED);
	if (!j) {
		*err = -EAGAIN;
		return 0;
	}
	int cp[2] = { -1, -1 };
	if ((flags & RUNC_CAPTURE) && pipe2(cp, O_CLOEXEC) < 0) {
		*err = -errno;
		slot_put(&pool, (unsigned)(j - jobs));
		return 0;
	}
	int cfds[4];
	for (int i = 0; i < 3; i++)
		cfds[i] = fds[i] >= 0 ? fds[i] : (i > 0 && cp[1] >= 0 ? cp[1] : -1);
	cfds[3] = fd3;
	struct spawn_req s = { .argv = argv,
			       .fds = cfds,
			       .nfds = fd3 >= 0 ? 4 : 3,
			       .flags = SPAWN_PDEATHSIG,
			       .on_exit = job_reaped,
			       .ctx = j };
	pid_t pid = spawn(&s);
	if (cp[1] >= 0)
		close(cp[1]);
	if (pid < 0) {
		if (cp[0] >= 0)
			close(cp[0]);
		*err = pid;
		slot_put(&pool, (unsigned)(j - jobs));
		return 0;
	}
	j->pid = pid;
	j->outfd = -1;
	j->fn = fn;
	j->ctx = ctx;
	if (cp[0] >= 0) {
		fcntl(cp[0], F_SETFL, O_NONBLOCK);
		j->outfd = cp[0];
		if (loop_add(cp[0], EPOLLIN, on_capture, j) < 0) {
			/* Still drained at exit; only a huge output could stall. */
			log_warn("runc capture: cannot watch its pipe");
		}
	}
	log_debug("spawned %s %s (pid %d)", argv[0], argv[1] ? argv[1] : "", pid);
	*err = 0;
	return slot_handle(&pool, (unsigned)(j - jobs), 20);
}

static struct job *job_get(uint32_t h)
{
	int i = slot_by_handle(&pool, h, 20);
	return i < 0 ? NULL : &jobs[i];
}

int runc_cancel(uint32_t h)
{
	struct job *j = job_get(h);
	if (!j)
		return -ESRCH;
	log_warn("runc (pid %d): no caller waits any more, killing it", j->pid);
	return kill(j->pid, SIGKILL) < 0 ? -errno : 0;
}

/* The job's runc has been reaped (spawn.c's reaper). */
static void job_reaped(void *ctx, pid_t pid, int status)
{
	struct job *j = ctx;
	(void)pid;
	if (j->outfd >= 0) {
		capture_read(j);
		loop_del(j->outfd);
		close(j->outfd);
	}
	struct job done = *j;
	slot_clear(&pool, (unsigned)(j - jobs));
	slot_put(&pool, (unsigned)(j - jobs));
	if (done.fn)
		done.fn(done.ctx, status, done.out ? done.out : "", done.outlen);
	if (done.out)
		munmap(done.out, CAPTURE_MAX);
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

COLD unsigned runc_jobs(void)
{
	return pool.used;
}

int runc_trimmable(void)
{
	return slots_trimmable(&pool);
}

void runc_trim(void)
{
	slots_trim(&pool);
}
