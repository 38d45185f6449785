/*
 * loop.h - the one epoll loop of the daemon.
 *
 * Layer: base (README, "Architecture").
 *
 * Every fd the daemon waits on is registered with a callback; callbacks run
 * one at a time and must never block.  The handler table is indexed by fd.
 *
 *   loop_init();
 *   loop_add(fd, EPOLLIN, on_readable, ctx);
 *   loop_run();            // returns after loop_stop()
 */
#ifndef LOOP_H
#define LOOP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef void (*loop_fn)(int fd, uint32_t events, void *data);

/* Raises RLIMIT_NOFILE to its hard limit and sizes the handler table. */
int loop_init(void);
/* The fd limit in effect (raised on first use). */
int loop_fd_limit(void);
/* A table of one `entry`-byte slot per possible fd, zeroed, mapped so that
 * only the pages in use cost memory; NULL if it cannot be mapped. */
void *loop_fd_table(size_t entry);
int loop_add(int fd, uint32_t events, loop_fn fn, void *data);
int loop_mod(int fd, uint32_t events);
void loop_del(int fd);
int loop_run(void);
/* One round of waiting (at most timeout_ms) and dispatch; for tests. */
int loop_run_once(int timeout_ms);
void loop_stop(void);
/* Once nothing has happened for a second and pending() says there is
 * something to do: fn() (e.g. give back memory kept warm). */
void loop_set_idle(int (*pending)(void), void (*fn)(void));
/* Run after each batch of events, before waiting again (work deferred by
 * a callback, such as a connection that may be read again). */
extern void (*loop_after_batch)(void);

/*
 * The daemon's one timer service: deadlines on the loop's one timerfd,
 * for every module (parked calls' deadlines, the copy engine's tick and
 * flush polls, the output watch, event retries, loggers' SIGKILL, the
 * exit's drain).  The timer is the caller's (held in the object it
 * serves, so there is no table to fill); fn runs once, at or after `at`
 * (loop_now_ns() clock), unless cancelled first; a periodic one sets
 * itself again from fn.  Setting an armed timer moves it; `at` is
 * non-zero while it is armed.
 *
 *   loop_timer_set(&w->t, loop_now_ns() + ms * 1000000, on_due, w);
 *   loop_timer_cancel(&w->t);     // also fine when it is not armed
 */
typedef void (*loop_timer_fn)(void *ctx);
struct loop_timer {
	int64_t at; /* 0: not armed */
	loop_timer_fn fn;
	void *ctx;
	struct loop_timer *next;
};
int64_t loop_now_ns(void);
void loop_timer_set(struct loop_timer *t, int64_t at, loop_timer_fn fn, void *ctx);
void loop_timer_cancel(struct loop_timer *t);

#endif
