/*
 * procio.h - a process's stdio: pipes between runc and the FIFOs (or files,
 * or a binary:// logger) that containerd names, copied by the loop
 * (copy.c).  Terminals: console.h.
 *
 * Like the Go shim, the container gets anonymous pipes, not the FIFOs: the
 * shim holds the FIFOs, so the container's IO survives containerd going
 * away.  Output FIFOs are opened read-write (the open never blocks and the
 * writer survives the reader leaving).  The stdin FIFO gets a reader for
 * the copy and a held writer, closed by CloseIO, so that the container sees
 * EOF only once the client has closed stdin *and* asked for it.
 *
 *   struct pio io;
 *   io_open(&io, &cfg);          // pipes + FIFOs, copies armed
 *   fds = io.child;                 // give these to runc
 *   io_child_close(&io);         // after runc has been spawned
 *   ...
 *   io_close(&io);               // drain what is left, close all
 *
 * A binary:// stdout starts the logger program with the container's stdout
 * and stderr pipes as fds 3 and 4 and a ready pipe as fd 5, as the Go shim
 * does; Create waits (io_logger_wait, through the loop) until it writes a
 * byte there or closes it.  binary-v2:// (containerd 2.2+) is the same but
 * for readiness: the byte is required, and EOF alone is a failed logger.
 *
 * binary:// loggers get /dev/null as fds 0-2 and nothing else but 3-5.
 */
#ifndef PROCIO_H
#define PROCIO_H
#include <sys/types.h>

struct copy;

struct io_cfg {
	const char *in, *out, *err; /* FIFO paths or URIs; "" = none */
	uid_t uid;
	gid_t gid;
	const char *id, *ns; /* for a binary:// logger's environment */
};

struct pio {
	int child[3];	  /* ends for runc; -1 means /dev/null */
	int console;	  /* pty master (terminal processes), or -1 */
	int console_sock; /* listening --console-socket while runc runs */
	pid_t logger;	  /* binary:// logger process, or 0 */
	int logger_ready; /* our end of its ready pipe, or -1 */
	char console_dir[62];
	unsigned char logger_strict; /* binary-v2://: ready needs a byte */
	unsigned char logger_failed; /* it ended without signalling ready */
	int stdin_hold;		     /* our writer on the stdin FIFO */
	struct copy *cp[3];
	void (*on_drained)(void *ctx); /* all output copied (EOF) */
	void *ctx;
	void (*on_ready)(void *ctx); /* the logger signalled it is ready */
	void *ready_ctx;
	void (*on_stdin_end)(struct pio *io); /* the stdin copy ended (console.c) */
};

int io_open(struct pio *io, const struct io_cfg *cfg);
void io_child_close(struct pio *io);
void io_close_stdin(struct pio *io);
/* 1 while stdout/stderr copies are still running. */
int io_busy(const struct pio *io);
/* 1 if pid was io's binary:// logger (now reaped). */
int io_logger_reaped(struct pio *io, pid_t pid);
/* A binary:// logger is ready once it closes (or writes to) fd 5, as the
 * Go shim waits for it: 0 if there is nothing to wait for, 1 if ready(ctx)
 * will run once it is (or has exited). */
int io_logger_wait(struct pio *io, void (*ready)(void *ctx), void *ctx);
/* 1 if pid was a logger being stopped after its process went (SIGTERM,
 * then SIGKILL after 12 s, as the Go shim does); now reaped. */
int io_reaped(pid_t pid);
void io_close(struct pio *io);
void io_init(struct pio *io);

/* For console.c: the pieces a terminal's stdio is made of.  io_copy()
 * starts a copy in slot (closing src and dst if it cannot; err is the
 * error to return when one of them is missing). */
int io_copy(struct pio *io, int slot, int src, int dst, int err);
int io_open_stdin(struct pio *io, const char *uri);
int io_open_output(const char *uri);
int io_logger_start(struct pio *io, const struct io_cfg *cfg);
/* The length of a logger URI's scheme ("binary://", "binary-v2://"), or
 * 0 for another kind of stdout. */
int io_logger_scheme(const char *uri);
void io_console_sock_close(struct pio *io);

#endif
