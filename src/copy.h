/*
 * copy.h - the copy engine: moves bytes from one fd to another inside the
 * loop, with splice(2) between pipes (the data never passes through shim
 * memory) and a small buffer where splice is refused (a pty, a file
 * opened for appending).
 *
 * Both ends are registered once, edge-triggered; a copy runs until one
 * side would block and then waits for the next edge of either side, with
 * no epoll_ctl and no toggling between the two fds; a stream that arrives
 * (or leaves) in small pieces is moved in batches (copy.c).
 *
 *   struct copy *c = copy_start(src, dst, on_end, ctx, tag, flags, &err);
 *   copy_finish(c);     // move what is buffered now, then close both
 *
 * The copy owns both fds (closed when it ends); on_end(ctx, tag) runs when
 * the source reaches EOF or an error ends it, never from copy_finish.
 */
#ifndef COPY_H
#define COPY_H

struct copy;
typedef void (*copy_end_fn)(void *ctx, int tag);

enum { COPY_GROW_SRC = 1 }; /* src is a pipe of ours: its buffer may grow */
struct copy *copy_start(int src, int dst, copy_end_fn on_end, void *ctx, int tag,
			int flags, int *err);
void copy_finish(struct copy *c);
/* Close both ends now, dropping what is buffered (stdin). */
void copy_stop(struct copy *c);

#endif
