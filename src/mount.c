/*
 * mount.c - mount(2) with mount(8)-style options.
 */
#include "mount.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "log.h"

struct flagopt {
	const char *name;
	int clear;
	unsigned long flag;
};

static const struct flagopt flagopts[] = {
	{ "async", 1, MS_SYNCHRONOUS },
	{ "atime", 1, MS_NOATIME },
	{ "bind", 0, MS_BIND },
	{ "defaults", 0, 0 },
	{ "dev", 1, MS_NODEV },
	{ "diratime", 1, MS_NODIRATIME },
	{ "dirsync", 0, MS_DIRSYNC },
	{ "exec", 1, MS_NOEXEC },
	{ "mand", 0, MS_MANDLOCK },
	{ "noatime", 0, MS_NOATIME },
	{ "nodev", 0, MS_NODEV },
	{ "nodiratime", 0, MS_NODIRATIME },
	{ "noexec", 0, MS_NOEXEC },
	{ "nomand", 1, MS_MANDLOCK },
	{ "norelatime", 1, MS_RELATIME },
	{ "nostrictatime", 1, MS_STRICTATIME },
	{ "nosuid", 0, MS_NOSUID },
	{ "rbind", 0, MS_BIND | MS_REC },
	{ "relatime", 0, MS_RELATIME },
	{ "remount", 0, MS_REMOUNT },
	{ "ro", 0, MS_RDONLY },
	{ "rw", 1, MS_RDONLY },
	{ "strictatime", 0, MS_STRICTATIME },
	{ "suid", 1, MS_NOSUID },
	{ "sync", 0, MS_SYNCHRONOUS },
};

static const struct {
	const char *name;
	unsigned long flag;
} propopts[] = {
	{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

int mount_apply(const char *type, const char *source, const struct pbstrlist *options,
		const char *target)
{
	unsigned long flags = 0, prop = 0;
	size_t dlen = 0;
	for (const struct pbstr *o = options->head; o; o = o->next)
		dlen += o->len + 1;
	if (dlen > 65536)
		return -E2BIG;
	char data[dlen + 1];
	data[0] = 0;
	size_t d = 0;
	for (const struct pbstr *o = options->head; o; o = o->next) {
		int known = 0;
		if (strncmp(o->s, "X-containerd.", 13) == 0)
			return -EINVAL;
		for (size_t i = 0; i < sizeof(flagopts) / sizeof(flagopts[0]); i++)
			if (strcmp(o->s, flagopts[i].name) == 0) {
				if (flagopts[i].clear)
					flags &= ~flagopts[i].flag;
				else
					flags |= flagopts[i].flag;
				known = 1;
			}
		for (size_t i = 0; i < sizeof(propopts) / sizeof(propopts[0]); i++)
			if (strcmp(o->s, propopts[i].name) == 0) {
				prop |= propopts[i].flag;
				known = 1;
			}
		if (known)
			continue;
		if (d)
			data[d++] = ',';
		memcpy(data + d, o->s, o->len);
		d += o->len;
		data[d] = 0;
	}
	/* A read-only bind needs a remount to take the flag. */
	unsigned long first = flags;
	if ((flags & MS_BIND) && (flags & MS_RDONLY))
		first &= ~MS_RDONLY;
	if (mount(source, target, type, first, d ? data : NULL) < 0)
		return -errno;
	if (first != flags && mount("", target, NULL, flags | MS_REMOUNT, NULL) < 0) {
		int e = errno;
		umount2(target, MNT_DETACH);
		return -e;
	}
	if (prop && mount("", target, NULL, prop, NULL) < 0)
		log_warn("mount propagation on %s: %s", target, strerror(errno));
	return 0;
}

int mount_unmount_all(const char *target)
{
	for (int i = 0; i < 64; i++) {
		if (umount2(target, MNT_DETACH) < 0) {
			if (errno == EINVAL || errno == ENOENT)
				return 0; /* not a mount point (any more) */
			return -errno;
		}
	}
	return -EBUSY;
}
