/*
 * mount.c - mount(2) with mount(8)-style options.
 *
 * Layer: runtime (README, "Architecture").
 */
#include "mount.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "idmap.h"
#include "log.h"
#include "loopdev.h"
#include "pages.h"

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
		      const struct pbstrlist *options, const char *target,
		      const char *scratch, char *data, char *spare, size_t cap);

/* The directory target is in: where temporary mounts go. */
static void parent_of(const char *target, char *out, size_t cap)
{
	snprintf(out, cap, "%s", target);
	char *slash = strrchr(out, '/');
	if (slash && slash != out)
		*slash = 0;
	else
		snprintf(out, cap, "/");
}

static int mount_in(const char *type, const char *source, const struct pbstrlist *options,
		    const char *target, const char *scratch)
{
	size_t dlen = 0;
	for (const struct pbstr *o = options->head; o; o = o->next)
		dlen += o->len + 1;
	if (dlen > 65536)
		return -E2BIG;
	/* A large option string (many overlay layers) must not grow the
	 * daemon's stack for good: it gets its own mapping, twice over for a
	 * rewritten copy (idmapped lowerdirs get longer paths). */
	size_t cap = (dlen + 1 + PATH_MAX + 4095) & ~(size_t)4095;
	cap += cap; /* room for the idmapped copy */
	char *data = pages_map(2 * cap, 0);
	if (!data)
		return -ENOMEM;
	int r = mount_with(type, source, options, target, scratch, data, data + cap, cap);
	munmap(data, 2 * cap);
	return r;
}

int mount_apply(const char *type, const char *source, const struct pbstrlist *options,
		const char *target)
{
	char scratch[PATH_MAX];
	parent_of(target, scratch, sizeof(scratch));
	return mount_in(type, source, options, target, scratch);
}

/* The value of the lowerdir= option in an overlay's data string, and its
 * length (up to the next ','); NULL if there is none. */
static const char *lowerdir_list(const char *data, size_t *len)
{
	const char *ld = strstr(data, "lowerdir=");
	while (ld && ld != data && ld[-1] != ',')
		ld = strstr(ld + 1, "lowerdir=");
	if (!ld)
		return NULL;
	*len = strcspn(ld + 9, ",");
	return ld + 9;
}

/* The length of the longest prefix shared by the ':'-separated entries of
 * list[0..len). */
static size_t lowerdir_common(const char *list, size_t len)
{
	size_t common = strcspn(list, ":,");
	for (const char *e = list; e < list + len;) {
		size_t el = strcspn(e, ":,"), k = 0;
		while (k < common && k < el && e[k] == list[k])
			k++;
		common = k;
		e += el + (e[el] == ':');
	}
	return common;
}

/* Shorten lowerdir=A/x:A/y:... to x:y:... relative to A, the lowerdirs'
 * common parent, when the options would not fit in mount(2)'s one page;
 * *dir receives A (empty when nothing was done). */
void mount_compact_lowerdir(char *data, char *dir, size_t dircap)
{
	dir[0] = 0;
	if (strlen(data) < 4096 - 512)
		return;
	size_t listlen;
	char *list = (char *)lowerdir_list(data, &listlen);
	if (!list)
		return;
	/* common prefix of all entries, cut back to a '/' */
	size_t common = lowerdir_common(list, listlen);
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

/* What the options say, besides the data string. */
struct mopts {
	unsigned long flags, prop;
	int loop, direct_io;
	const char *uidmap, *gidmap;
};

static int parse_options(const struct pbstrlist *options, struct mopts *m, char *data)
{
	memset(m, 0, sizeof(*m));
	data[0] = 0;
	size_t d = 0;
	for (const struct pbstr *o = options->head; o; o = o->next) {
		int known = 0;
		if (strncmp(o->s, "X-containerd.", 13) == 0)
			return -EINVAL;
		for (size_t i = 0; i < sizeof(flagopts) / sizeof(flagopts[0]); i++)
			if (strcmp(o->s, flagopts[i].name) == 0) {
				if (flagopts[i].clear)
					m->flags &= ~flagopts[i].flag;
				else
					m->flags |= flagopts[i].flag;
				known = 1;
			}
		for (size_t i = 0; i < sizeof(propopts) / sizeof(propopts[0]); i++)
			if (strcmp(o->s, propopts[i].name) == 0) {
				m->prop |= propopts[i].flag;
				known = 1;
			}
		if (!strcmp(o->s, "loop"))
			known = m->loop = 1;
		else if (!strcmp(o->s, "direct-io"))
			known = m->direct_io = 1;
		else if (!strncmp(o->s, "uidmap=", 7))
			m->uidmap = o->s + 7, known = 1;
		else if (!strncmp(o->s, "gidmap=", 7))
			m->gidmap = o->s + 7, known = 1;
		if (known)
			continue;
		if (d)
			data[d++] = ',';
		memcpy(data + d, o->s, o->len);
		d += o->len;
		data[d] = 0;
	}
	if (m->direct_io && !m->loop) {
		/* not ours to take: a filesystem option of that name */
		m->direct_io = 0;
		size_t l = strlen("direct-io");
		memmove(data + (d ? l + 1 : l), data, d + 1);
		memcpy(data, "direct-io", l);
		if (d)
			data[l] = ',';
	}
	/* only both maps together make a namespace, as containerd has it */
	if ((m->uidmap != NULL) != (m->gidmap != NULL))
		return -EINVAL;
	if (m->uidmap && (!idmap_valid(m->uidmap) || !idmap_valid(m->gidmap)))
		return -EINVAL;
	return 0;
}

/*
 * Overlay on idmapped lower layers: the lowerdirs' common parent is cloned
 * idmapped and read-only at a fresh directory under scratch, and the
 * lowerdir option rewritten to go through it (into out, of cap bytes).
 * The overlay takes its own references to the layers, so the caller
 * detaches and removes tmp once the overlay is mounted.
 */
static int idmap_lowerdirs(int ns, const char *data, char *out, size_t cap,
			   const char *scratch, char *tmp, size_t tmpcap)
{
	size_t listlen;
	const char *list = lowerdir_list(data, &listlen);
	if (!list)
		return -EINVAL;
	size_t common = lowerdir_common(list, listlen);
	/* the directory holding that prefix, as path.Dir has it: what comes
	 * before its last '/' ("/s/1/fs", "/s/2/fs" -> "/s"; "/a/b", "/a/bc"
	 * -> "/a") */
	while (common > 0 && list[common - 1] != '/')
		common--;
	if (common > 0)
		common--;
	if (common < 2 || list[0] != '/' || common >= PATH_MAX)
		return -EINVAL; /* "/" itself will not be idmapped */
	char parent[PATH_MAX];
	memcpy(parent, list, common);
	parent[common] = 0;
	if ((size_t)snprintf(tmp, tmpcap, "%s/.idmapped-XXXXXX", scratch) >= tmpcap ||
	    !mkdtemp(tmp))
		return -errno ? -errno : -ENAMETOOLONG;
	int r = idmap_tree(ns, parent, tmp, IDMAP_RDONLY);
	if (r < 0) {
		rmdir(tmp);
		tmp[0] = 0;
		return r;
	}
	/* data before lowerdir=, the rewritten list, data after it */
	size_t n = (size_t)(list - data), tl = strlen(tmp);
	if (n >= cap)
		goto too_long;
	memcpy(out, data, n);
	for (const char *e = list; e < list + listlen;) {
		size_t el = strcspn(e, ":,");
		if (n + tl + el + 2 >= cap)
			goto too_long;
		memcpy(out + n, tmp, tl);
		memcpy(out + n + tl, e + common, el - common);
		n += tl + el - common;
		e += el;
		if (*e == ':') {
			out[n++] = ':';
			e++;
		}
	}
	if (n + strlen(list + listlen) + 1 > cap)
		goto too_long;
	strcpy(out + n, list + listlen);
	return 0;
too_long:
	return -E2BIG;
}

/* The flags a user namespace's mount of target has locked (the kernel's
 * CL_UNPRIVILEGED): a remount must keep them or fail with EPERM. */
static unsigned long locked_flags(const char *target)
{
	struct statfs st;
	if (!idmap_in_userns() || statfs(target, &st) < 0)
		return 0;
	/* ST_* values are the MS_* ones for these */
	return (unsigned long)st.f_flags & (MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID |
					    MS_NOATIME | MS_RELATIME | MS_NODIRATIME);
}

static int mount_with(const char *type, const char *source,
		      const struct pbstrlist *options, const char *target,
		      const char *scratch, char *data, char *spare, size_t cap)
{
	struct mopts m;
	int r = parse_options(options, &m, data);
	if (r < 0)
		return r;
	int ns = -1;
	char tmp[PATH_MAX] = "";
	if (m.uidmap) {
		if ((ns = idmap_userns(m.uidmap, m.gidmap)) < 0)
			return ns;
		if (!strcmp(type, "overlay")) {
			r = idmap_lowerdirs(ns, data, spare, cap, scratch, tmp,
					    sizeof(tmp));
			if (r < 0)
				goto out;
			char *t = data;
			data = spare;
			spare = t;
		}
	}
	/* A read-only bind needs a remount to take the flag. */
	unsigned long first = m.flags;
	if ((m.flags & MS_BIND) && (m.flags & MS_RDONLY))
		first &= ~MS_RDONLY;
	char dir[PATH_MAX];
	if (strcmp(type, "overlay") == 0)
		mount_compact_lowerdir(data, dir, sizeof(dir));
	else
		dir[0] = 0;
	if (strlen(data) >= (size_t)sysconf(_SC_PAGESIZE)) {
		r = -E2BIG; /* mount(2) takes one page of options */
		goto out;
	}
	char dev[32];
	int lfd = -1;
	if (m.loop) {
		int lf = ((m.flags & MS_RDONLY) ? LOOPDEV_RDONLY : 0) |
			 (m.direct_io ? LOOPDEV_DIRECT_IO : 0);
		if ((lfd = loopdev_attach(source, lf, dev, sizeof(dev))) < 0) {
			r = lfd;
			goto out;
		}
		source = dev;
	}
	int cwd = -1;
	if (dir[0]) {
		/* the daemon is single-threaded: chdir and back is safe */
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || chdir(dir) < 0) {
			r = -errno;
			if (cwd >= 0)
				close(cwd);
			if (lfd >= 0)
				close(lfd);
			goto out;
		}
	}
	int mr = mount(source, target, type, first, data[0] ? data : NULL);
	int me = errno;
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			log_error("cannot return to the bundle: %s", strerror(errno));
		close(cwd);
	}
	if (lfd >= 0)
		close(lfd); /* autoclear: the mount holds the device now */
	if (mr < 0) {
		r = -me;
		goto out;
	}
	if (first != m.flags &&
	    mount("", target, NULL, m.flags | locked_flags(target) | MS_REMOUNT, NULL) <
		    0) {
		r = -errno;
		umount2(target, MNT_DETACH);
		goto out;
	}
	if (ns >= 0 && strcmp(type, "overlay") &&
	    (r = idmap_tree(ns, target, target, 0)) < 0) {
		umount2(target, MNT_DETACH);
		goto out;
	}
	if (m.prop && mount("", target, NULL, m.prop, NULL) < 0)
		log_warn("mount propagation on %s: %s", target, strerror(errno));
out:
	if (tmp[0]) {
		umount2(tmp, MNT_DETACH);
		rmdir(tmp);
	}
	if (ns >= 0)
		close(ns);
	return r;
}

int mount_helper_argv(const char *type, const char *source,
		      const struct pbstrlist *options, const char *target,
		      const char **argv, size_t cap)
{
	const char *helper = !strncmp(type, "fuse.", 5)	   ? "mount.fuse"
			     : !strncmp(type, "fuse3.", 6) ? "mount.fuse3"
							   : NULL;
	if (!helper)
		return 0;
	size_t n = 0;
	if (cap < 6 + 2 * (size_t)options->n + 1)
		return -E2BIG;
	argv[n++] = helper;
	argv[n++] = source;
	argv[n++] = target;
	for (const struct pbstr *o = options->head; o; o = o->next) {
		argv[n++] = "-o";
		argv[n++] = o->s;
	}
	argv[n++] = "-t";
	argv[n++] = strchr(type, '.') + 1;
	argv[n] = NULL;
	return (int)n;
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

int mount_resolve_at(const char *root, const char *sub, char *out, size_t cap)
{
	while (*sub == '/')
		sub++;
	if (!*sub)
		return snprintf(out, cap, "%s", root) < (int)cap ? 0 : -ENAMETOOLONG;
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	struct open_how_ how = { O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT_ };
	int fd = (int)syscall(SYS_openat2, rfd, sub, &how, sizeof(how));
	int e = errno;
	close(rfd);
	if (fd < 0)
		return -e;
	/* the path openat2 found, which is inside root whatever the links */
	char link[32];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, cap - 1);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n >= cap - 1)
		return -ENAMETOOLONG;
	out[n] = 0;
	return 0;
}

int mount_apply_at(const char *type, const char *source, const struct pbstrlist *options,
		   const char *root, const char *sub)
{
	char target[PATH_MAX], scratch[PATH_MAX];
	int r = mount_resolve_at(root, sub, target, sizeof(target));
	if (r < 0)
		return r;
	parent_of(root, scratch, sizeof(scratch));
	return mount_in(type, source, options, target, scratch);
}
