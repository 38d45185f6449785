/*
 * procio.c - a process's stdio: the pipes between runc and the FIFOs,
 * files and binary:// loggers that containerd names, with a copy (copy.c)
 * for each direction.
 *
 * Layer: runtime (README, "Architecture").
 */
#include "pages.h"
#include "cold.h"
#include "procio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include "capacity.h"
#include "copy.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"
#include "state.h"

#define LOGGER_KILL_S 12 /* SIGTERM, then SIGKILL this much later */

/* Loggers told to stop, until they are reaped. */
static struct dying {
	pid_t pid;
	int64_t kill_at;
} dying[LIM_PROCS] PAGE_ALIGNED;
static int ndying;
static struct loop_timer dying_timer;

void io_init(struct proc_io *io)
{
	memset(io, 0, sizeof(*io));
	io->child[0] = io->child[1] = io->child[2] = -1;
	io->stdin_hold = -1;
	io->console = io->console_sock = -1;
	io->logger_ready = -1;
	for (int i = 0; i < 3; i++)
		io->held[i][0] = io->held[i][1] = -1;
}

static void watch_soon(void);

static void copy_ended(void *ctx, int slot)
{
	struct proc_io *io = ctx;
	io->cp[slot] = NULL;
	if (slot == 0 && io->on_stdin_end)
		io->on_stdin_end(io);
	if (io->watching)
		watch_soon(); /* not from inside the copy engine */
}

int io_copy(struct proc_io *io, int slot, int src, int dst, int err)
{
	int r = err;
	if (src >= 0 && dst >= 0) {
		/* output copies read a pipe of ours, which may grow */
		io->cp[slot] = copy_start(src, dst, copy_ended, io, slot,
					  slot > 0 ? COPY_GROW_SRC : 0, &r);
		if (io->cp[slot])
			return 0;
	}
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return r < 0 ? r : -EBADF;
}

/* Strip a fifo:// scheme; file:// gives a regular file. */
static const char *io_path(const char *uri, int *is_file)
{
	*is_file = 0;
	if (strncmp(uri, "fifo://", 7) == 0)
		return uri + 7;
	if (strncmp(uri, "file://", 7) == 0) {
		*is_file = 1;
		return uri + 7;
	}
	return uri;
}

/* mkdir -p of the folder that holds path (0755, as the Go shim makes
 * those of a file:// log). */
static void make_parents(const char *path)
{
	char d[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(d))
		return;
	memcpy(d, path, n + 1);
	for (char *s = d + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(d, 0755);
			*s = '/';
		}
}

int io_open_output(const char *uri)
{
	int is_file;
	const char *p = io_path(uri, &is_file);
	struct stat st;
	/* A FIFO is opened read-write: the open never blocks, and the writer
	 * survives its reader going away.  Anything else is appended to; no
	 * open here may wait for a peer. */
	if (stat(p, &st) == 0 && S_ISFIFO(st.st_mode))
		return open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (is_file)
		make_parents(p);
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
}

/* Open the stdin FIFO for reading, and our held writer on it. */
int io_open_stdin(struct proc_io *io, const char *uri)
{
	int is_file;
	const char *path = io_path(uri, &is_file);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		io->stdin_hold = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	return fd;
}

/* URL-decode s[0..n) into out; '+' is a space in a query. */
static void url_decode(const char *s, size_t n, char *out, int query)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && json_hex_digit(s[i + 1]) >= 0 &&
		    json_hex_digit(s[i + 2]) >= 0) {
			out[o++] = (char)(json_hex_digit(s[i + 1]) << 4 |
					  json_hex_digit(s[i + 2]));
			i += 2;
		} else {
			out[o++] = query && s[i] == '+' ? ' ' : s[i];
		}
	}
	out[o] = 0;
}

#define LOGGER_MAX_ARGS 32

int io_logger_scheme(const char *uri)
{
	if (!uri)
		return 0;
	if (!strncmp(uri, "binary://", 9))
		return 9;
	if (!strncmp(uri, "binary-v2://", 12))
		return 12;
	return 0;
}

/* A logger ended while its process's io owned it: never signal its pid
 * again (it may be reused). */
static void logger_reaped(void *ctx, pid_t pid, int status)
{
	struct proc_io *io = ctx;
	(void)status;
	if (io->logger == pid)
		io->logger = 0;
}

/* binary://PATH?k=v&k2 : run PATH k v k2 with the output pipes. */
int io_logger_start(struct proc_io *io, const struct io_cfg *cfg)
{
	int skip = io_logger_scheme(cfg->out);
	const char *uri = cfg->out + skip;
	io->logger_strict = skip == 12;
	size_t len = strlen(uri);
	char buf[len + 1];
	const char *q = strchr(uri, '?');
	size_t plen = q ? (size_t)(q - uri) : len;
	char path[PATH_MAX];
	if (plen == 0 || plen >= sizeof(path))
		return -EINVAL;
	url_decode(uri, plen, path, 0);
	char *argv[LOGGER_MAX_ARGS + 2];
	int argc = 0;
	argv[argc++] = path;
	if (q) {
		/* split the query in place in buf; each arg is decoded in place */
		memcpy(buf, q + 1, len - plen);
		char *save = NULL;
		for (char *kv = strtok_r(buf, "&", &save); kv && argc < LOGGER_MAX_ARGS;
		     kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (eq)
				*eq = 0;
			url_decode(kv, strlen(kv), kv, 1);
			argv[argc++] = kv;
			if (eq && eq[1]) {
				url_decode(eq + 1, strlen(eq + 1), eq + 1, 1);
				argv[argc++] = eq + 1;
			}
		}
	}
	argv[argc] = NULL;
	int out[2], err[2], ready[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return -e;
	}
	if (pipe2(ready, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		return -e;
	}
	/* its environment: ours (without NOTIFY_SOCKET) and the two names */
	extern char **environ;
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char *env[ne + 3];
	size_t k = 0;
	char idv[300], nsv[300];
	snprintf(idv, sizeof(idv), "CONTAINER_ID=%s", cfg->id ? cfg->id : "");
	snprintf(nsv, sizeof(nsv), "CONTAINER_NAMESPACE=%s", cfg->ns ? cfg->ns : "");
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) &&
		    strncmp(environ[i], "CONTAINER_ID=", 13) &&
		    strncmp(environ[i], "CONTAINER_NAMESPACE=", 20))
			env[k++] = environ[i];
	env[k++] = idv;
	env[k++] = nsv;
	env[k] = NULL;
	/* 0-2 on /dev/null, the pipes as 3, 4 and 5, nothing else */
	int fds[6] = { -1, -1, -1, out[0], err[0], ready[1] };
	const char *const *cargv = (const char *const *)argv;
	struct spawn_req sr = { .argv = cargv,
				.envp = env,
				.fds = fds,
				.nfds = 6,
				.on_exit = logger_reaped,
				.ctx = io };
	pid_t pid = spawn(&sr);
	int e = pid < 0 ? (int)-pid : 0;
	close(out[0]);
	close(err[0]);
	close(ready[1]);
	if (pid < 0) {
		close(out[1]);
		close(err[1]);
		close(ready[0]);
		log_warn("binary logger %s: %s", path, strerror(e));
		return -e;
	}
	io->logger = pid;
	io->logger_ready = ready[0];
	io->child[1] = out[1];
	io->child[2] = err[1];
	return 0;
}

int io_open(struct proc_io *io, const struct io_cfg *cfg)
{
	const char *paths[3] = { cfg->in, cfg->out, cfg->err };
	int r = 0;
	if (io_logger_scheme(cfg->out)) {
		if ((r = io_logger_start(io, cfg)) < 0)
			return r;
		paths[1] = paths[2] = NULL; /* the logger has them */
	}
	for (int i = 0; i < 3; i++) {
		if (!paths[i] || !paths[i][0])
			continue;
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = -errno;
			goto fail;
		}
		int ours = i == 0 ? p[1] : p[0];
		int theirs = i == 0 ? p[0] : p[1];
		io->child[i] = theirs;
		if ((cfg->uid || cfg->gid) && fchown(theirs, cfg->uid, cfg->gid) < 0)
			log_warn("chown stdio pipe: %s", strerror(errno));
		int ext = i == 0 ? io_open_stdin(io, paths[0]) : io_open_output(paths[i]);
		int err = ext < 0 ? -errno : 0;
		int src = i == 0 ? ext : ours, dst = i == 0 ? ours : ext;
		if (cfg->hold && ext >= 0) {
			io->held[i][0] = src;
			io->held[i][1] = dst;
			continue;
		}
		if ((r = io_copy(io, i, src, dst, err)) < 0)
			goto fail;
	}
	return 0;
fail:
	io_close(io);
	return r;
}

static void held_close(struct proc_io *io)
{
	for (int i = 0; i < 3; i++)
		for (int e = 0; e < 2; e++)
			if (io->held[i][e] >= 0) {
				close(io->held[i][e]);
				io->held[i][e] = -1;
			}
}

int io_release(struct proc_io *io)
{
	for (int i = 0; i < 3; i++) {
		int src = io->held[i][0], dst = io->held[i][1];
		if (src < 0)
			continue;
		io->held[i][0] = io->held[i][1] = -1;
		int r = io_copy(io, i, src, dst, -EBADF);
		if (r < 0) {
			held_close(io);
			return r;
		}
	}
	return 0;
}

void io_child_close(struct proc_io *io)
{
	for (int i = 0; i < 3; i++)
		if (io->child[i] >= 0) {
			close(io->child[i]);
			io->child[i] = -1;
		}
}

void io_close_stdin(struct proc_io *io)
{
	if (io->stdin_hold >= 0) {
		close(io->stdin_hold);
		io->stdin_hold = -1;
	}
}

#define LOGGER_KILL_NS ((int64_t)LOGGER_KILL_S * 1000000000LL)

static void on_dying_timer(void *ctx)
{
	(void)ctx;
	int64_t now = loop_now_ns(), next = 0;
	for (int i = 0; i < ndying; i++) {
		if (dying[i].kill_at && dying[i].kill_at <= now) {
			log_warn("binary logger %d still there %d s after SIGTERM: "
				 "SIGKILL",
				 dying[i].pid, LOGGER_KILL_S);
			kill(dying[i].pid, SIGKILL);
			dying[i].kill_at = 0; /* reaped later */
		}
		if (dying[i].kill_at && (!next || dying[i].kill_at < next))
			next = dying[i].kill_at;
	}
	if (next)
		loop_timer_set(&dying_timer, next, on_dying_timer, NULL);
}

/* A logger told to stop has ended. */
static void dying_reaped(void *ctx, pid_t pid, int status)
{
	(void)ctx;
	(void)status;
	for (int i = 0; i < ndying; i++)
		if (dying[i].pid == pid) {
			dying[i] = dying[--ndying];
			return;
		}
}

/* Its process's io is closing: the logger is followed from here until it
 * ends, SIGTERM now and SIGKILL later. */
static void logger_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	if (ndying == LIM_PROCS || spawn_rebind(pid, dying_reaped, NULL) < 0)
		return; /* cannot follow it (or already gone): SIGTERM only */
	dying[ndying].pid = pid;
	dying[ndying].kill_at = loop_now_ns() + LOGGER_KILL_NS;
	ndying++;
	if (!dying_timer.at)
		loop_timer_set(&dying_timer, dying[ndying - 1].kill_at, on_dying_timer, NULL);
}


static void on_logger_ready(int fd, uint32_t ev, void *data)
{
	struct proc_io *io = data;
	char b[64];
	ssize_t n = read(fd, b, sizeof(b));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* a byte, or EOF (fd 5 closed, or the logger gone): ready; but a
	 * binary-v2:// logger must write the byte (containerd 2.2+), so EOF
	 * alone means it failed */
	if (n <= 0 && io->logger_strict)
		io->logger_failed = 1;
	loop_del(fd);
	close(fd);
	io->logger_ready = -1;
	void (*fn)(void *) = io->on_ready;
	io->on_ready = NULL;
	if (fn)
		fn(io->ready_ctx);
}

int io_logger_wait(struct proc_io *io, void (*ready)(void *ctx), void *ctx)
{
	if (io->logger_ready < 0)
		return 0;
	fcntl(io->logger_ready, F_SETFL, O_NONBLOCK);
	if (loop_add(io->logger_ready, EPOLLIN, on_logger_ready, io) < 0)
		return 0; /* cannot wait: go on, as before */
	io->on_ready = ready;
	io->ready_ctx = ctx;
	return 1;
}

/* ---- io_watch: the output reaching its readers ---- */

static struct proc_io *watch_head;
static struct loop_timer watch_timer;
static int64_t watch_period;
#define WATCH_FIRST_NS 1000000LL  /* 1 ms, doubling while nothing moves */
#define WATCH_MAX_NS   64000000LL /* ... up to this */
#define LOGGER_WAIT_NS (10LL * 1000000000LL)

/* Bytes a binary:// logger has not read from its pipes (its fds 3 and 4,
 * reached through /proc: the shim keeps no end of them, so that the
 * container sees EPIPE if the logger dies, as with the Go shim). */
static uint64_t logger_unread(pid_t pid)
{
	uint64_t sum = 0;
	for (int fd = 3; fd <= 4; fd++) {
		char path[48];
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (f < 0)
			continue;
		struct stat st;
		int n = 0;
		if (fstat(f, &st) == 0 && S_ISFIFO(st.st_mode) &&
		    ioctl(f, FIONREAD, &n) == 0 && n > 0)
			sum += (uint64_t)n;
		close(f);
	}
	return sum;
}

/* 1 if the readers have it all; *progress changes whenever bytes move. */
static int watch_done(struct proc_io *io, int64_t now, uint64_t *progress)
{
	int done = 1;
	*progress = 0;
	for (int i = 1; i < 3; i++) {
		uint64_t mark, given;
		if (!io->cp[i])
			continue; /* ended: EOF, and the FIFO emptied (copy.h) */
		int exact = copy_counts(io->cp[i], &mark, &given);
		*progress += mark + given;
		if (exact && !(io->watch_exact & 1 << i)) {
			/* a pty with nothing left to read: what it held when the
			 * watch began has been read, and the bound comes down */
			io->watch_exact |= (unsigned char)(1 << i);
			if (mark < io->watch_mark[i])
				io->watch_mark[i] = mark;
		}
		if (given < io->watch_mark[i])
			done = 0;
	}
	if (io->logger > 0 && now - io->watch_began < LOGGER_WAIT_NS) {
		uint64_t left = logger_unread(io->logger);
		*progress += left;
		if (left)
			done = 0;
	}
	return done;
}

static void watch_unlink(struct proc_io *io)
{
	for (struct proc_io **pp = &watch_head; *pp; pp = &(*pp)->watch_next)
		if (*pp == io) {
			*pp = io->watch_next;
			break;
		}
	io->watching = 0;
	io->watch_next = NULL;
	if (!watch_head)
		loop_timer_cancel(&watch_timer);
}

static void on_watch_timer(void *ctx)
{
	int64_t now = loop_now_ns();
	int moved = 0;
	/* one callback per pass: it may close any process's io */
	for (struct proc_io *io = watch_head, *next; io; io = next) {
		next = io->watch_next;
		uint64_t progress;
		int done = watch_done(io, now, &progress);
		if (progress != io->watch_seen) {
			io->watch_seen = progress;
			io->watch_since = now;
			moved = 1;
		}
		int stalled = !done && now - io->watch_since >= io->watch_stall;
		if (!done && !stalled)
			continue;
		void (*fn)(void *, int) = io->watch_fn;
		void *ctx2 = io->watch_ctx;
		watch_unlink(io);
		fn(ctx2, stalled);
		watch_soon();
		return;
	}
	if (!watch_head)
		return;
	watch_period = moved ? WATCH_FIRST_NS
			     : (watch_period * 2 > WATCH_MAX_NS ? WATCH_MAX_NS
								: watch_period * 2);
	loop_timer_set(&watch_timer, now + watch_period, on_watch_timer, NULL);
}

static void watch_soon(void)
{
	if (!watch_head)
		return;
	watch_period = WATCH_FIRST_NS;
	loop_timer_set(&watch_timer, loop_now_ns(), on_watch_timer, NULL);
}

int io_watch(struct proc_io *io, int64_t stall_ns, void (*fn)(void *ctx, int stalled),
	     void *ctx)
{
	if (io->watching)
		return 1; /* already waiting (for the same thing) */
	int64_t now = loop_now_ns();
	io->watch_exact = 0;
	for (int i = 1; i < 3; i++) {
		uint64_t given;
		io->watch_mark[i] = 0;
		if (io->cp[i] && copy_counts(io->cp[i], &io->watch_mark[i], &given))
			io->watch_exact |= (unsigned char)(1 << i);
	}
	io->watch_began = io->watch_since = now;
	if (watch_done(io, now, &io->watch_seen))
		return 0;
	io->watch_fn = fn;
	io->watch_ctx = ctx;
	io->watch_stall = stall_ns;
	io->watching = 1;
	io->watch_next = watch_head;
	watch_head = io;
	watch_period = WATCH_FIRST_NS;
	loop_timer_set(&watch_timer, now + watch_period, on_watch_timer, NULL);
	return 1;
}

void io_console_sock_close(struct proc_io *io)
{
	if (io->console_sock >= 0) {
		close(io->console_sock);
		io->console_sock = -1;
	}
	if (io->console_dir[0]) {
		char p[96];
		snprintf(p, sizeof(p), "%s/pty.sock", io->console_dir);
		unlink(p);
		rmdir(io->console_dir);
		io->console_dir[0] = 0;
	}
}

size_t io_close(struct proc_io *io)
{
	size_t dropped = 0;
	if (io->watching)
		watch_unlink(io);
	io->on_stdin_end = NULL;
	io_console_sock_close(io);
	io_child_close(io);
	io_close_stdin(io);
	held_close(io); /* a failed restore: runc's words, nobody's output */
	for (int i = 0; i < 3; i++) {
		struct copy *c = io->cp[i];
		if (!c)
			continue;
		io->cp[i] = NULL;
		/* Output still in the pipe is moved before closing. */
		if (i > 0)
			dropped += copy_finish(c);
		else
			copy_stop(c);
	}
	if (io->console >= 0) {
		close(io->console);
		io->console = -1;
	}
	io->on_ready = NULL;
	if (io->logger_ready >= 0) {
		loop_del(io->logger_ready);
		close(io->logger_ready);
		io->logger_ready = -1;
	}
	if (io->logger > 0) {
		/* as the Go shim does once the process is gone */
		logger_stop(io->logger);
		io->logger = 0;
	}
	return dropped;
}

/* ---- an upgrade in place ---- */

COLD int io_busy(void)
{
	return watch_head != NULL;
}

COLD void io_save(struct st_w *w, const struct proc_io *io)
{
	st_tag(w, "PIO ");
	for (int i = 0; i < 3; i++)
		st_fd(w, io->child[i]);
	st_fd(w, io->console);
	st_fd(w, io->stdin_hold);
	st_u64(w, (uint64_t)io->logger);
	st_str(w, io->console_dir);
	st_u64(w, (uint64_t)io->logger_strict | (uint64_t)io->logger_failed << 1 |
			  (uint64_t)(io->on_stdin_end != NULL) << 2);
	for (int i = 0; i < 3; i++)
		st_u64(w, io->cp[i] ? (uint64_t)copy_index(io->cp[i]) + 1 : 0);
}

COLD int io_load(struct st_r *r, struct proc_io *io, void (*stdin_end)(struct proc_io *io))
{
	io_init(io);
	if (!st_want(r, "PIO "))
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		io->child[i] = st_get_fd(r);
	io->console = st_get_fd(r);
	io->stdin_hold = st_get_fd(r);
	io->logger = (pid_t)st_get_max(r, 0x7fffffff, "bad logger pid");
	snprintf(io->console_dir, sizeof(io->console_dir), "%s", st_get_str(r));
	uint64_t f = st_get(r);
	io->logger_strict = f & 1;
	io->logger_failed = (f >> 1) & 1;
	if (f & 4)
		io->on_stdin_end = stdin_end;
	for (int i = 0; i < 3; i++) {
		int k = (int)st_get_max(r, LIM_COPIERS, "bad copy index") - 1;
		if (k >= 0 && !(io->cp[i] = copy_at(k, copy_ended, io)))
			st_fail(r, "a process's copy is not there");
	}
	if (!r->err && io->logger > 0 && spawn_follow(io->logger, logger_reaped, io) < 0)
		st_fail(r, "no room to follow a logger");
	return r->err ? -EINVAL : 0;
}

COLD void io_save_dying(struct st_w *w)
{
	st_tag(w, "DYIN");
	st_u64(w, (uint64_t)ndying);
	for (int i = 0; i < ndying; i++) {
		st_u64(w, (uint64_t)dying[i].pid);
		st_u64(w, (uint64_t)dying[i].kill_at);
	}
}

COLD int io_load_dying(struct st_r *r)
{
	if (!st_want(r, "DYIN"))
		return -EINVAL;
	int n = (int)st_get_max(r, LIM_PROCS, "too many loggers stopping");
	for (int i = 0; i < n && !r->err; i++) {
		dying[i].pid = (pid_t)st_get_max(r, 0x7fffffff, "bad logger pid");
		dying[i].kill_at = (int64_t)st_get(r);
		if (spawn_follow(dying[i].pid, dying_reaped, NULL) < 0)
			st_fail(r, "no room to follow a logger");
	}
	ndying = r->err ? 0 : n;
	return r->err ? -EINVAL : 0;
}

COLD void io_resume(void)
{
	if (ndying)
		on_dying_timer(NULL);
}
