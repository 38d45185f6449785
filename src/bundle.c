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
#include <unistd.h>

int bundle_write(const char *dir, const char *name, const char *data, size_t len,
		 mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* the error says why (ENOSPC on a full state folder), never just EIO */
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
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		return -err;
	}
	return 0;
}
