/*
 * console.c - terminal processes: the socket runc sends the pty master
 * to, and the copies between the master and the process's stdio.
 *
 * Layer: runtime (README, "Architecture").
 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

int io_console_prepare(struct proc_io *io, char *path, size_t cap)
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

/*
 * The client's stdin has ended (closed, and CloseIO asked for): the Go
 * shim then closes the console, which hangs the terminal up, so the
 * shell reading it sees EOF (and its session SIGHUP) and exits.  Here the
 * terminal side is hung up (vhangup through the master's peer) and the
 * master stays open, so what is in its line discipline (4 KiB at most)
 * still drains.  The hangup throws away the rest of what waits in the
 * pty, as the Go shim's close does: the input the process has not read,
 * and output behind the line discipline (pty_flush_buffer on the slave
 * empties the master's buffer).  Waiting for quiet first does not help a
 * shell: it reads the line, and the hangup comes before it runs it.
 */
void console_stdin_ended(struct proc_io *io)
{
	if (io->console < 0)
		return;
	int slave = ioctl(io->console, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || ioctl(slave, TIOCVHANGUP) < 0)
		log_warn("terminal stdin ended, hangup failed: %s", strerror(errno));
	if (slave >= 0)
		close(slave);
}

int io_console_attach(struct proc_io *io, const struct io_cfg *cfg)
{
	int master = io->console_sock >= 0 ? console_receive(io->console_sock) : -EBADF;
	io_console_sock_close(io);
	if (master < 0)
		return master;
	fcntl(master, F_SETFL, O_RDWR | O_NONBLOCK);
	io->console = master;
	int r = 0;
	if (cfg->in && cfg->in[0]) {
		int in = io_open_stdin(io, cfg->in);
		int w = in >= 0 ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
		if ((r = io_copy(io, 0, in, w, -errno)) < 0)
			return r;
		io->on_stdin_end = console_stdin_ended;
	}
	if (io_logger_scheme(cfg->out)) {
		/* the pty's output goes into the logger's stdout pipe */
		if ((r = io_logger_start(io, cfg)) < 0)
			return r;
		int out = io->child[1], rd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		io->child[1] = -1;
		close(io->child[2]);
		io->child[2] = -1;
		if ((r = io_copy(io, 1, rd, out, -errno)) < 0)
			return r;
	} else if (cfg->out && cfg->out[0]) {
		int out = io_open_output(cfg->out);
		int rd = out >= 0 ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
		if ((r = io_copy(io, 1, rd, out, -errno)) < 0)
			return r;
	}
	return 0;
}

int io_resize(struct proc_io *io, unsigned width, unsigned height)
{
	if (io->console < 0)
		return 0;
	struct winsize ws = { .ws_row = (unsigned short)height,
			      .ws_col = (unsigned short)width };
	return ioctl(io->console, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}
