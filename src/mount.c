/*
 * mount.c - mount(2) with mount(8)-style options.
 */
#include "mount.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
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

static int mount_with(const char *type, const char *source,
		      const struct pbstrlist *options, const char *target, char *data);

int mount_apply(const char *type, const char *source, const struct pbstrlist *options,
		const char *target)
{
	size_t dlen = 0;
	for (const struct pbstr *o = options->head; o; o = o->next)
		dlen += o->len + 1;
	if (dlen > 65536)
		return -E2BIG;
	/* A large option string (many overlay layers) must not grow the
	 * daemon's stack for good: it gets its own mapping. */
	size_t cap = (dlen + 1 + 4095) & ~(size_t)4095;
	char *data = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (data == MAP_FAILED)
		return -ENOMEM;
	int r = mount_with(type, source, options, target, data);
	munmap(data, cap);
	return r;
}

/* Shorten lowerdir=A/x:A/y:... to x:y:... relative to A, the lowerdirs'
 * common parent, when the options would not fit in mount(2)'s one page;
 * *dir receives A (empty when nothing was done). */
void mount_compact_lowerdir(char *data, char *dir, size_t dircap)
{
	dir[0] = 0;
	if (strlen(data) < 4096 - 512)
		return;
	char *ld = strstr(data, "lowerdir=");
	if (!ld || (ld != data && ld[-1] != ','))
		return;
	char *list = ld + 9;
	size_t listlen = strcspn(list, ",");
	/* common prefix of all entries, cut back to a '/' */
	size_t common = strcspn(list, ":,");
	for (char *e = list; e < list + listlen;) {
		size_t el = strcspn(e, ":,");
		size_t k = 0;
		while (k < common && k < el && e[k] == list[k])
			k++;
		common = k;
		e += el + (e[el] == ':');
	}
	while (common > 0 && list[common - 1] != '/')
		common--;
	if (common < 2 || common >= dircap)
		return;
	memcpy(dir, list, common);
	dir[common] = 0;
	/* drop the prefix from every entry, in place */
	char *w = list;
	for (char *e = list; e < list + listlen;) {
		size_t el = strcspn(e, ":,");
		memmove(w, e + common, el - common);
		w += el - common;
		e += el;
		if (*e == ':') {
			*w++ = ':';
			e++;
		}
	}
	memmove(w, list + listlen, strlen(list + listlen) + 1);
}

static int mount_with(const char *type, const char *source,
		      const struct pbstrlist *options, const char *target, char *data)
{
	unsigned long flags = 0, prop = 0;
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
	char dir[PATH_MAX];
	if (strcmp(type, "overlay") == 0)
		mount_compact_lowerdir(data, dir, sizeof(dir));
	else
		dir[0] = 0;
	int cwd = -1;
	if (dir[0]) {
		/* the daemon is single-threaded: chdir and back is safe */
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || chdir(dir) < 0) {
			int e = errno;
			if (cwd >= 0)
				close(cwd);
			return -e;
		}
	}
	int mr = mount(source, target, type, first, d ? data : NULL);
	int me = errno;
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			log_error("cannot return to the bundle: %s", strerror(errno));
		close(cwd);
	}
	if (mr < 0)
		return -me;
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

/* openat2(2), which musl's headers may not have */
struct open_how_ {
	uint64_t flags, mode, resolve;
};
#define RESOLVE_IN_ROOT_ 0x10
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int mount_apply_at(const char *type, const char *source, const struct pbstrlist *options,
		   const char *root, const char *sub)
{
	while (*sub == '/')
		sub++;
	if (!*sub)
		return mount_apply(type, source, options, root);
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	struct open_how_ how = { O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT_ };
	int fd = (int)syscall(SYS_openat2, rfd, sub, &how, sizeof(how));
	int e = errno;
	close(rfd);
	if (fd < 0)
		return -e;
	/* mount(2) follows the magic link to the directory openat2 found */
	char where[32];
	snprintf(where, sizeof(where), "/proc/self/fd/%d", fd);
	int r = mount_apply(type, source, options, where);
	close(fd);
	return r;
}
