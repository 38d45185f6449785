/*
 * cgroup.c - a container's cgroup: finding it from a pid, the cgroupfs
 * readers that Stats (cgstats.c) uses, OOM watching, and enabling v2
 * controllers.
 *
 * Layer: runtime (README, "Architecture").
 *
 * Everything comes from cgroupfs with plain open/read: these are kernel
 * pseudo-files, so a read never waits.
 *
 * OOM watches sit in a fixed table.  v1 registers an eventfd through
 * cgroup.event_control; the kernel signals it on every OOM of the memcg and
 * once more when the memcg is removed, so before reporting the watcher makes
 * sure memory.oom_control can still be read (a removed cgroupfs file answers
 * ENODEV).  v2 watches memory.events (and cgroup.events) with inotify and
 * reports when oom_kill grows; `oom` is counted only in the cgroup whose
 * limit was hit, often the pod's and not the container's.
 */
#include "pages.h"
#include "cold.h"
#include "cgroup.h"
#include "cgroup_impl.h"
#include "capacity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "loop.h"
#include "pbcb.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define OOM_MAX	     LIM_OOM
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *cg_root = "/sys/fs/cgroup";
const char *proc_root = "/proc";
static int cg_mode = -1; /* -1 not yet known, 0 v1 or hybrid, 1 unified */

void cgroup_set_roots(const char *root, const char *proc, int unified)
{
	cg_root = root ? root : "/sys/fs/cgroup";
	proc_root = proc ? proc : "/proc";
	cg_mode = unified < 0 ? -1 : !!unified;
}

int cg_unified(void)
{
	if (cg_mode < 0) {
		struct statfs s;
		cg_mode = statfs(cg_root, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
	}
	return cg_mode;
}

/* ---- reading and parsing ---- */

/* Read the file `name` under directory fd `dfd` into buf, NUL-terminated.
 * Returns the length or -errno. */
ssize_t read_at(int dfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

/* A decimal value, or the word "max" (no limit), which becomes max_as. */
int parse_u64(const char *s, uint64_t max_as, uint64_t *v)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (!strncmp(s, "max", 3)) {
		*v = max_as;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (end == s || errno)
		return -EINVAL;
	*v = x;
	return 0;
}

int read_u64(int dfd, const char *name, uint64_t max_as, uint64_t *v)
{
	char b[64];
	ssize_t n = read_at(dfd, name, b, sizeof(b));
	return n < 0 ? (int)n : parse_u64(b, max_as, v);
}

/* Copy the next line of *p into line (cut at cap - 1); false at the end. */
bool next_line(const char **p, char *line, size_t cap)
{
	const char *s = *p;
	if (!*s)
		return false;
	const char *e = strchrnul(s, '\n');
	size_t n = (size_t)(e - s);
	if (n >= cap)
		n = cap - 1;
	memcpy(line, s, n);
	line[n] = 0;
	*p = *e ? e + 1 : e;
	return true;
}

void kv_fill(const char *buf, const struct kv *t, size_t n, void *base)
{
	char line[256];
	while (next_line(&buf, line, sizeof(line))) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			if (strcmp(t[i].key, line) != 0)
				continue;
			if (parse_u64(sp + 1, UINT64_MAX, &v) == 0)
				memcpy((char *)base + t[i].off, &v, sizeof(v));
			break;
		}
	}
}

bool kv_read(int dfd, const char *name, char *buf, const struct kv *t, size_t n,
	     void *base)
{
	if (read_at(dfd, name, buf, READ_MAX) < 0)
		return false;
	kv_fill(buf, t, n, base);
	return true;
}

/* ---- the cgroup of a pid ---- */

int proccg_read(pid_t pid, char *buf, size_t cap)
{
	char path[512];
	size_t len = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, (int)pid) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	for (;;) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return e == ESRCH ? -ENOENT : -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == cap - 1) {
			close(fd);
			return -EOVERFLOW;
		}
	}
	close(fd);
	buf[len] = 0;
	return len ? 0 : -ENOENT;
}

/* Find the line of controller `ctrl` (v1), or the unified line when ctrl is
 * NULL, in the text of /proc/<pid>/cgroup ("id:controllers:path"). */
int proccg_find(const char *pcg, const char *ctrl, const char **path, size_t *plen,
		const char **ctrls, size_t *clen)
{
	const char *l = pcg;
	while (*l) {
		const char *eol = strchrnul(l, '\n');
		const char *c1 = memchr(l, ':', (size_t)(eol - l));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2) {
			const char *cs = c1 + 1;
			size_t cn = (size_t)(c2 - cs);
			bool match = false;
			if (!ctrl) {
				match = cn == 0 && c1 - l == 1 && l[0] == '0';
			} else {
				size_t want = strlen(ctrl);
				for (const char *t = cs; t < c2;) {
					const char *comma =
						memchr(t, ',', (size_t)(c2 - t));
					const char *te = comma ? comma : c2;
					if ((size_t)(te - t) == want &&
					    !memcmp(t, ctrl, want))
						match = true;
					t = te + 1;
				}
			}
			if (match) {
				*path = c2 + 1;
				*plen = (size_t)(eol - c2 - 1);
				*ctrls = cs;
				*clen = cn;
				return 0;
			}
		}
		l = *eol ? eol + 1 : eol;
	}
	return -ENOENT;
}

int open_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int open_dir(const char *fmt, ...)
{
	char p[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(p))
		return -ENAMETOOLONG;
	int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* An O_PATH fd on pid's cgroup directory for controller `ctrl` (v1: under
 * <root>/<ctrl>, or <root>/<co-mounted list> such as cpu,cpuacct), or on
 * its unified cgroup when ctrl is NULL. */
int proccg_open(const char *pcg, const char *ctrl)
{
	const char *path, *cs;
	size_t pn, cn;
	int r = proccg_find(pcg, ctrl, &path, &pn, &cs, &cn);
	if (r < 0)
		return r;
	if (!ctrl)
		return open_dir("%s%.*s", cg_root, (int)pn, path);
	r = open_dir("%s/%s%.*s", cg_root, ctrl, (int)pn, path);
	if (r == -ENOENT && cn != strlen(ctrl))
		r = open_dir("%s/%.*s%.*s", cg_root, (int)cn, cs, (int)pn, path);
	return r;
}

/* ---- OOM ---- */

struct oomw {
	void (*cb)(void *ctx); /* NULL: the slot is free */
	void *ctx;
	int fd;	 /* eventfd (v1) or inotify (v2); -1 once gone */
	int ctl; /* memory.oom_control (v1) or memory.events (v2) */
	bool v2;
	uint64_t oom_kill; /* v2: the last count seen */
};

/* Used from its end (OOMW(0) is the last element): the linker lays the
 * table out right before the small variables (it is the first of them by
 * alignment, --sort-section=alignment), so the watch in use shares their
 * page, which every shim touches anyway, instead of costing one of its
 * own (pages.h). */
static struct oomw oomw_table[OOM_MAX] __attribute__((aligned(64)));
#define OOMW(h) (oomw_table[OOM_MAX - 1 - (h)])

static void oomw_close(struct oomw *w, bool registered)
{
	if (w->fd >= 0) {
		if (registered)
			loop_del(w->fd);
		close(w->fd);
	}
	if (w->ctl >= 0)
		close(w->ctl);
	w->fd = w->ctl = -1;
}

static int events_oom_kill(int fd, uint64_t *v)
{
	char b[512];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
	if (n < 0)
		return -errno;
	b[n] = 0;
	static const struct kv oom_kill[] = { { "oom_kill", 0 } };
	*v = 0;
	kv_fill(b, oom_kill, 1, v);
	return 0;
}

/* 1: report an OOM, 0: nothing new, -1: the cgroup is gone. */
static int oomw_check(struct oomw *w)
{
	if (!w->v2) {
		uint64_t n;
		char b[128];
		if (read(w->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			return 0;
		return pread(w->ctl, b, sizeof(b), 0) < 0 ? -1 : 1;
	}
	char ev[4096] __attribute__((aligned(8)));
	while (read(w->fd, ev, sizeof(ev)) > 0)
		;
	uint64_t k;
	if (events_oom_kill(w->ctl, &k) < 0)
		return -1;
	if (k <= w->oom_kill)
		return 0;
	w->oom_kill = k;
	return 1;
}

static void oomw_ready(int fd, uint32_t events, void *data)
{
	struct oomw *w = data;
	int r = oomw_check(w);
	if (r < 0)
		oomw_close(w, true); /* the handle stays until unwatch */
	else if (r > 0)
		w->cb(w->ctx); /* last: cb may unwatch */
}

static int watch_v1(int dfd, struct oomw *w)
{
	char b[32];
	w->ctl = openat(dfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
	if (w->ctl < 0)
		return -errno;
	w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->fd < 0)
		return -errno;
	int cfd = openat(dfd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
	if (cfd < 0)
		return -errno;
	int n = snprintf(b, sizeof(b), "%d %d", w->fd, w->ctl);
	int r = write(cfd, b, (size_t)n) == n ? 0 : -errno;
	close(cfd);
	return r;
}

static int watch_v2(int dfd, struct oomw *w)
{
	char p[64];
	w->ctl = openat(dfd, "memory.events", O_RDONLY | O_CLOEXEC);
	if (w->ctl < 0)
		return -errno;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	snprintf(p, sizeof(p), "/proc/self/fd/%d/memory.events", dfd);
	if (inotify_add_watch(w->fd, p, IN_MODIFY) < 0)
		return -errno;
	/* cgroup.events changes when the last process leaves: one more look at
	 * memory.events then catches a kill that raced with the exit. */
	snprintf(p, sizeof(p), "/proc/self/fd/%d/cgroup.events", dfd);
	inotify_add_watch(w->fd, p, IN_MODIFY);
	/* Report increases from now on. */
	return events_oom_kill(w->ctl, &w->oom_kill);
}

COLD uint64_t cgroup_oom_seen(int h)
{
	return h >= 0 && h < OOM_MAX && OOMW(h).cb && OOMW(h).v2 ? OOMW(h).oom_kill : 0;
}

COLD void cgroup_oom_since(int h, uint64_t seen)
{
	if (h < 0 || h >= OOM_MAX || !OOMW(h).cb || !OOMW(h).v2 || OOMW(h).fd < 0 ||
	    seen >= OOMW(h).oom_kill)
		return;
	/* a kill counted since `seen`: reported now, as oomw_ready would */
	OOMW(h).oom_kill = seen;
	oomw_ready(OOMW(h).fd, EPOLLIN, &OOMW(h));
}

int cgroup_oom_watch(pid_t pid, void (*cb)(void *ctx), void *ctx)
{
	char pcg[PROCCG_MAX];
	int r;
	if (!cb)
		return -EINVAL;
	if ((r = proccg_read(pid, pcg, sizeof(pcg))) < 0)
		return r;
	return cgroup_oom_watch_of(pcg, cb, ctx);
}

int cgroup_oom_watch_of(const char *pcg, void (*cb)(void *ctx), void *ctx)
{
	int i, r;
	if (!cb)
		return -EINVAL;
	for (i = 0; i < OOM_MAX && OOMW(i).cb; i++)
		;
	if (i == OOM_MAX)
		return -ENOSPC;
	bool v2 = cg_unified();
	int dfd = proccg_open(pcg, v2 ? NULL : "memory");
	if (dfd < 0)
		return dfd;
	struct oomw *w = &OOMW(i);
	*w = (struct oomw){ .fd = -1, .ctl = -1, .v2 = v2 };
	r = v2 ? watch_v2(dfd, w) : watch_v1(dfd, w);
	close(dfd);
	if (r == 0)
		r = loop_add(w->fd, EPOLLIN, oomw_ready, w);
	if (r < 0) {
		oomw_close(w, false);
		return r;
	}
	w->cb = cb;
	w->ctx = ctx;
	return i;
}

static struct oomw *oomw_get(int h)
{
	return h >= 0 && h < OOM_MAX && OOMW(h).cb ? &OOMW(h) : NULL;
}

void cgroup_oom_drain(int handle)
{
	struct oomw *w = oomw_get(handle);
	if (!w || w->fd < 0)
		return;
	int r = oomw_check(w);
	if (r < 0)
		oomw_close(w, true);
	else if (r > 0)
		w->cb(w->ctx);
}

void cgroup_oom_unwatch(int handle)
{
	struct oomw *w = oomw_get(handle);
	if (!w)
		return;
	oomw_close(w, true);
	w->cb = NULL;
	w->ctx = NULL;
}

/* ---- v2 controllers ---- */

void cgroup_enable_controllers(pid_t pid)
{
	char pcg[PROCCG_MAX];
	if (cg_unified() && proccg_read(pid, pcg, sizeof(pcg)) >= 0)
		cgroup_enable_controllers_of(pcg);
}

void cgroup_enable_controllers_of(const char *pcg)
{
	char ctrls[1024], w[64];
	const char *path, *cs;
	size_t pn, cn;
	if (!cg_unified() || proccg_find(pcg, NULL, &path, &pn, &cs, &cn) < 0)
		return;
	int root = open_dir("%s", cg_root);
	if (root < 0)
		return;
	ssize_t n = read_at(root, "cgroup.controllers", ctrls, sizeof(ctrls));
	close(root);
	if (n <= 0)
		return;
	while (pn > 1 && path[pn - 1] == '/')
		pn--;
	if (pn <= 1)
		return; /* the root cgroup has no ancestors */
	/* Each ancestor: the root, then /a, /a/b for a cgroup /a/b/c. */
	for (size_t i = 0; i < pn; i++) {
		if (path[i] != '/')
			continue;
		int dfd = open_dir("%s%.*s", cg_root, (int)i, path);
		if (dfd < 0)
			continue;
		int fd = openat(dfd, "cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
		close(dfd);
		if (fd < 0)
			continue;
		char *save = NULL;
		char list[sizeof(ctrls)];
		memcpy(list, ctrls, (size_t)n + 1);
		for (char *c = strtok_r(list, " \n", &save); c;
		     c = strtok_r(NULL, " \n", &save)) {
			int len = snprintf(w, sizeof(w), "+%s", c);
			if (len <= 0 || (size_t)len >= sizeof(w))
				continue;
			/* A controller refused here is skipped, like Go does. */
			ssize_t wr = write(fd, w, (size_t)len);
			(void)wr;
		}
		close(fd);
	}
}

/* ---- the shim's own cgroup (ShimCgroup, at start) ---- */

COLD static int write_pid(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 32], buf[24];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	int r = write(fd, buf, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return r;
}

/* mkdir -p of dir below cg_root (whose own directories exist). */
COLD static int mkdir_below_root(const char *dir)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *s = tmp + strlen(cg_root) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

COLD int cgroup_join(const char *cg, pid_t pid, char *err, size_t cap)
{
	char dir[PATH_MAX + 32];
	while (*cg == '/')
		cg++;
	if (!*cg || strstr(cg, "..") || strlen(cg) > 1024) {
		snprintf(err, cap, "invalid cgroup path /%s", cg);
		return -EINVAL;
	}
	if (cg_unified()) {
		snprintf(dir, sizeof(dir), "%s/%s", cg_root, cg);
		int r = mkdir_below_root(dir);
		if (r == 0)
			r = write_pid(dir, pid);
		if (r < 0)
			snprintf(err, cap, "failed to join cgroup /%s: %s", cg,
				 strerror(-r));
		return r;
	}
	/* v1: every cgroup hierarchy mounted, as mountinfo lists them (fields:
	 * id parent dev root mountpoint options... - fstype source super);
	 * read by line, as a node with many containers has a long one */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/self/mountinfo", proc_root);
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		snprintf(err, cap, "failed to load cgroup /%s: %s: %s", cg, path,
			 strerror(e));
		return -e;
	}
	int joined = 0, r = 0;
	char *line = NULL;
	size_t lcap = 0;
	while (r == 0 && getline(&line, &lcap, f) > 0) {
		char mnt[PATH_MAX], fstype[64];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup"))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", mnt, cg);
		if (access(dir, F_OK) < 0)
			continue; /* not in this hierarchy */
		if ((r = write_pid(dir, pid)) < 0)
			snprintf(err, cap, "failed to join cgroup %s: %s", dir,
				 strerror(-r));
		else
			joined++;
	}
	free(line);
	fclose(f);
	if (r == 0 && !joined) {
		snprintf(err, cap,
			 "failed to load cgroup /%s: not in any cgroup hierarchy", cg);
		r = -ENOENT;
	}
	return r;
}
