/*
 * loopdev.h - a loop device over an image file, for the `loop` mount
 * option (containerd's blockfile and erofs snapshotters).
 *
 * Layer: runtime (README, "Architecture").
 *
 * The device is set up with autoclear: it detaches itself when its last
 * user goes, that is when the filesystem mounted from it is unmounted
 * (or, if the mount fails, when the fd returned here is closed).
 *
 *   char dev[32];
 *   int fd = loopdev_attach("/img.ext4", LOOPDEV_RDONLY, dev, sizeof(dev));
 *   mount(dev, target, "ext4", MS_RDONLY, NULL);
 *   close(fd);
 */
#ifndef LOOPDEV_H
#define LOOPDEV_H
#include <stddef.h>

enum {
	LOOPDEV_RDONLY = 1,
	LOOPDEV_DIRECT_IO = 2,
};

/* An fd on a free loop device now backed by `file`, its path in dev; or a
 * negative errno. */
int loopdev_attach(const char *file, int flags, char *dev, size_t cap);

#endif
