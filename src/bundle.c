/*
 * bundle.c - atomic writes of the shim's files in a bundle.
 *
 * Layer: runtime (README, "Architecture").
 */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* path written whole (created or truncated): 0, or the errno of what
 * failed (ENOSPC on a full state folder), never just EIO. */
static int put(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return errno;
	int err = 0;
	for (size_t off = 0; off < len && !err;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EINTR)
			err = errno;
		else if (w == 0)
			err = EIO;
	}
	if (close(fd) < 0 && !err && errno != EINTR)
		err = errno;
	return err;
}

int bundle_write(const char *dir, const char *name, const char *data, size_t len,
		 mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int err = put(tmp, data, len, mode);
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		return -err;
	}
	return 0;
}

#define EXIT_FILE "exit"

int bundle_exit_write(const char *dir, const struct bundle_exit *e)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "exit 1 %s %d %d %lld.%09d\n", e->id, e->pid,
			 e->status, (long long)e->sec, (int)e->nsec);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	/* In place, one write: no temporary and no rename, which were a third
	 * of an exit's cost on a disk-backed state folder.  Only `shim delete`
	 * reads it, once the daemon is gone, and it takes nothing but a whole
	 * line naming this container: a file cut short by a crash reads as no
	 * journal, which is what the rename protected against. */
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/" EXIT_FILE, dir) >= sizeof(path))
		return -ENAMETOOLONG;
	return -put(path, line, (size_t)n, 0600);
}

int bundle_exit_read(const char *dir, const char *id, struct bundle_exit *e)
{
	char path[PATH_MAX], line[256];
	if ((size_t)snprintf(path, sizeof(path), "%s/" EXIT_FILE, dir) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	line[n] = 0;
	long long sec;
	int nsec, version;
	memset(e, 0, sizeof(*e));
	if (sscanf(line, "exit %d %127s %d %d %lld.%9d", &version, e->id, &e->pid,
		   &e->status, &sec, &nsec) != 6 ||
	    version != 1 || strcmp(e->id, id) != 0 || e->status < 0 || e->status > 255)
		return -EINVAL;
	e->sec = sec;
	e->nsec = nsec;
	return 0;
}
