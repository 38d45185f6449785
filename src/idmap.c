/*
 * idmap.c - user namespaces from mapping lists, and idmapped mount trees
 * (open_tree, mount_setattr with MOUNT_ATTR_IDMAP, move_mount).
 *
 * Layer: runtime (README, "Architecture").
 *
 * The namespace comes from a child cloned with CLONE_NEWUSER (no CLONE_VM:
 * it runs on a copy of our memory, so a static stack will do) that waits
 * on a pipe while its uid_map and gid_map are written and its ns/user is
 * opened; then it is killed and reaped here, at once, before the loop's
 * reaper could see it.  The fd keeps the namespace alive.
 */
#include "idmap.h"
#include "pages.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP_ENTRIES_MAX 340 /* the kernel's limit per map */

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define OPEN_TREE_CLONE_	 1
#define AT_RECURSIVE_		 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4
#define MOUNT_ATTR_RDONLY_	 0x1
#define MOUNT_ATTR_IDMAP_	 0x100000

struct mount_attr_ {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* Parse one "c:h:s" entry at *p (advanced past it and a ','). */
static int next_entry(const char **p, unsigned long v[3])
{
	const char *s = *p;
	for (int i = 0; i < 3; i++) {
		char *end;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v[i] = strtoul(s, &end, 10);
		if (errno || v[i] > UINT32_MAX || (i < 2 && *end != ':'))
			return -1;
		s = end + (i < 2);
	}
	if (*s == ',' && s[1])
		s++;
	else if (*s)
		return -1;
	*p = s;
	return v[2] > 0 ? 0 : -1;
}

int idmap_valid(const char *list)
{
	unsigned long v[3];
	int n = 0;
	if (!*list)
		return 0;
	while (*list) {
		if (next_entry(&list, v) < 0 || ++n > MAP_ENTRIES_MAX)
			return 0;
	}
	return 1;
}

/* Write the list as /proc/<pid>/<file> ("c h s" lines, one write). */
static int write_map(pid_t pid, const char *file, const char *list)
{
	char path[64], buf[MAP_ENTRIES_MAX * 36];
	size_t n = 0;
	unsigned long v[3];
	while (*list) {
		if (next_entry(&list, v) < 0)
			return -EINVAL;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%lu %lu %lu\n", v[0],
				      v[1], v[2]);
		if (n >= sizeof(buf))
			return -E2BIG;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write(fd, buf, n) == (ssize_t)n ? 0 : -errno;
	close(fd);
	return r;
}

static int hold(void *arg)
{
	char c;
	while (read((int)(intptr_t)arg, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

int idmap_userns(const char *uidmap, const char *gidmap)
{
	/* page-aligned: laid out with the tables, not among the small
	 * variables every shim touches (pages.h) */
	static char stack[8192] PAGE_ALIGNED;
	if (!idmap_valid(uidmap) || !idmap_valid(gidmap))
		return -EINVAL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = clone(hold, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD,
			  (void *)(intptr_t)p[0]);
	int r = pid < 0 ? -errno : 0;
	close(p[0]);
	if (r == 0 && (r = write_map(pid, "uid_map", uidmap)) == 0 &&
	    (r = write_map(pid, "gid_map", gidmap)) == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		r = open(path, O_RDONLY | O_CLOEXEC);
		if (r < 0)
			r = -errno;
	}
	close(p[1]); /* the child's read ends: it exits */
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	return r;
}

int idmap_tree(int userns, const char *src, const char *dst, int flags)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, src,
			      OPEN_TREE_CLONE_ | O_CLOEXEC | AT_RECURSIVE_);
	if (fd < 0)
		return -errno;
	struct mount_attr_ attr = {
		.attr_set = MOUNT_ATTR_IDMAP_ |
			    ((flags & IDMAP_RDONLY) ? MOUNT_ATTR_RDONLY_ : 0),
		.userns_fd = (uint64_t)userns,
	};
	int r = 0;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ||
	    syscall(SYS_move_mount, fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH_) < 0)
		r = -errno;
	close(fd);
	return r;
}

int idmap_in_userns(void)
{
	char buf[128];
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	unsigned long a, b, c;
	/* the initial namespace maps everything: "0 0 4294967295" */
	return !(sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 &&
		 c == 4294967295UL);
}
