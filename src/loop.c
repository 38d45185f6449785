/*
 * loop.c - epoll set and fd-indexed handler table.
 *
 * Layer: base (README, "Architecture").
 *
 * The table covers every fd the process may open: loop_init raises
 * RLIMIT_NOFILE to its hard limit and maps the table to match (its pages
 * cost memory only once an fd that high is in use).
 */
#include "loop.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "capacity.h"
#include "pages.h"

#define LOOP_BATCH 64

struct handler {
	loop_fn fn;
	void *data;
};

static int epfd = -1;
static int stopping;
static struct handler *handlers;
static int max_fd;
void (*loop_after_batch)(void);
static int (*idle_pending)(void);
static void (*idle_fn)(void);
static void on_timers(int fd, uint32_t ev, void *data);
static int timer_fd = -1;

#define IDLE_MS 1000

void loop_set_idle(int (*pending)(void), void (*fn)(void))
{
	idle_pending = pending;
	idle_fn = fn;
}

int loop_fd_limit(void)
{
	if (!max_fd) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			if (rl.rlim_cur < rl.rlim_max) {
				rl.rlim_cur = rl.rlim_max;
				setrlimit(RLIMIT_NOFILE, &rl);
				getrlimit(RLIMIT_NOFILE, &rl);
			}
			max_fd = rl.rlim_cur > LIM_FDS_MAX ? LIM_FDS_MAX
							   : (int)rl.rlim_cur;
		}
		if (max_fd < 1024)
			max_fd = 1024;
	}
	return max_fd;
}

void *loop_fd_table(size_t entry)
{
	return pages_map(entry * (size_t)loop_fd_limit(), MAP_NORESERVE);
}

int loop_init(void)
{
	if (!handlers && !(handlers = loop_fd_table(sizeof(struct handler))))
		return -ENOMEM;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	/* the deadlines' timer from the start, so the daemon's fds do not
	 * creep up on first use */
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0)
		return -errno;
	return loop_add(timer_fd, EPOLLIN, on_timers, NULL);
}

int loop_add(int fd, uint32_t events, loop_fn fn, void *data)
{
	if (fd < 0 || fd >= max_fd)
		return -EMFILE;
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	handlers[fd].fn = fn;
	handlers[fd].data = data;
	return 0;
}

int loop_mod(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del(int fd)
{
	if (fd < 0 || fd >= max_fd)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	handlers[fd].fn = NULL;
	handlers[fd].data = NULL;
}

void loop_stop(void)
{
	stopping = 1;
}

int loop_run_once(int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n = epoll_wait(epfd, evs, LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !stopping; i++) {
		int fd = evs[i].data.fd;
		/* A callback earlier in the batch may have closed fd. */
		if (fd < 0 || fd >= max_fd || !handlers[fd].fn)
			continue;
		handlers[fd].fn(fd, evs[i].events, handlers[fd].data);
	}
	if (loop_after_batch && !stopping)
		loop_after_batch();
	return n;
}

/* ---- deadlines: a list of the callers' timers, one timerfd set to the
 * earliest (few are armed at a time: a scan is cheaper than a heap) ---- */

static struct loop_timer *timers;
static int64_t timer_armed; /* what timer_fd is set to, 0: nothing */

int64_t loop_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void timer_arm(void)
{
	int64_t first = 0;
	for (struct loop_timer *t = timers; t; t = t->next)
		if (!first || t->at < first)
			first = t->at;
	if (first == timer_armed || timer_fd < 0)
		return;
	struct itimerspec it = { { 0, 0 },
				 { first / 1000000000LL, first % 1000000000LL } };
	if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &it, NULL) == 0)
		timer_armed = first;
}

static void on_timers(int fd, uint32_t ev, void *data)
{
	uint64_t x;
	ssize_t r = read(fd, &x, sizeof(x));
	(void)r;
	timer_armed = 0;
	int64_t now = loop_now_ns();
	/* one due timer per pass: its callback may set or cancel any other */
	for (;;) {
		struct loop_timer **pp = &timers;
		while (*pp && (*pp)->at > now)
			pp = &(*pp)->next;
		if (!*pp)
			break;
		struct loop_timer *t = *pp;
		*pp = t->next;
		t->at = 0;
		t->next = NULL;
		t->fn(t->ctx);
	}
	timer_arm();
}

/* Take an armed timer off the list (the timerfd is left as it is). */
static void timer_unlink(struct loop_timer *t)
{
	for (struct loop_timer **pp = &timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->at = 0;
	t->next = NULL;
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (!t->at)
		return;
	timer_unlink(t);
	timer_arm();
}

void loop_timer_set(struct loop_timer *t, int64_t at, loop_timer_fn fn, void *ctx)
{
	if (t->at)
		timer_unlink(t);
	t->at = at > 0 ? at : 1;
	t->fn = fn;
	t->ctx = ctx;
	t->next = timers;
	timers = t;
	timer_arm();
}

int loop_run(void)
{
	while (!stopping) {
		int wait = idle_pending && idle_pending() ? IDLE_MS : -1;
		int r = loop_run_once(wait);
		if (r < 0)
			return r;
		if (r == 0 && wait >= 0 && idle_fn)
			idle_fn();
	}
	return 0;
}
