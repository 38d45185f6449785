/*
 * loopdev.c - attaching an image file to a free loop device.
 *
 * Layer: runtime (README, "Architecture").
 *
 * LOOP_CONFIGURE (Linux 5.8) attaches and sets the flags in one call;
 * older kernels get LOOP_SET_FD then LOOP_SET_STATUS64.  Another process
 * may take the device between LOOP_CTL_GET_FREE and the attach (EBUSY):
 * then the next free one is asked for.  The kernel ABI is written out
 * here because musl's headers have no <linux/loop.h>; it is the same on
 * every architecture (fixed-size fields only).
 */
#include "loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LOOP_SET_FD_	    0x4C00
#define LOOP_CLR_FD_	    0x4C01
#define LOOP_SET_STATUS64_  0x4C04
#define LOOP_SET_DIRECT_IO_ 0x4C08
#define LOOP_CONFIGURE_	    0x4C0A
#define LOOP_CTL_GET_FREE_  0x4C82

#define LO_FLAGS_READ_ONLY_ 1
#define LO_FLAGS_AUTOCLEAR_ 4
#define LO_FLAGS_DIRECT_IO_ 16

struct loop_info64_ {
	uint64_t device, inode, rdevice, offset, sizelimit;
	uint32_t number, encrypt_type, encrypt_key_size, flags;
	uint8_t file_name[64], crypt_name[64], encrypt_key[32];
	uint64_t init[2];
};

struct loop_config_ {
	uint32_t fd, block_size;
	struct loop_info64_ info;
	uint64_t reserved[8];
};

_Static_assert(sizeof(struct loop_info64_) == 232, "loop_info64 ABI");
_Static_assert(sizeof(struct loop_config_) == 304, "loop_config ABI");

/* Attach back to the loop device open as fd: 0, -EBUSY (taken meanwhile),
 * or another negative errno. */
static int attach(int fd, int back, const char *file, int flags)
{
	struct loop_config_ cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (uint32_t)back;
	cfg.info.flags = LO_FLAGS_AUTOCLEAR_;
	if (flags & LOOPDEV_RDONLY)
		cfg.info.flags |= LO_FLAGS_READ_ONLY_;
	if (flags & LOOPDEV_DIRECT_IO)
		cfg.info.flags |= LO_FLAGS_DIRECT_IO_;
	snprintf((char *)cfg.info.file_name, sizeof(cfg.info.file_name), "%s", file);
	if (ioctl(fd, LOOP_CONFIGURE_, &cfg) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return -errno;
	/* before 5.8: attach, then the flags (direct I/O on its own) */
	if (ioctl(fd, LOOP_SET_FD_, back) < 0)
		return -errno;
	cfg.info.flags &= ~(uint32_t)LO_FLAGS_DIRECT_IO_;
	if (ioctl(fd, LOOP_SET_STATUS64_, &cfg.info) < 0 ||
	    ((flags & LOOPDEV_DIRECT_IO) && ioctl(fd, LOOP_SET_DIRECT_IO_, 1UL) < 0)) {
		int e = errno;
		ioctl(fd, LOOP_CLR_FD_, 0);
		return -e;
	}
	return 0;
}

int loopdev_attach(const char *file, int flags, char *dev, size_t cap)
{
	int mode = (flags & LOOPDEV_RDONLY) ? O_RDONLY : O_RDWR;
	int back = open(file, mode | O_CLOEXEC);
	if (back < 0)
		return -errno;
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		int e = errno;
		close(back);
		return -e;
	}
	int r = -EBUSY;
	for (int tries = 0; tries < 100 && r == -EBUSY; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE_);
		if (n < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, cap, "/dev/loop%d", n);
		int fd = open(dev, mode | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		r = attach(fd, back, file, flags);
		if (r == 0) {
			r = fd;
			break;
		}
		close(fd);
	}
	close(ctl);
	close(back);
	return r;
}
