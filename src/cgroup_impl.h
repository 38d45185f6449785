/*
 * cgroup_impl.h - what cgroup.c (the cgroup of a pid, OOM watches) and
 * cgstats.c (Metrics) share: cgroupfs readers and parsers.  Not for use
 * outside those two files.
 *
 * Layer: runtime (README, "Architecture").
 */
#ifndef CGROUP_IMPL_H
#define CGROUP_IMPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCCG_MAX 8192	       /* /proc/<pid>/cgroup */
#define READ_MAX   (64 * 1024) /* usage_percpu of 1024 CPUs, blkio lists */
#define LINE_MAX_  1024

extern const char *cg_root;   /* /sys/fs/cgroup, or a test's tree */
extern const char *proc_root; /* /proc, or a test's tree */

/* 1 on a unified (v2) host, 0 on v1 or hybrid. */
int cg_unified(void);

/* Read a whole pseudo-file (at most cap-1 bytes) NUL-terminated. */
ssize_t read_at(int dfd, const char *name, char *buf, size_t cap);
/* A decimal number; "max" reads as max_as. */
int parse_u64(const char *s, uint64_t max_as, uint64_t *v);
int read_u64(int dfd, const char *name, uint64_t max_as, uint64_t *v);
/* The next line of *p into line (cut to cap). */
bool next_line(const char **p, char *line, size_t cap);

/* "key value" lines: each key found in `t` sets the uint64_t at base+off. */
struct kv {
	const char *key;
	size_t off;
};
void kv_fill(const char *buf, const struct kv *t, size_t n, void *base);
bool kv_read(int dfd, const char *name, char *buf, const struct kv *t, size_t n,
	     void *base);

/* /proc/<pid>/cgroup, and the path of one controller ("" for v2) in it. */
int proccg_read(pid_t pid, char *buf, size_t cap);
int proccg_find(const char *pcg, const char *ctrl, const char **path, size_t *plen,
		const char **ctrls, size_t *clen);
int open_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An O_PATH|O_DIRECTORY fd on the cgroup directory of ctrl, or -errno. */
int proccg_open(const char *pcg, const char *ctrl);

#endif
