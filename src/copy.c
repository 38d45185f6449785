/*
 * copy.c - the splice engine (see copy.h).
 *
 * Layer: runtime (README, "Architecture").
 *
 * Edge-triggered rules: after a splice that moved less than it asked for,
 * the source is empty or the destination full, and the next write to an
 * empty pipe, or read from a full one, brings an edge; so the copy stops
 * there.  A copy that still has data after its rounds is re-armed
 * (EPOLL_CTL_MOD queues an event for a ready fd) so that one busy stream
 * cannot hold the loop.
 *
 * Coalescing: a pipe wakes its reader on every write into an empty pipe
 * and its writer on every read from a full one, so a container writing 4
 * KiB at a time, or a reader taking 32 KiB at a time, would cost a wakeup
 * and a splice per chunk.  A copy that is woken again within a window of
 * its last small move waits for the window to end instead (the engine's
 * one timer).  The fds are one-shot: a pipe that is being polled wakes
 * its poller on every write (and read), full or not, so an fd that fired
 * stays quiet until the copy has moved what there is and re-arms it.
 * The first bytes after a pause move at once, so interactive
 * streams see no delay.  A copy that keeps streaming grows its pipes to 1
 * MiB (so a window cannot cap its throughput) and shrinks them again once
 * it has been idle for a second: a pipe's capacity counts against the
 * user's pipe-buffer limit, which must not fill for the containers' own
 * pipes.
 */
#include "cold.h"
#include "copy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capacity.h"
#include "log.h"
#include "loop.h"
#include "pages.h"
#include "state.h"

#define SPLICE_MAX  (1 << 20)
#define BUF_SIZE    16384
#define ROUNDS	    16
#define TICK_NS	    1000000LL /* coalescing window: the timer's shortest period */
#define TICK_MAX    8000000LL /* ... and its longest */
#define BIG_PIPE    (1 << 20)
#define NORMAL_PIPE (64 * 1024)
#define IDLE_NS	    1000000000LL /* grown pipes shrink after this */
#define FULL_RETRY_NS 250000000LL /* a full destination is tried again at most this often */

struct copy {
	int src, dst;
	int dst_polled; /* regular files cannot be in epoll */
	int coalesce;	/* pipe to pipe or file: may be moved in batches */
	int buffered;	/* splice refused: read/write */
	int reader_gone;
	char *buf;
	size_t len, off;
	copy_end_fn on_end;
	void *ctx;
	int tag;
	int flags;
	int next_free;
	int lingering; /* on the linger list, waiting for the timer */
	int next_linger;
	int big;		  /* its pipes are grown */
	int src_armed, dst_armed; /* one-shot: armed until it fires */
	int dst_blocked;	  /* the last move stopped at a full destination */
	int64_t last_ns;
	int64_t shrink_ns; /* a shrink refused (bytes above the size): not before */
	size_t moved;
	size_t cap; /* its pipes' size: a move near it means the window is too long */
	uint64_t taken, given; /* bytes read from src, written to dst, ever */
	int dst_pipe;	       /* dst is a pipe (or FIFO): FIONREAD says what waits */
	int src_tty;	       /* src is a pty master: FIONREAD says less (copy_counts) */
	int flushing;	       /* src at EOF; dst kept until its reader has it all */
	int next_flush;
	uint64_t flush_taken; /* flushing: what its reader had taken at the last poll */
	int full;	      /* dst refused for want of space: dropping, retrying */
	int64_t retry_ns;     /* full: the next write is tried from then */
	uint64_t dropped;     /* full: bytes dropped since it filled */
};

/* Handed out lazily (untouched slots cost nothing), reused from a free
 * list. */
static struct copy copies[LIM_COPIERS] PAGE_ALIGNED;
static int high, free_head = -1;
static int linger_head = -1;
static struct loop_timer tick_timer;
static int ticking;		 /* the tick runs: it is set again after each */
static int64_t period = TICK_NS; /* the next period to run it at */
static unsigned nbig;
/* Copies whose source has ended, polled until their destination pipe is
 * empty (a reader taking bytes from a pipe that is not full wakes no
 * writer, so there is no event to wait for). */
static int flush_head = -1;
static struct loop_timer flush_timer;
static int64_t flush_period;
#define FLUSH_FIRST_NS 1000000LL   /* 1 ms, doubling while nothing is read */
#define FLUSH_MAX_NS   128000000LL /* ... up to this */

static void on_tick(void *ctx);

/* Run the periodic tick (on = 1) or stop it. */
static void tick(int on)
{
	if (on && !ticking) {
		ticking = 1;
		loop_timer_set(&tick_timer, loop_now_ns() + period, on_tick, NULL);
	} else if (!on && ticking) {
		ticking = 0;
		loop_timer_cancel(&tick_timer);
	}
}

/* Fire once at `at` (loop_now_ns clock), unless ticking. */
static void sweep_at(int64_t at)
{
	if (!ticking)
		loop_timer_set(&tick_timer, at, on_tick, NULL);
}

static void unlinger(struct copy *c)
{
	for (int *pp = &linger_head; *pp >= 0; pp = &copies[*pp].next_linger)
		if (*pp == (int)(c - copies)) {
			*pp = c->next_linger;
			break;
		}
	c->lingering = 0;
}

static void grow(struct copy *c, int on)
{
	int bytes = on ? BIG_PIPE : NORMAL_PIPE;
	if (on == c->big)
		return;
	if (on) {
		if (c->flags & COPY_GROW_SRC)
			fcntl(c->src, F_SETPIPE_SZ, bytes);
		if (c->dst_polled)
			fcntl(c->dst, F_SETPIPE_SZ, bytes);
	} else {
		/* refused (EBUSY) while more than that is buffered: try later */
		if ((c->flags & COPY_GROW_SRC) &&
		    fcntl(c->src, F_SETPIPE_SZ, bytes) < 0 && errno == EBUSY)
			return;
		if (c->dst_polled && fcntl(c->dst, F_SETPIPE_SZ, bytes) < 0 &&
		    errno == EBUSY)
			return;
	}
	c->big = on;
	c->cap = (size_t)bytes;
	nbig += on ? 1 : -1;
}

static int pipe_bytes(int fd)
{
	int n = 0;
	return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? n : 0;
}

static void unflush(struct copy *c)
{
	for (int *pp = &flush_head; *pp >= 0; pp = &copies[*pp].next_flush)
		if (*pp == (int)(c - copies)) {
			*pp = c->next_flush;
			break;
		}
	c->flushing = 0;
	if (flush_head < 0)
		loop_timer_cancel(&flush_timer);
}

/* The file a destination writes to, for the log. */
static const char *dst_name(const struct copy *c, char *buf, size_t cap)
{
	char link[32];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", c->dst);
	ssize_t n = readlink(link, buf, cap - 1);
	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? buf : "output";
}

/* A destination with no space (ENOSPC, EDQUOT, EFBIG: a file:// log on a
 * full disk) is not the end of the copy, nor a reason to block the
 * container: its bytes are read and dropped, counted, and the write is
 * tried again with the next data, at most every FULL_RETRY_NS. */
static int is_full_errno(ssize_t n)
{
	return n == -ENOSPC || n == -EDQUOT || n == -EFBIG;
}

static void full_begin(struct copy *c, int err)
{
	char name[256];
	size_t pending = c->len - c->off;
	c->full = 1;
	c->buffered = 1; /* the bytes pass through the buffer now */
	c->dropped = pending;
	c->given += pending;
	c->off = c->len = 0;
	c->retry_ns = loop_now_ns() + FULL_RETRY_NS;
	log_warn("%s: %s: dropping the output (the container goes on) until it "
		 "can be written again",
		 dst_name(c, name, sizeof(name)), strerror(err));
}

static void full_end(struct copy *c, const char *how)
{
	char name[256];
	log_warn("%s: %s; %llu bytes of output were dropped while it was full",
		 dst_name(c, name, sizeof(name)), how, (unsigned long long)c->dropped);
	c->full = 0;
	c->dropped = 0;
}

/* One step of a full copy: read what comes, write it if it is time to
 * try, else drop it.  >0 read, 0 EOF, <0 -errno of the read. */
static ssize_t step_full(struct copy *c)
{
	if (!c->buf && !(c->buf = pages_map(BUF_SIZE, 0)))
		return -ENOMEM;
	ssize_t n = read(c->src, c->buf, BUF_SIZE);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	c->taken += (uint64_t)n;
	c->given += (uint64_t)n; /* written, or dropped: nobody waits for them */
	size_t off = 0;
	int64_t now = loop_now_ns();
	if (now >= c->retry_ns) {
		ssize_t w;
		while (off < (size_t)n && (w = write(c->dst, c->buf + off, (size_t)n - off)) > 0)
			off += (size_t)w;
		c->retry_ns = now + FULL_RETRY_NS;
	}
	c->dropped += (uint64_t)n - off;
	if (off == (size_t)n)
		full_end(c, "written again");
	return n;
}

static void release(struct copy *c)
{
	if (c->full)
		full_end(c, "closed while full");
	if (c->lingering)
		unlinger(c);
	if (c->big) {
		c->big = 0;
		nbig--;
	}
	if (c->flushing)
		unflush(c);
	if (c->src >= 0) {
		loop_del(c->src);
		close(c->src);
	}
	if (c->dst_polled)
		loop_del(c->dst);
	close(c->dst);
	if (c->buf)
		munmap(c->buf, BUF_SIZE);
	memset(c, 0, sizeof(*c));
	c->next_free = free_head;
	free_head = (int)(c - copies);
}

static void end(struct copy *c)
{
	copy_end_fn fn = c->on_end;
	void *ctx = c->ctx;
	int tag = c->tag;
	release(c);
	if (fn)
		fn(ctx, tag);
}

static void on_flush_timer(void *ctx);

/*
 * The source has ended.  What was written into a destination pipe stays
 * there for its reader: a FIFO's content goes when its last fd closes, so
 * ours is kept (the source closed, the copy's end not yet reported) until
 * the reader has taken it all, or io_close() gives up (copy_finish).  A
 * reader attaching late still finds the end of the output.
 */
static int finished(struct copy *c)
{
	int left = c->dst_pipe && !c->reader_gone ? pipe_bytes(c->dst) : 0;
	if (!left) {
		end(c);
		return 1;
	}
	c->flush_taken = c->given - (uint64_t)left;
	if (c->lingering)
		unlinger(c);
	loop_del(c->src);
	close(c->src);
	c->src = -1;
	c->flushing = 1;
	c->next_flush = flush_head;
	flush_head = (int)(c - copies);
	flush_period = FLUSH_FIRST_NS;
	loop_timer_set(&flush_timer, loop_now_ns() + flush_period, on_flush_timer, NULL);
	return 1;
}

static void on_flush_timer(void *ctx)
{
	int taken = 0;
	for (int i = flush_head, next; i >= 0; i = next) {
		struct copy *c = &copies[i];
		next = c->next_flush;
		int left = pipe_bytes(c->dst);
		if (c->given - (uint64_t)left != c->flush_taken)
			taken = 1;
		c->flush_taken = c->given - (uint64_t)left;
		if (!left)
			end(c); /* unlinks it */
	}
	if (flush_head < 0)
		return;
	flush_period = taken ? FLUSH_FIRST_NS
			     : (flush_period * 2 > FLUSH_MAX_NS ? FLUSH_MAX_NS
								: flush_period * 2);
	loop_timer_set(&flush_timer, loop_now_ns() + flush_period, on_flush_timer, NULL);
}

/* One step of the buffered path: >0 moved, 0 EOF, <0 -errno. */
static ssize_t step_buffered(struct copy *c)
{
	if (!c->buf) {
		c->buf = pages_map(BUF_SIZE, 0);
		if (!c->buf)
			return -ENOMEM;
	}
	if (c->off < c->len) {
		ssize_t n = write(c->dst, c->buf + c->off, c->len - c->off);
		if (n < 0 && errno == EAGAIN)
			c->dst_blocked = 1;
		if (n < 0)
			return -errno;
		c->off += (size_t)n;
		c->given += (uint64_t)n;
		return n;
	}
	c->off = c->len = 0;
	ssize_t n = read(c->src, c->buf, BUF_SIZE);
	if (n < 0)
		return -errno;
	c->len = (size_t)n;
	c->taken += (uint64_t)n;
	return n;
}

/* Move what can be moved now.  Returns 1 if the copy ended (and was
 * released), 0 if it waits for an edge, 2 if it has more to do. */
static int pump(struct copy *c, int finishing)
{
	for (int r = 0; r < ROUNDS; r++) {
		ssize_t n;
		if (c->reader_gone) {
			/* the reader went away: drop what comes until EOF */
			char sink[4096];
			n = read(c->src, sink, sizeof(sink));
			if (n > 0) {
				/* nobody will have them: count them as given */
				c->taken += (uint64_t)n;
				c->given += (uint64_t)n;
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				return end(c), 1;
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (c->full) {
			/* its errors and EOF end it as any buffered copy's do */
			n = step_full(c);
			if (n > 0)
				continue;
		} else if (!c->buffered) {
			n = splice(c->src, NULL, c->dst, NULL, SPLICE_MAX,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				c->moved += (size_t)n;
				c->taken += (uint64_t)n;
				c->given += (uint64_t)n;
				if (n < SPLICE_MAX && !finishing)
					goto blocked; /* one side is done */
				continue;
			}
			if (n < 0 && errno == EINVAL) {
				c->buffered = 1;
				continue;
			}
			if (n < 0)
				n = -errno;
		} else {
			n = step_buffered(c);
			if (n > 0) {
				c->moved += (size_t)n;
				continue;
			}
			if (n == 0 && c->len == 0)
				return finishing ? (end(c), 1) : finished(c);
			if (n == 0)
				continue;
		}
		if (n == 0) /* EOF */
			return finishing ? (end(c), 1) : finished(c);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN && c->buffered)
			return 0; /* step_buffered said which side */
		if (n == -EAGAIN)
			goto blocked;
		if (n == -EPIPE) {
			c->reader_gone = 1;
			continue;
		}
		if (is_full_errno(n)) {
			full_begin(c, (int)-n);
			continue;
		}
		if (n == -EIO && !finishing) /* a pty whose other side closed */
			return finished(c);
		if (n != -EIO)
			log_warn("copy: %s", strerror((int)-n));
		return end(c), 1;
	}
	return 2;
blocked:
	return 0; /* run() finds out which side, if it needs to */
}

#define SRC_EV (EPOLLIN | EPOLLET | EPOLLONESHOT)
#define DST_EV (EPOLLOUT | EPOLLET | EPOLLONESHOT)

/* What this tick's moves say about the period: some copy nearly filled
 * its pipe (shorten it), or moved half of it or more (keep it); else the
 * tick comes too often for what flows (lengthen it). */
static int tick_fast, tick_keep;

static void linger(struct copy *c)
{
	c->lingering = 1;
	c->next_linger = linger_head;
	linger_head = (int)(c - copies);
	tick(1);
}

/*
 * Pump now; returns 1 if the copy ended.  A streaming copy that moved
 * something stays on the tick with nothing armed (the tick runs it, no
 * wakeup per chunk); any other copy arms the one side it waits for: a full
 * destination makes the source's events useless, and an empty source the
 * destination's.
 */
static int run(struct copy *c, int64_t now, int streaming)
{
	c->moved = 0;
	c->dst_blocked = 0;
	int r = pump(c, 0);
	if (r == 1)
		return 1;
	if (c->moved)
		c->last_ns = now;
	if (streaming && (c->moved || r == 2)) {
		/* a tick that filled half the pipe: the pipe is too small for it */
		if (c->moved >= c->cap / 2 && !c->big)
			grow(c, 1);
		if (c->moved >= c->cap / 4 * 3 || r == 2)
			tick_fast = 1;
		else if (c->moved >= c->cap / 2)
			tick_keep = 1;
		linger(c);
		return 0;
	}
	int avail = 0;
	if (r == 0 && !c->buffered)
		c->dst_blocked = c->dst_polled && ioctl(c->src, FIONREAD, &avail) == 0 &&
				 avail > 0;
	if (r == 2 || !c->dst_blocked) {
		/* (arming a ready fd queues its event again: more to move) */
		if (!c->src_armed || r == 2)
			loop_mod(c->src, SRC_EV);
		c->src_armed = 1;
	} else if (!c->dst_armed) {
		loop_mod(c->dst, DST_EV);
		c->dst_armed = 1;
	}
	return 0;
}

static void on_ready(int fd, uint32_t ev, void *data)
{
	struct copy *c = data;
	if (c->flushing)
		return; /* its source is gone: the flush timer polls it */
	if (fd == c->src)
		c->src_armed = 0;
	else
		c->dst_armed = 0;
	if (c->lingering)
		return; /* the tick moves it */
	int64_t now = loop_now_ns();
	if (now - c->last_ns < TICK_NS && c->coalesce && !c->buffered) {
		/* moved something within a tick: a stream, gathered per tick.
		 * Only between pipes (and into files): a pty holds a few KiB,
		 * and its writer would wait for every tick. */
		linger(c);
		return;
	}
	run(c, now, 0);
}

static void on_tick(void *ctx)
{
	(void)ctx;
	ticking = 0; /* it has fired: tick(1) sets it again */
	int64_t now = loop_now_ns();
	/* take the whole list: the copies that go on streaming rejoin it */
	int i = linger_head;
	linger_head = -1;
	tick_fast = tick_keep = 0;
	while (i >= 0) {
		struct copy *c = &copies[i];
		i = c->next_linger;
		c->lingering = 0;
		run(c, now, 1);
	}
	if (linger_head >= 0) {
		/* keep ticking, at a period that suits what flows */
		if (tick_fast && period > TICK_NS)
			period /= 2;
		else if (!tick_fast && !tick_keep && period < TICK_MAX)
			period *= 2;
		tick(1);
		return;
	}
	period = TICK_NS;
	/* grown pipes of copies idle for a second shrink back; the timer then
	 * fires once more when the next of them is due */
	int64_t next = 0;
	for (int k = 0; nbig && k < high; k++) {
		struct copy *c = &copies[k];
		int64_t due = c->last_ns + IDLE_NS;
		if (c->shrink_ns > due)
			due = c->shrink_ns;
		if (c->big && now >= due) {
			grow(c, 0);
			/* refused while its pipe holds more than the smaller size
			 * (a reader that stopped reading): not again for a second,
			 * or the timer would fire at once, again and again */
			due = c->shrink_ns = now + IDLE_NS;
		}
		if (c->big && (!next || due < next))
			next = due;
	}
	tick(0);
	if (next)
		sweep_at(next);
}

struct copy *copy_start(int src, int dst, copy_end_fn on_end, void *ctx, int tag,
			int flags, int *err)
{
	struct copy *c;
	if (free_head >= 0) {
		c = &copies[free_head];
		free_head = c->next_free;
	} else if (high < LIM_COPIERS) {
		c = &copies[high++];
	} else {
		log_warn("copy: all %d copies in use", LIM_COPIERS);
		*err = -ENOSPC;
		return NULL;
	}
	struct stat st;
	memset(c, 0, sizeof(*c));
	c->src = src;
	c->dst = dst;
	c->on_end = on_end;
	c->ctx = ctx;
	c->tag = tag;
	c->flags = flags;
	c->cap = NORMAL_PIPE;
	fcntl(src, F_SETFL, fcntl(src, F_GETFL) | O_NONBLOCK);
	fcntl(dst, F_SETFL, fcntl(dst, F_GETFL) | O_NONBLOCK);
	struct stat sst;
	int pollable = fstat(dst, &st) == 0 && !S_ISREG(st.st_mode);
	int src_known = fstat(src, &sst) == 0;
	c->dst_pipe = pollable && S_ISFIFO(st.st_mode);
	c->src_tty = src_known && S_ISCHR(sst.st_mode);
	c->coalesce = src_known && S_ISFIFO(sst.st_mode) &&
		      (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode));
	if (c->coalesce) {
		int a = fcntl(src, F_GETPIPE_SZ),
		    b = S_ISFIFO(st.st_mode) ? fcntl(dst, F_GETPIPE_SZ) : a;
		c->cap = (size_t)(a > 0 && b > 0 ? (a < b ? a : b) : NORMAL_PIPE);
	}
	int r = loop_add(src, SRC_EV, on_ready, c);
	c->src_armed = 1;
	if (r == 0 && pollable) {
		/* added disarmed (one-shot with no events: an error or hangup,
		 * which epoll always reports, comes once): armed when a move
		 * finds it full */
		r = loop_add(dst, EPOLLET | EPOLLONESHOT, on_ready, c);
		if (r < 0)
			loop_del(src);
		else
			c->dst_polled = 1;
	}
	if (r < 0) {
		memset(c, 0, sizeof(*c));
		c->next_free = free_head;
		free_head = (int)(c - copies);
		*err = r;
		return NULL;
	}
	*err = 0;
	return c;
}

void copy_stop(struct copy *c)
{
	release(c);
}

size_t copy_finish(struct copy *c)
{
	c->on_end = NULL;
	for (int i = 0; i < 64 && !c->flushing; i++) {
		int r = pump(c, 1);
		if (r == 1)
			return 0;
		if (r == 0)
			break;
	}
	size_t left = c->flushing ? 0 : (size_t)pipe_bytes(c->src) + (c->len - c->off);
	release(c);
	return left;
}

/*
 * A pty master's FIONREAD counts its line discipline's buffer (4 KiB at
 * most), not what waits behind it in the pty's own buffer (16 KiB more
 * here).  poll() pushes that buffer into the line discipline when the
 * latter is empty, so a master that polls without input holds nothing:
 * the mark is exact then, and an upper bound (COPY_PTY_HOLDS more) else.
 */
int copy_counts(const struct copy *c, uint64_t *mark, uint64_t *given)
{
	*mark = c->taken + (uint64_t)pipe_bytes(c->src);
	*given = c->given - (c->dst_pipe ? (uint64_t)pipe_bytes(c->dst) : 0);
	if (!c->src_tty || c->src < 0)
		return 1;
	struct pollfd p = { .fd = c->src, .events = POLLIN };
	if (poll(&p, 1, 0) == 0 || (p.revents & (POLLIN | POLLNVAL)) == 0)
		return 1;
	*mark += COPY_PTY_HOLDS;
	return 0;
}

COLD int copy_index(const struct copy *c)
{
	return (int)(c - copies);
}

COLD void copy_save(struct st_w *w)
{
	st_tag(w, "COPY");
	st_u64(w, (uint64_t)high);
	for (int i = 0; i < high; i++) {
		struct copy *c = &copies[i];
		st_u64(w, c->dst > 0 || c->src > 0); /* in use: it holds its fds */
		if (!(c->dst > 0 || c->src > 0))
			continue;
		st_fd(w, c->src);
		st_fd(w, c->dst);
		st_u64(w, (uint64_t)c->dst_polled | (uint64_t)c->coalesce << 1 |
				  (uint64_t)c->buffered << 2 | (uint64_t)c->reader_gone << 3 |
				  (uint64_t)c->big << 4 | (uint64_t)c->dst_pipe << 5 |
				  (uint64_t)c->flushing << 6 | (uint64_t)c->full << 7);
		st_u64(w, (uint64_t)c->tag);
		st_u64(w, (uint64_t)c->flags);
		st_u64(w, c->cap);
		st_u64(w, c->taken);
		st_u64(w, c->given);
		st_u64(w, c->flush_taken);
		st_u64(w, c->dropped);
		st_u64(w, (uint64_t)c->last_ns);
		st_bytes(w, c->buf ? c->buf + c->off : "", c->buf ? c->len - c->off : 0);
	}
}

COLD int copy_load(struct st_r *r)
{
	if (!st_want(r, "COPY"))
		return -EINVAL;
	int n = (int)st_get_max(r, LIM_COPIERS, "too many copies");
	for (int i = 0; i < n && !r->err; i++) {
		struct copy *c = &copies[i];
		memset(c, 0, sizeof(*c));
		if (!st_get(r))
			continue;
		c->src = st_get_fd(r);
		c->dst = st_get_fd(r);
		uint64_t f = st_get(r);
		c->dst_polled = f & 1;
		c->coalesce = (f >> 1) & 1;
		c->buffered = (f >> 2) & 1;
		c->reader_gone = (f >> 3) & 1;
		c->big = (f >> 4) & 1;
		c->dst_pipe = (f >> 5) & 1;
		c->flushing = (f >> 6) & 1;
		c->full = (f >> 7) & 1;
		struct stat sst;
		c->src_tty = c->src >= 0 && fstat(c->src, &sst) == 0 && S_ISCHR(sst.st_mode);
		c->tag = (int)st_get_max(r, 2, "bad copy tag");
		c->flags = (int)st_get(r);
		c->cap = (size_t)st_get_max(r, BIG_PIPE, "bad pipe size");
		c->taken = st_get(r);
		c->given = st_get(r);
		c->flush_taken = st_get(r);
		c->dropped = st_get(r);
		c->last_ns = (int64_t)st_get(r);
		size_t bn;
		const void *b = st_get_bytes(r, &bn);
		if (c->dst < 0 || bn > BUF_SIZE) {
			st_fail(r, "a copy does not fit");
			break;
		}
		if (bn) {
			if (!(c->buf = pages_map(BUF_SIZE, 0))) {
				st_fail(r, "no memory for a copy's buffer");
				break;
			}
			memcpy(c->buf, b, bn);
			c->len = bn;
		}
		nbig += c->big;
	}
	if (r->err)
		return -EINVAL;
	high = n;
	free_head = -1;
	for (int i = n; i-- > 0;)
		if (copies[i].dst <= 0 && copies[i].src <= 0) {
			copies[i].next_free = free_head;
			free_head = i;
		}
	return 0;
}

struct copy *copy_at(int i, copy_end_fn on_end, void *ctx)
{
	if (i < 0 || i >= high || (copies[i].dst <= 0 && copies[i].src <= 0))
		return NULL;
	copies[i].on_end = on_end;
	copies[i].ctx = ctx;
	return &copies[i];
}

COLD void copy_resume(void)
{
	int64_t now = loop_now_ns();
	for (int i = 0; i < high; i++) {
		struct copy *c = &copies[i];
		if (c->dst <= 0 && c->src <= 0)
			continue;
		c->next_linger = c->next_flush = -1;
		if (c->src >= 0 && loop_add(c->src, SRC_EV, on_ready, c) == 0)
			c->src_armed = 1;
		if (c->dst_polled)
			loop_add(c->dst, EPOLLET | EPOLLONESHOT, on_ready, c);
		if (c->flushing) {
			c->next_flush = flush_head;
			flush_head = i;
			flush_period = FLUSH_FIRST_NS;
			loop_timer_set(&flush_timer, now + flush_period, on_flush_timer, NULL);
		} else {
			/* what came while the image changed: an edge may be gone */
			run(c, now, 0);
		}
	}
	if (nbig)
		sweep_at(now + IDLE_NS);
}
