/*
 * copy.h - the copy engine: moves bytes from one fd to another inside the
 * loop, with splice(2) between pipes (the data never passes through shim
 * memory) and a small buffer where splice is refused (a pty, a file
 * opened for appending).
 *
 * Layer: runtime (README, "Architecture").
 *
 * Both ends are registered once, edge-triggered; a copy runs until one
 * side would block and then waits for the next edge of either side, with
 * no epoll_ctl and no toggling between the two fds; a stream that arrives
 * (or leaves) in small pieces is moved in batches (copy.c).
 *
 *   struct copy *c = copy_start(src, dst, on_end, ctx, tag, flags, &err);
 *   copy_counts(c, &mark, &given);  // has the reader had it all?
 *   copy_finish(c);     // move what can move now, then close both
 *
 * The copy owns both fds (closed when it ends); on_end(ctx, tag) runs when
 * the copy has ended by itself, never from copy_finish or copy_stop.
 *
 * The rule for output (what procio.c and the exit build on):
 *  - A copy moves every byte until its source reaches EOF; a full
 *    destination only makes it wait (the writer then waits on its full
 *    pipe), it never drops a byte while the destination has a reader.
 *  - At EOF, a destination that is a pipe (a FIFO) is kept open until
 *    its reader has taken what is in it; only then is it closed and
 *    on_end run.  The FIFO's content lives as long as one fd holds it,
 *    so a reader that attaches late still gets the end of the output.
 *  - copy_counts() tells, in bytes, how far the reader has got (`given`:
 *    written to the destination less what still waits in it) against
 *    what the source has produced so far (`mark`: read from it plus what
 *    waits in it).  When given reaches a mark taken at some moment, every
 *    byte written before that moment is with the reader: procio.c holds
 *    a process's exit, and its Delete, on that.  A pty master does not
 *    say all it holds: its mark is exact only while it has nothing to
 *    read, and is otherwise an upper bound (copy_counts returns 0).
 *  - A reader that never reads: the bytes wait in the pipes (the source
 *    pipe and the FIFO, up to 1 MiB each once grown) and the writer
 *    blocks, as with any pipe.  The engine itself has no time limit; the
 *    bounds are the callers' (procio.h: the exit waits at most 2 s, and
 *    a Delete 10 s, with no byte taken by the reader).
 *  - Only copy_finish() and copy_stop() drop bytes: what copy_finish
 *    cannot move at once (it returns how much), what copy_stop leaves.
 *  - A destination whose reader has gone (EPIPE) takes nothing more: the
 *    source is read to EOF and its bytes dropped, so the writer never
 *    blocks on a pipe nobody reads.
 */
#ifndef COPY_H
#define COPY_H
#include <stddef.h>
#include <stdint.h>

struct copy;
typedef void (*copy_end_fn)(void *ctx, int tag);

enum { COPY_GROW_SRC = 1 }; /* src is a pipe of ours: its buffer may grow */
struct copy *copy_start(int src, int dst, copy_end_fn on_end, void *ctx, int tag,
			int flags, int *err);
/* mark: bytes produced by the source so far (read, and waiting in it);
 * given: bytes the reader has taken (for a file: written to it).  Returns
 * 1 if the mark is exact, 0 if it is an upper bound: a pty master with
 * input may hold up to COPY_PTY_HOLDS bytes more than its FIONREAD says
 * (20 KiB in all on Linux 6.x; the bound leaves room). */
#define COPY_PTY_HOLDS (64 * 1024)
int copy_counts(const struct copy *c, uint64_t *mark, uint64_t *given);
/* Move what can be moved now, then close both; returns the bytes left in
 * the source (dropped). */
size_t copy_finish(struct copy *c);
/* Close both ends now, dropping what is buffered (stdin). */
void copy_stop(struct copy *c);

/* An upgrade in place (upgrade.c): every copy written with its fds,
 * counters and buffered bytes, read back at the same index; its owner
 * gives it its on_end again (copy_at, by the index copy_index gave) and
 * copy_resume() watches and runs them all. */
struct st_w;
struct st_r;
int copy_index(const struct copy *c);
void copy_save(struct st_w *w);
int copy_load(struct st_r *r);
struct copy *copy_at(int i, copy_end_fn on_end, void *ctx);
void copy_resume(void);

#endif
