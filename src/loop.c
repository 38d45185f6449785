/*
 * loop.c - epoll set and fd-indexed handler table.
 */
#include "loop.h"

#include <errno.h>
#include <unistd.h>

#define LOOP_MAX_FD 4096
#define LOOP_BATCH  32

struct handler {
	loop_fn fn;
	void *data;
};

static int epfd = -1;
static int stopping;
static struct handler handlers[LOOP_MAX_FD];

int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

int loop_add(int fd, uint32_t events, loop_fn fn, void *data)
{
	if (fd < 0 || fd >= LOOP_MAX_FD)
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
	if (fd < 0 || fd >= LOOP_MAX_FD)
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
		if (fd < 0 || fd >= LOOP_MAX_FD || !handlers[fd].fn)
			continue;
		handlers[fd].fn(fd, evs[i].events, handlers[fd].data);
	}
	return n;
}

int loop_run(void)
{
	while (!stopping) {
		int r = loop_run_once(-1);
		if (r < 0)
			return r;
	}
	return 0;
}
