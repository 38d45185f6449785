/*
 * iocopy.c - copying between pipes and FIFOs with splice(2).
 *
 * Pipe to FIFO and FIFO to pipe are both pipe-to-pipe splices, so the data
 * never passes through shim memory.  A copier waits on its source until it
 * is readable; when the destination is full (EAGAIN after a readable
 * source) it waits on the destination instead, then goes back.  A
 * destination that splice refuses (a regular file opened O_APPEND) falls
 * back to read/write through a small buffer.
 */
#include "iocopy.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "json.h"
#include "capacity.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"

#define SPLICE_CHUNK (64 * 1024)
#define BUF_SIZE     4096

struct copier {
	int used;
	int src, dst;
	int dst_pollable; /* regular files cannot be in epoll */
	int waiting_dst;
	int buffered; /* splice refused: read/write */
	char *buf;
	size_t len, off;
	struct pio *io;
	int slot; /* index in io->cp */
	int next_free;
};

/* Handed out lazily (untouched slots cost nothing), reused from a free
 * list. */
static struct copier copiers[LIM_COPIERS];
static int copiers_high, copiers_free = -1;

void io_init(struct pio *io)
{
	memset(io, 0, sizeof(*io));
	io->child[0] = io->child[1] = io->child[2] = -1;
	io->stdin_hold = -1;
	io->console = io->console_sock = -1;
	io->logger_ready = -1;
}

static void on_src(int fd, uint32_t ev, void *data);
static void on_dst(int fd, uint32_t ev, void *data);

static void copier_end(struct copier *c)
{
	struct pio *io = c->io;
	loop_del(c->src);
	if (c->waiting_dst)
		loop_del(c->dst);
	close(c->src);
	close(c->dst);
	if (c->buf)
		munmap(c->buf, BUF_SIZE);
	io->cp[c->slot] = NULL;
	memset(c, 0, sizeof(*c));
	c->next_free = copiers_free;
	copiers_free = (int)(c - copiers);
	if (io->on_drained && !io_busy(io))
		io->on_drained(io->ctx);
}

static void wait_dst(struct copier *c)
{
	loop_del(c->src);
	c->waiting_dst = 1;
	if (loop_add(c->dst, EPOLLOUT, on_dst, c) < 0)
		copier_end(c);
}

static void wait_src(struct copier *c)
{
	if (c->waiting_dst)
		loop_del(c->dst);
	c->waiting_dst = 0;
	if (loop_add(c->src, EPOLLIN, on_src, c) < 0)
		copier_end(c);
}

/* Move what is available; returns 1 if the copier ended. */
static int pump(struct copier *c, int drain_only)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n;
		if (!c->buffered) {
			n = splice(c->src, NULL, c->dst, NULL, SPLICE_CHUNK,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n < 0 && errno == EINVAL) {
				c->buffered = 1;
				c->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (c->buf == MAP_FAILED) {
					c->buf = NULL;
					copier_end(c);
					return 1;
				}
				continue;
			}
		} else {
			if (c->off < c->len) {
				n = write(c->dst, c->buf + c->off, c->len - c->off);
				if (n > 0) {
					c->off += (size_t)n;
					continue;
				}
			} else {
				c->off = c->len = 0;
				n = read(c->src, c->buf, BUF_SIZE);
				if (n > 0) {
					c->len = (size_t)n;
					continue;
				}
			}
		}
		if (n > 0)
			continue;
		if (n == 0 && (!c->buffered || c->len == 0)) {
			copier_end(c);
			return 1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EIO) {
			/* a pty master whose slave side is closed: the end */
			copier_end(c);
			return 1;
		}
		if (n < 0 && errno == EAGAIN) {
			if (drain_only)
				return 0;
			return -1; /* caller decides which side to wait on */
		}
		if (n < 0 && errno == EPIPE) {
			/* The reader is gone: drop data until the source ends. */
			char sink[512];
			ssize_t r = read(c->src, sink, sizeof(sink));
			if (r == 0) {
				copier_end(c);
				return 1;
			}
			if (r > 0)
				continue;
			return 0;
		}
		log_warn("copy: %s", strerror(errno));
		copier_end(c);
		return 1;
	}
	return 0;
}

static void on_src(int fd, uint32_t ev, void *data)
{
	(void)fd;
	(void)ev;
	struct copier *c = data;
	int r = pump(c, 0);
	if (r < 0 && c->dst_pollable) {
		/* EAGAIN: either the source is drained (the usual case) or the
		 * destination is full; only the latter is worth waiting on. */
		if (c->buffered && c->off >= c->len)
			return;
		int avail = 0;
		if (!c->buffered && ioctl(c->src, FIONREAD, &avail) == 0 && avail == 0)
			return;
		wait_dst(c);
	}
}

static void on_dst(int fd, uint32_t ev, void *data)
{
	(void)fd;
	(void)ev;
	struct copier *c = data;
	int r = pump(c, 0);
	if (r < 0 && !(c->buffered && c->off < c->len))
		wait_src(c); /* the destination had room: the source is empty */
}

static int copier_start(struct pio *io, int slot, int src, int dst)
{
	struct copier *c;
	if (copiers_free >= 0) {
		c = &copiers[copiers_free];
		copiers_free = c->next_free;
	} else if (copiers_high < LIM_COPIERS) {
		c = &copiers[copiers_high++];
	} else {
		log_warn("open stdio: all %d copiers in use", LIM_COPIERS);
		return -ENOSPC;
	}
	struct stat st;
	c->used = 1;
	c->src = src;
	c->dst = dst;
	c->dst_pollable = fstat(dst, &st) == 0 && !S_ISREG(st.st_mode);
	c->io = io;
	c->slot = slot;
	io->cp[slot] = c;
	if (loop_add(src, EPOLLIN, on_src, c) < 0) {
		io->cp[slot] = NULL;
		memset(c, 0, sizeof(*c));
		c->next_free = copiers_free;
		copiers_free = (int)(c - copiers);
		return -EMFILE;
	}
	return 0;
}

/* Start a copy src -> dst in slot; if either fd is missing (< 0, with err
 * saying why) or the copy cannot start, close whichever fds are open. */
static int copier_start_or_close(struct pio *io, int slot, int src, int dst, int err)
{
	int r = src < 0 || dst < 0 ? err : copier_start(io, slot, src, dst);
	if (r < 0) {
		if (src >= 0)
			close(src);
		if (dst >= 0)
			close(dst);
	}
	return r;
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

static int open_output(const char *uri)
{
	int is_file;
	const char *p = io_path(uri, &is_file);
	struct stat st;
	/* A FIFO is opened read-write: the open never blocks, and the writer
	 * survives its reader going away.  Anything else is appended to; no
	 * open here may wait for a peer. */
	if (stat(p, &st) == 0 && S_ISFIFO(st.st_mode))
		return open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
}

/* Open the stdin FIFO for reading, and our held writer on it. */
static int open_stdin(struct pio *io, const char *uri)
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

/* binary://PATH?k=v&k2 : run PATH k v k2 with the output pipes. */
static int io_binary(struct pio *io, const struct io_cfg *cfg)
{
	const char *uri = cfg->out + 9;
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
	struct spawn_req sr = { .argv = cargv, .envp = env, .fds = fds, .nfds = 6 };
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

int io_open(struct pio *io, const struct io_cfg *cfg)
{
	const char *paths[3] = { cfg->in, cfg->out, cfg->err };
	int r = 0;
	if (cfg->out && strncmp(cfg->out, "binary://", 9) == 0) {
		if ((r = io_binary(io, cfg)) < 0)
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
		fcntl(ours, F_SETFL, O_NONBLOCK);
		int ext = i == 0 ? open_stdin(io, paths[0]) : open_output(paths[i]);
		r = i == 0 ? copier_start_or_close(io, i, ext, ours, -errno)
			   : copier_start_or_close(io, i, ours, ext, -errno);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	io_close(io);
	return r;
}

void io_child_close(struct pio *io)
{
	for (int i = 0; i < 3; i++)
		if (io->child[i] >= 0) {
			close(io->child[i]);
			io->child[i] = -1;
		}
}

void io_close_stdin(struct pio *io)
{
	if (io->stdin_hold >= 0) {
		close(io->stdin_hold);
		io->stdin_hold = -1;
	}
}

int io_logger_reaped(struct pio *io, pid_t pid)
{
	if (!io->logger || io->logger != pid)
		return 0;
	io->logger = 0; /* never signal a reused pid */
	return 1;
}

int io_busy(const struct pio *io)
{
	return io->cp[1] != NULL || io->cp[2] != NULL;
}

int io_console_prepare(struct pio *io, char *path, size_t cap)
{
	const char *tmp = getenv("XDG_RUNTIME_DIR");
	snprintf(io->console_dir, sizeof(io->console_dir), "%s/pty-XXXXXX",
		 tmp && tmp[0] && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(io->console_dir)) {
		io->console_dir[0] = 0;
		return -errno;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/pty.sock", io->console_dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	io->console_sock = fd;
	snprintf(path, cap, "%s", sa.sun_path);
	return 0;
}

static void console_sock_close(struct pio *io)
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

/* Receive the one fd runc sends over the console socket. */
static int console_receive(int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return -errno;
	char name[256];
	struct iovec iov = { name, sizeof(name) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	close(c);
	struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
	    h->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof(fd));
	return fd;
}

int io_console_attach(struct pio *io, const struct io_cfg *cfg)
{
	int master = io->console_sock >= 0 ? console_receive(io->console_sock) : -EBADF;
	console_sock_close(io);
	if (master < 0)
		return master;
	fcntl(master, F_SETFL, O_RDWR | O_NONBLOCK);
	io->console = master;
	int r = 0;
	if (cfg->in && cfg->in[0]) {
		int in = open_stdin(io, cfg->in);
		int w = in >= 0 ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
		if ((r = copier_start_or_close(io, 0, in, w, -errno)) < 0)
			return r;
	}
	if (cfg->out && strncmp(cfg->out, "binary://", 9) == 0) {
		/* the pty's output goes into the logger's stdout pipe */
		if ((r = io_binary(io, cfg)) < 0)
			return r;
		int out = io->child[1], rd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		io->child[1] = -1;
		close(io->child[2]);
		io->child[2] = -1;
		if ((r = copier_start_or_close(io, 1, rd, out, -errno)) < 0)
			return r;
	} else if (cfg->out && cfg->out[0]) {
		int out = open_output(cfg->out);
		int rd = out >= 0 ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
		if ((r = copier_start_or_close(io, 1, rd, out, -errno)) < 0)
			return r;
	}
	return 0;
}

int io_resize(struct pio *io, unsigned width, unsigned height)
{
	if (io->console < 0)
		return 0;
	struct winsize ws = { .ws_row = (unsigned short)height,
			      .ws_col = (unsigned short)width };
	return ioctl(io->console, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

void io_close(struct pio *io)
{
	io->on_drained = NULL;
	console_sock_close(io);
	io_child_close(io);
	io_close_stdin(io);
	for (int i = 0; i < 3; i++) {
		struct copier *c = io->cp[i];
		if (!c)
			continue;
		/* Output still in the pipe is moved before closing. */
		if (i > 0 && pump(c, 1) == 1)
			continue;
		copier_end(c);
	}
	if (io->console >= 0) {
		close(io->console);
		io->console = -1;
	}
	if (io->logger_ready >= 0) {
		close(io->logger_ready);
		io->logger_ready = -1;
	}
	if (io->logger > 0) {
		/* as the Go shim does once the process is gone */
		kill(io->logger, SIGTERM);
		io->logger = 0;
	}
}
