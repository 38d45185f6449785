/*
 * upgrade.c - an upgrade in place: the running daemon re-executes the
 * binary now installed at the path it was started from, and goes on
 * serving with everything it had: its pid, its listening socket, every
 * connection with its parked Waits, every container and exec with its
 * stdio copies and loggers, its event queue.
 *
 * Layer: face (README, "Architecture").
 *
 * Asked for by SIGUSR2, or by the Upgrade call of this shim's own service
 * (the `upgrade` command).  The steps:
 *  1. hold: nothing more is read or accepted (what comes waits in the
 *     sockets); no event is sent after the one in flight;
 *  2. quiesce: wait, at most QUIESCE_NS, until no runc job, no call but
 *     the parked Waits, no output watch and no event is in flight: work
 *     that cannot be carried is finished, not carried (a Create, an exec
 *     start, a checkpoint);
 *  3. check: the state is written into a sealed memfd and the new binary
 *     reads it all with -upgrade-check, within CHECK_NS, and says its
 *     version; a binary that cannot (gone, not executable, another state
 *     format, crashing) is refused here;
 *  4. commit: the state is written again (the loop ran during the check),
 *     the fds it names lose close-on-exec, and execve;
 *  5. the new image (-upgrade-state FD) reads it, watches the same fds,
 *     answers the caller and reaps what exited meanwhile: the signal mask
 *     survives execve, so a SIGCHLD that came is still pending.
 * Any failure before the execve leaves the old image serving, unchanged,
 * with one log line and an error for the caller.
 *
 * Nothing of this costs memory while idle: the state is written only
 * when an upgrade is asked for.
 */
#include "cold.h"
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same on every architecture */
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#include "container.h"
#include "copy.h"
#include "events.h"
#include "log.h"
#include "loop.h"
#include "pages.h"
#include "procio.h"
#include "runc.h"
#include "shim_upgrade.pb.h"
#include "spawn.h"
#include "state.h"
#include "task.h"
#include "ttrpc.h"

#ifndef SHIM_VERSION
#define SHIM_VERSION "0.1.0"
#endif

#define QUIESCE_NS (10LL * 1000000000LL) /* work in flight must end by then */
#define POLL_NS	   2000000LL
#define CHECK_NS   (10LL * 1000000000LL)
#define MAX_ARGS   32

extern char **environ;

static char *exe; /* PATH_MAX bytes, mapped at the first upgrade: an idle
		   * shim's .bss does not grow by a page for it */
static char **args;
static const int *exiting;

static struct {
	int active;
	int dry_run;
	int has_caller;
	struct ttrpc_peer caller;
	int64_t began;
	struct loop_timer timer;
	pid_t check_pid;
	int check_out; /* the check's stdout, read once it has exited */
	int state_fd;  /* the checked state's memfd */
} up = { .check_out = -1, .state_fd = -1 };

/* (runs at every start: not COLD, and nothing touched but two words) */
void upgrade_init(char **argv, const int *exiting_flag)
{
	args = argv;
	exiting = exiting_flag;
}

/* The path the binary was started from: a binary replaced since (a
 * package upgrade) reads "PATH (deleted)", and PATH is where the new one
 * is. */
COLD static void exe_path(void)
{
	if (!exe && !(exe = pages_map(PATH_MAX, 0)))
		return;
	ssize_t n = readlink("/proc/self/exe", exe, PATH_MAX - 1);
	exe[n > 0 ? n : 0] = 0;
	size_t l = strlen(exe);
	if (l > 10 && strcmp(exe + l - 10, " (deleted)") == 0)
		exe[l - 10] = 0;
}

/* ---- the state ---- */

COLD static void state_write(struct st_w *w)
{
	st_w_init(w);
	st_tag(w, "SHIM");
	st_u64(w, STATE_FORMAT);
	st_str(w, SHIM_VERSION);
	ttrpc_save(w);
	copy_save(w);
	task_save(w);
	events_save(w);
	io_save_dying(w);
	st_tag(w, "CALL");
	st_u64(w, (uint64_t)up.has_caller);
	st_u64(w, (uint64_t)up.caller.conn);
	st_u64(w, up.caller.gen);
	st_u64(w, up.caller.stream);
	st_u64(w, (uint64_t)up.began);
	st_tag(w, "END ");
}

/* The state into a sealed memfd (-errno on failure). */
COLD static int state_memfd(struct st_w *w)
{
	if (w->err)
		return w->err;
	int fd = memfd_create("shim-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < w->len;) {
		ssize_t n = write(fd, w->buf + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	lseek(fd, 0, SEEK_SET); /* a reader may read it as a stream, from the start */
	return fd;
}

struct taken {
	char old_version[64];
	int has_caller;
	struct ttrpc_peer caller;
	int64_t began;
};

/* Read the state in buf: every part, into this image's tables (live 0:
 * a check, with nothing registered with the loop).  NULL, or why not. */
COLD static const char *state_read(const uint8_t *buf, size_t len, int live, struct taken *t)
{
	struct st_r r = { buf, len, NULL };
	if (!st_want(&r, "SHIM"))
		return "not a shim state";
	uint64_t format = st_get(&r);
	static char why[96];
	if (format != STATE_FORMAT) {
		snprintf(why, sizeof(why), "state format %llu, this binary reads %d",
			 (unsigned long long)format, STATE_FORMAT);
		return why;
	}
	snprintf(t->old_version, sizeof(t->old_version), "%s", st_get_str(&r));
	if (ttrpc_load(&r, live) < 0 || copy_load(&r) < 0 || task_load(&r) < 0 ||
	    events_load(&r) < 0 || io_load_dying(&r) < 0)
		return r.err ? r.err : "the state could not be taken";
	if (!st_want(&r, "CALL"))
		return r.err;
	t->has_caller = (int)st_get_max(&r, 1, "bad caller");
	t->caller.conn = (int)st_get_max(&r, 0x7fffffff, "bad caller");
	t->caller.gen = (unsigned)st_get(&r);
	t->caller.stream = (uint32_t)st_get(&r);
	t->began = (int64_t)st_get(&r);
	if (!st_want(&r, "END ") || r.left)
		return r.err ? r.err : "the state goes on after its end";
	return NULL;
}

#define STATE_READ_MAX (256u << 20) /* a state read as a stream (a pipe) */

/* The state on fd: mapped (a memfd, a file), or read to its end (a pipe,
 * for tests and tools).  NULL if there is none. */
COLD static const uint8_t *map_fd(int fd, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	if (S_ISREG(st.st_mode)) {
		if (st.st_size <= 0)
			return NULL;
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			return NULL;
		*len = (size_t)st.st_size;
		return m;
	}
	uint8_t *b = pages_map(STATE_READ_MAX, MAP_NORESERVE);
	size_t got = 0;
	while (b && got < STATE_READ_MAX) {
		ssize_t n = read(fd, b + got, STATE_READ_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (!b || !got)
		return NULL;
	*len = got;
	return b;
}

/* ---- the old image ---- */

COLD static void answer(int code, const char *msg, const char *old_version,
		   const char *new_version)
{
	if (!up.has_caller)
		return;
	up.has_caller = 0;
	struct call *c = ttrpc_attach(&up.caller);
	if (!c)
		return;
	if (code) {
		ttrpc_reply_error(c, code, "%s", msg);
		return;
	}
	containerd_shim_runc_c_v1_UpgradeResponse rsp;
	memset(&rsp, 0, sizeof(rsp));
	snprintf(rsp.old_version, sizeof(rsp.old_version), "%s", old_version);
	snprintf(rsp.new_version, sizeof(rsp.new_version), "%.63s", new_version);
	rsp.containers = container_count();
	rsp.pause_ns = (uint64_t)(loop_now_ns() - up.began);
	ttrpc_reply(c, containerd_shim_runc_c_v1_UpgradeResponse_fields, &rsp);
}

COLD static void finish(void)
{
	loop_timer_cancel(&up.timer);
	if (up.check_out >= 0)
		close(up.check_out);
	if (up.state_fd >= 0)
		close(up.state_fd);
	up.check_out = up.state_fd = -1;
	up.check_pid = 0;
	up.active = 0;
	ttrpc_hold(0);
	events_hold(0);
}

static void refuse(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
COLD static void refuse(int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("upgrade to %s refused: %s; serving on as %s", exe, msg, SHIM_VERSION);
	answer(code, msg, SHIM_VERSION, "");
	finish();
}

COLD static void set_cloexec(const int *fds, unsigned n, int on)
{
	for (unsigned i = 0; i < n; i++) {
		int f = fcntl(fds[i], F_GETFD);
		if (f >= 0)
			fcntl(fds[i], F_SETFD, on ? f | FD_CLOEXEC : f & ~FD_CLOEXEC);
	}
}

/* The check passed: write the state again, as it is now, and become the
 * new binary. */
COLD static void commit(const char *new_version)
{
	struct st_w w;
	state_write(&w);
	int fd = state_memfd(&w);
	if (fd < 0) {
		st_w_free(&w);
		refuse(ST_INTERNAL, "write the state: %s", strerror(-fd));
		return;
	}
	/* the daemon's own flags (a dozen at most), then the state's fd */
	char *argv[MAX_ARGS + 3];
	char fdarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	int k = 0;
	for (int i = 0; args[i] && k < MAX_ARGS; i++) {
		if (strcmp(args[i], "-upgrade-state") == 0) {
			if (args[i + 1])
				i++;
			continue;
		}
		argv[k++] = args[i];
	}
	argv[k++] = "-upgrade-state";
	argv[k++] = fdarg;
	argv[k] = NULL;
	log_info("upgrade: %s -> %s (%s), %u containers, a state of %zu bytes", SHIM_VERSION,
		 new_version, exe, container_count(), w.len);
	set_cloexec(w.fds, w.nfds, 0);
	set_cloexec(&fd, 1, 0);
	execve(exe, argv, environ);
	int e = errno;
	/* still here: nothing has changed */
	set_cloexec(w.fds, w.nfds, 1);
	close(fd);
	st_w_free(&w);
	refuse(ST_INTERNAL, "execve %s: %s", exe, strerror(e));
}

COLD static void on_check_exit(void *ctx, pid_t pid, int status)
{
	(void)ctx;
	(void)pid;
	char out[256];
	ssize_t n = up.check_out >= 0 ? read(up.check_out, out, sizeof(out) - 1) : -1;
	out[n > 0 ? n : 0] = 0;
	out[strcspn(out, "\n")] = 0;
	up.check_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(out, "ok ", 3) != 0) {
		char how[48];
		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
		else
			snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
		refuse(ST_FAILED_PRECONDITION, "the new binary did not take the state (%s%s%s)",
		       how, out[0] ? ": " : "", out);
		return;
	}
	const char *new_version = out + 3;
	if (up.dry_run) {
		log_info("upgrade: dry run: %s would take the state (%s -> %s)", exe,
			 SHIM_VERSION, new_version);
		answer(0, NULL, SHIM_VERSION, new_version);
		finish();
		return;
	}
	char v[64];
	snprintf(v, sizeof(v), "%.63s", new_version);
	commit(v);
}

COLD static void on_check_late(void *ctx)
{
	(void)ctx;
	if (up.check_pid > 0)
		kill(up.check_pid, SIGKILL); /* its exit refuses */
}

COLD static void check(void)
{
	struct st_w w;
	state_write(&w);
	up.state_fd = state_memfd(&w);
	st_w_free(&w);
	if (up.state_fd < 0) {
		int e = -up.state_fd;
		up.state_fd = -1;
		refuse(ST_INTERNAL, "write the state: %s", strerror(e));
		return;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		refuse(ST_INTERNAL, "pipe: %s", strerror(errno));
		return;
	}
	const char *argv[] = { exe, "-upgrade-check", NULL };
	int fds[3] = { up.state_fd, p[1], p[1] };
	struct spawn_req s = { .argv = argv, .fds = fds, .nfds = 3, .flags = SPAWN_PDEATHSIG,
			       .on_exit = on_check_exit };
	pid_t pid = spawn(&s);
	close(p[1]);
	up.check_out = p[0];
	if (pid < 0) {
		refuse(ST_FAILED_PRECONDITION, "run %s: %s", exe, strerror((int)-pid));
		return;
	}
	up.check_pid = pid;
	fcntl(up.check_out, F_SETFL, O_NONBLOCK);
	loop_timer_set(&up.timer, loop_now_ns() + CHECK_NS, on_check_late, NULL);
}

/* Poll until nothing that cannot be carried is in flight. */
COLD static void on_poll(void *ctx)
{
	(void)ctx;
	unsigned jobs = runc_jobs(), parked = task_busy(), calls = ttrpc_calls();
	int io = io_busy(), ev = events_busy();
	if (!jobs && !parked && !calls && !io && !ev) {
		check();
		return;
	}
	if (loop_now_ns() - up.began >= QUIESCE_NS) {
		refuse(ST_UNAVAILABLE,
		       "work still in flight after %lld s (%u runc jobs, %u parked calls, "
		       "%u calls, %s, %s)",
		       QUIESCE_NS / 1000000000LL, jobs, parked, calls,
		       io ? "output draining" : "no output draining",
		       ev ? "an event unanswered" : "no event in flight");
		return;
	}
	loop_timer_set(&up.timer, loop_now_ns() + POLL_NS, on_poll, NULL);
}

COLD void upgrade_begin(struct call *c, int dry_run)
{
	if (!up.active)
		exe_path();
	const char *why = up.active	       ? "an upgrade is under way already"
			  : *exiting	       ? "the shim is shutting down"
			  : !exe || !exe[0]    ? "the binary's path is not known"
					       : NULL;
	if (why) {
		log_warn("upgrade refused: %s", why);
		if (c)
			ttrpc_reply_error(c, ST_FAILED_PRECONDITION, "%s", why);
		return;
	}
	memset(&up.caller, 0, sizeof(up.caller));
	up.active = 1;
	up.dry_run = dry_run;
	up.began = loop_now_ns();
	up.has_caller = c != NULL;
	if (c)
		ttrpc_detach(c, &up.caller);
	ttrpc_hold(1);
	events_hold(1);
	on_poll(NULL);
}

COLD static void upgrade_call(struct call *c)
{
	containerd_shim_runc_c_v1_UpgradeRequest *req = ttrpc_decode(
		c, containerd_shim_runc_c_v1_UpgradeRequest_fields, sizeof(*req));
	if (req)
		upgrade_begin(c, req->dry_run);
}

static const struct ttrpc_method methods[] = {
	{ "Upgrade", upgrade_call },
	{ NULL, NULL },
};

int upgrade_register(void)
{
	return ttrpc_register(UPGRADE_SERVICE, methods);
}

/* ---- the new image ---- */

COLD int upgrade_check(int fd)
{
	size_t len = 0;
	const uint8_t *buf = map_fd(fd, &len);
	struct taken t;
	const char *why = buf ? state_read(buf, len, 0, &t) : "no state on stdin";
#ifdef UPGRADE_CHECK_CRASH
	/* tests: a binary that dies while it reads the state */
	raise(SIGSEGV);
#endif
	if (why) {
		printf("%s\n", why);
		return 3;
	}
	printf("ok %s\n", SHIM_VERSION);
	return 0;
}

COLD int upgrade_resume(int fd)
{
	size_t len = 0;
	const uint8_t *buf = map_fd(fd, &len);
	struct taken t;
	memset(&t, 0, sizeof(t));
	const char *why = buf ? state_read(buf, len, 1, &t) : "no state";
	if (buf)
		munmap((void *)buf, len);
	close(fd);
	if (why) {
		log_error("upgrade: the state could not be taken: %s", why);
		return -EINVAL;
	}
	/* the fds carried are ours again: close-on-exec, as every fd of ours
	 * (one call; a kernel before 5.11 has no close_range: one by one) */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		for (int f = 3; f < loop_fd_limit(); f++)
			fcntl(f, F_SETFD, FD_CLOEXEC);
	ttrpc_resume();
	task_upgrade_resume();
	copy_resume();
	io_resume();
	events_resume();
	log_info("upgrade: %s -> %s done, %u containers, %lld us", t.old_version,
		 SHIM_VERSION, container_count(), (long long)((loop_now_ns() - t.began) / 1000));
	if (t.has_caller) {
		up.has_caller = 1;
		up.caller = t.caller;
		up.began = t.began;
		answer(0, NULL, t.old_version, SHIM_VERSION);
	}
	ttrpc_flush_pending(); /* the loop has not run a batch yet */
	return 0;
}
