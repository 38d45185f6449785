/*
 * procio.h - a process's stdio: pipes between runc and the FIFOs (or files,
 * or a binary:// logger) that containerd names, copied by the loop
 * (copy.c).  Terminals: console.h.
 *
 * Layer: runtime (README, "Architecture").
 *
 * Like the Go shim, the container gets anonymous pipes, not the FIFOs: the
 * shim holds the FIFOs, so the container's IO survives containerd going
 * away.  Output FIFOs are opened read-write (the open never blocks and the
 * writer survives the reader leaving).  The stdin FIFO gets a reader for
 * the copy and a held writer, closed by CloseIO, so that the container sees
 * EOF only once the client has closed stdin *and* asked for it.
 *
 *   struct proc_io io;
 *   io_open(&io, &cfg);          // pipes + FIFOs, copies armed
 *   fds = io.child;                 // give these to runc
 *   io_child_close(&io);         // after runc has been spawned
 *   ...
 *   io_watch(&io, stall, fn, ctx); // until the readers have it all
 *   io_close(&io);               // move what is left, close all
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
#include <stdint.h>
#include <sys/types.h>

struct copy;

struct io_cfg {
	const char *in, *out, *err; /* FIFO paths or URIs; "" = none */
	uid_t uid;
	gid_t gid;
	const char *id, *ns; /* for a binary:// logger's environment */
	int hold;	     /* copies wait for io_release() */
};

struct proc_io {
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
	int held[3][2]; /* io_cfg.hold: a copy's src and dst, not started */
	/* io_watch: one at a time */
	void (*watch_fn)(void *ctx, int stalled);
	void *watch_ctx;
	uint64_t watch_mark[3], watch_seen;
	unsigned char watch_exact; /* bit i: watch_mark[i] is exact, not a bound */
	int64_t watch_began, watch_since, watch_stall;
	struct proc_io *watch_next;
	unsigned char watching;
	void (*on_ready)(void *ctx); /* the logger signalled it is ready */
	void *ready_ctx;
	void (*on_stdin_end)(struct proc_io *io); /* the stdin copy ended (console.c) */
};

int io_open(struct proc_io *io, const struct io_cfg *cfg);
/* Start the copies io_open made held (io_cfg.hold): a restore, where
 * runc's own error must not reach the container's output, holds them until
 * runc has succeeded, as the Go shim starts its copies only then.  What
 * is in the pipes until then goes out first; io_close drops it. */
int io_release(struct proc_io *io);
void io_child_close(struct proc_io *io);
void io_close_stdin(struct proc_io *io);
/*
 * Everything the process has written so far reaching its reader: the
 * output copies have put it into the FIFOs (or files) and the readers
 * have taken it from there, and a binary:// logger has read its pipes.
 * fn(ctx, 0) runs once that holds, or fn(ctx, 1) once the readers have
 * taken nothing for stall_ns (a reader that does not read: the copies go
 * on, nothing is dropped).  Returns 0 if it holds now (fn is not called),
 * 1 if fn will run (from the loop, never from inside this call).  One
 * watch at a time per process; io_close cancels it.
 *
 * The exit of a process waits for this (IO_EXIT_STALL_NS), so a client
 * that closes its FIFOs as soon as it sees the exit (containerd 1.6 and
 * 1.7 do) has had every byte; a Delete waits for it again
 * (IO_DELETE_STALL_NS) before the copies are closed.
 */
#define IO_EXIT_STALL_NS   (2LL * 1000000000LL)
#define IO_DELETE_STALL_NS (10LL * 1000000000LL)
int io_watch(struct proc_io *io, int64_t stall_ns, void (*fn)(void *ctx, int stalled),
	     void *ctx);
/* A binary:// logger is ready once it closes (or writes to) fd 5, as the
 * Go shim waits for it: 0 if there is nothing to wait for, 1 if ready(ctx)
 * will run once it is (or has exited). */
int io_logger_wait(struct proc_io *io, void (*ready)(void *ctx), void *ctx);
/* Close it all; returns the bytes of output dropped (not yet copied). */
size_t io_close(struct proc_io *io);
void io_init(struct proc_io *io);

/* For console.c: the pieces a terminal's stdio is made of.  io_copy()
 * starts a copy in slot (closing src and dst if it cannot; err is the
 * error to return when one of them is missing). */
int io_copy(struct proc_io *io, int slot, int src, int dst, int err);
int io_open_stdin(struct proc_io *io, const char *uri);
int io_open_output(const char *uri);
int io_logger_start(struct proc_io *io, const struct io_cfg *cfg);
/* The length of a logger URI's scheme ("binary://", "binary-v2://"), or
 * 0 for another kind of stdout. */
int io_logger_scheme(const char *uri);
void io_console_sock_close(struct proc_io *io);

/* An upgrade in place (upgrade.c).  io_busy(): an io_watch is running
 * (the upgrade waits for it).  A process's io is written with its fds,
 * its logger and its copies' indexes (copy_save writes the copies) and
 * read back (stdin_end: a terminal's, console.c); the loggers being
 * stopped likewise, their SIGKILL timer armed by io_resume(). */
struct st_w;
struct st_r;
int io_busy(void);
void io_save(struct st_w *w, const struct proc_io *io);
int io_load(struct st_r *r, struct proc_io *io, void (*stdin_end)(struct proc_io *io));
void io_save_dying(struct st_w *w);
int io_load_dying(struct st_r *r);
void io_resume(void);

#endif
