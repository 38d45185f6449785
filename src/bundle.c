/*
 * bundle.c - atomic writes of the shim's files in a bundle.
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
	ssize_t w = write(fd, data, len);
	close(fd);
	if (w != (ssize_t)len || rename(tmp, path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}
