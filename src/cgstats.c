/*
 * cgstats.c - Stats: io.containerd.cgroups.v1.Metrics (v1 or hybrid host)
 * or io.containerd.cgroups.v2.Metrics (unified host), read from cgroupfs.
 *
 * Layer: runtime (README, "Architecture").
 *
 * Tables map cgroupfs keys onto the fields of the generated Metrics
 * structs.  The structs (about 70 KiB for v1, because of the bounded blkio
 * lists) and the read buffers live in the request's arena; a file that is
 * missing leaves its fields zero, the way containerd's IgnoreNotExist does.
 */
#include "cgroup.h"
#include "cgroup_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "cgroups_v1_metrics.pb.h"
#include "cgroups_v2_metrics.pb.h"
#include "pbcb.h"

#define PARTS_MAX    (16 * 1024) /* /proc/partitions */
#define LINE_MAX_    1024
#define HUGEPAGE_MAX 8
#define USER_HZ	     100 /* unit of cpuacct.stat */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef io_containerd_cgroups_v1_Metrics m1_t;
typedef io_containerd_cgroups_v1_MemoryStat mem1_t;
typedef io_containerd_cgroups_v1_MemoryEntry memen1_t;
typedef io_containerd_cgroups_v1_BlkIOStat blk1_t;
typedef io_containerd_cgroups_v1_BlkIOEntry blken1_t;
typedef io_containerd_cgroups_v2_Metrics m2_t;
typedef io_containerd_cgroups_v2_MemoryStat mem2_t;
typedef io_containerd_cgroups_v2_CPUStat cpu2_t;
typedef io_containerd_cgroups_v2_MemoryEvents ev2_t;
typedef io_containerd_cgroups_v2_PSIStats psi_t;

/* ---- huge page sizes ---- */

/* Names as cgroupfs spells them ("2MB", "1GB"), in the order of the
 * /sys/kernel/mm/hugepages entries sorted by name, as runc lists them. */
static char hp_name[HUGEPAGE_MAX][16];
static int hp_n = -1;

struct dirent64_ {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static void hugepages_scan(void)
{
	char dirs[HUGEPAGE_MAX][32];
	int n = 0;
	hp_n = 0;
	int fd = open("/sys/kernel/mm/hugepages", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	char b[2048] __attribute__((aligned(8)));
	long got;
	while ((got = syscall(SYS_getdents64, fd, b, sizeof(b))) > 0) {
		for (long off = 0; off < got;) {
			const struct dirent64_ *d = (const void *)(b + off);
			if (!d->reclen)
				break;
			off += d->reclen;
			if (strncmp(d->name, "hugepages-", 10) != 0 ||
			    strlen(d->name) >= sizeof(dirs[0]) || n == HUGEPAGE_MAX)
				continue;
			/* insertion sort by name */
			int i = n++;
			while (i > 0 && strcmp(dirs[i - 1], d->name) > 0) {
				memcpy(dirs[i], dirs[i - 1], sizeof(dirs[0]));
				i--;
			}
			snprintf(dirs[i], sizeof(dirs[0]), "%s", d->name);
		}
	}
	close(fd);
	static const char *const unit[] = { "KB", "MB", "GB", "TB", "PB" };
	for (int i = 0; i < n; i++) {
		unsigned long long kb;
		if (sscanf(dirs[i], "hugepages-%llukB", &kb) != 1)
			continue;
		double v = (double)kb;
		unsigned u = 0;
		while (v >= 1024 && u < ARRAY_LEN(unit) - 1) {
			v /= 1024;
			u++;
		}
		snprintf(hp_name[hp_n++], sizeof(hp_name[0]), "%g%s", v, unit[u]);
	}
}

static int hugepages(void)
{
	if (hp_n < 0)
		hugepages_scan();
	return hp_n;
}

/* ---- rdma.current / rdma.max: "dev hca_handle=N hca_object=N" ---- */

static bool rdma_line(const char *line, char *dev, size_t cap, uint32_t *h, uint32_t *o)
{
	char d[64], hs[24], os[24];
	uint64_t v;
	if (sscanf(line, "%63s hca_handle=%23s hca_object=%23s", d, hs, os) != 3)
		return false;
	snprintf(dev, cap, "%s", d);
	*h = parse_u64(hs, UINT32_MAX, &v) == 0 ? (uint32_t)v : 0;
	*o = parse_u64(os, UINT32_MAX, &v) == 0 ? (uint32_t)v : 0;
	return true;
}

/* The v1 and v2 RdmaEntry types differ only in name, hence a macro. */
#define RDMA_FILL(dfd, name, buf, arr, count)                                            \
	do {                                                                             \
		const char *p_ = (buf);                                                  \
		char l_[LINE_MAX_];                                                      \
		if (read_at((dfd), (name), (buf), READ_MAX) < 0)                         \
			break;                                                           \
		while ((count) < ARRAY_LEN(arr) && next_line(&p_, l_, sizeof(l_)))       \
			if (rdma_line(l_, (arr)[count].device,                           \
				      sizeof((arr)[count].device),                       \
				      &(arr)[count].hca_handles,                         \
				      &(arr)[count].hca_objects))                        \
				(count)++;                                               \
	} while (0)

/* ---- v1 ---- */

struct rd {
	char *buf;   /* READ_MAX */
	char *parts; /* /proc/partitions, read when first needed */
	bool parts_read;
};

#define M1(f)                                                                            \
	{                                                                                \
#f, offsetof(mem1_t, f)                                                  \
	}
static const struct kv v1_memstat[] = {
	M1(cache),
	M1(rss),
	M1(rss_huge),
	M1(mapped_file),
	M1(dirty),
	M1(writeback),
	{ "pgpgin", offsetof(mem1_t, pg_pg_in) },
	{ "pgpgout", offsetof(mem1_t, pg_pg_out) },
	{ "pgfault", offsetof(mem1_t, pg_fault) },
	{ "pgmajfault", offsetof(mem1_t, pg_maj_fault) },
	M1(inactive_anon),
	M1(active_anon),
	M1(inactive_file),
	M1(active_file),
	M1(unevictable),
	M1(hierarchical_memory_limit),
	{ "hierarchical_memsw_limit", offsetof(mem1_t, hierarchical_swap_limit) },
	M1(total_cache),
	M1(total_rss),
	M1(total_rss_huge),
	M1(total_mapped_file),
	M1(total_dirty),
	M1(total_writeback),
	{ "total_pgpgin", offsetof(mem1_t, total_pg_pg_in) },
	{ "total_pgpgout", offsetof(mem1_t, total_pg_pg_out) },
	{ "total_pgfault", offsetof(mem1_t, total_pg_fault) },
	{ "total_pgmajfault", offsetof(mem1_t, total_pg_maj_fault) },
	M1(total_inactive_anon),
	M1(total_active_anon),
	M1(total_inactive_file),
	M1(total_active_file),
	M1(total_unevictable),
};

static const struct kv v1_throttle[] = {
	{ "nr_periods", offsetof(io_containerd_cgroups_v1_Throttle, periods) },
	{ "nr_throttled",
	  offsetof(io_containerd_cgroups_v1_Throttle, throttled_periods) },
	{ "throttled_time", offsetof(io_containerd_cgroups_v1_Throttle, throttled_time) },
};

static const struct kv v1_oomctl[] = {
	{ "oom_kill_disable",
	  offsetof(io_containerd_cgroups_v1_MemoryOomControl, oom_kill_disable) },
	{ "under_oom", offsetof(io_containerd_cgroups_v1_MemoryOomControl, under_oom) },
	{ "oom_kill", offsetof(io_containerd_cgroups_v1_MemoryOomControl, oom_kill) },
};

static void v1_pids(int dfd, m1_t *m, struct rd *rd)
{
	m->has_pids = true;
	read_u64(dfd, "pids.current", 0, &m->pids.current);
	read_u64(dfd, "pids.max", 0, &m->pids.limit); /* "max" is 0 in v1 */
}

static void v1_cpu(int dfd, m1_t *m, struct rd *rd)
{
	kv_read(dfd, "cpu.stat", rd->buf, v1_throttle, ARRAY_LEN(v1_throttle),
		&m->cpu.throttling);
}

static void v1_cpuacct(int dfd, m1_t *m, struct rd *rd)
{
	io_containerd_cgroups_v1_CPUUsage *u = &m->cpu.usage;
	struct ticks {
		uint64_t user, system;
	} t = { 0, 0 };
	static const struct kv tk[] = {
		{ "user", offsetof(struct ticks, user) },
		{ "system", offsetof(struct ticks, system) },
	};
	read_u64(dfd, "cpuacct.usage", 0, &u->total);
	if (kv_read(dfd, "cpuacct.stat", rd->buf, tk, ARRAY_LEN(tk), &t)) {
		u->user = t.user * (1000000000 / USER_HZ);
		u->kernel = t.system * (1000000000 / USER_HZ);
	}
	if (read_at(dfd, "cpuacct.usage_percpu", rd->buf, READ_MAX) < 0)
		return;
	const char *p = rd->buf;
	while (u->per_cpu_count < ARRAY_LEN(u->per_cpu)) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p)
			break;
		u->per_cpu[u->per_cpu_count++] = v;
		p = end;
	}
}

static void v1_memory(int dfd, m1_t *m, struct rd *rd)
{
	static const struct {
		const char *prefix;
		size_t off;
	} ent[] = {
		{ "memory.", offsetof(mem1_t, usage) },
		{ "memory.memsw.", offsetof(mem1_t, swap) },
		{ "memory.kmem.", offsetof(mem1_t, kernel) },
		{ "memory.kmem.tcp.", offsetof(mem1_t, kernel_tcp) },
	};
	mem1_t *s = &m->memory;
	m->has_memory = true;
	kv_read(dfd, "memory.stat", rd->buf, v1_memstat, ARRAY_LEN(v1_memstat), s);
	s->has_usage = s->has_swap = s->has_kernel = s->has_kernel_tcp = true;
	for (size_t i = 0; i < ARRAY_LEN(ent); i++) {
		memen1_t *e = (memen1_t *)((char *)s + ent[i].off);
		char f[64];
		snprintf(f, sizeof(f), "%susage_in_bytes", ent[i].prefix);
		read_u64(dfd, f, 0, &e->usage);
		snprintf(f, sizeof(f), "%smax_usage_in_bytes", ent[i].prefix);
		read_u64(dfd, f, 0, &e->max);
		snprintf(f, sizeof(f), "%sfailcnt", ent[i].prefix);
		read_u64(dfd, f, 0, &e->failcnt);
		snprintf(f, sizeof(f), "%slimit_in_bytes", ent[i].prefix);
		read_u64(dfd, f, 0, &e->limit);
	}
	m->has_memory_oom_control = kv_read(dfd, "memory.oom_control", rd->buf, v1_oomctl,
					    ARRAY_LEN(v1_oomctl), &m->memory_oom_control);
}

/* "/dev/<name>" of a block device, from /proc/partitions. */
static void devname(struct rd *rd, unsigned long long maj, unsigned long long min,
		    char *out, size_t cap)
{
	if (!rd->parts_read) {
		int fd = open_dir("%s", proc_root);
		rd->parts_read = true;
		if (fd >= 0) {
			if (read_at(fd, "partitions", rd->parts, PARTS_MAX) < 0)
				rd->parts[0] = 0;
			close(fd);
		}
	}
	const char *p = rd->parts;
	char line[256], name[58]; /* "/dev/" + name fits BlkIOEntry.device */
	unsigned long long a, b;
	while (next_line(&p, line, sizeof(line)))
		if (sscanf(line, "%llu %llu %*u %57s", &a, &b, name) == 3 && a == maj &&
		    b == min) {
			snprintf(out, cap, "/dev/%s", name);
			return;
		}
}

/* blkio lines: "8:0 Read 4096", "8:0 4096" (no op), "Total 4096" (skipped). */
static size_t blkio_read(int dfd, const char *name, struct rd *rd, pb_size_t *count,
			 blken1_t *e, size_t cap)
{
	if (read_at(dfd, name, rd->buf, READ_MAX) < 0)
		return 0;
	const char *p = rd->buf;
	char line[256], op[16];
	while (*count < cap && next_line(&p, line, sizeof(line))) {
		unsigned long long maj, min, v;
		blken1_t *x = &e[*count];
		if (sscanf(line, "%llu:%llu %15s %llu", &maj, &min, op, &v) == 4)
			snprintf(x->op, sizeof(x->op), "%s", op);
		else if (sscanf(line, "%llu:%llu %llu", &maj, &min, &v) != 3)
			continue;
		x->major = maj;
		x->minor = min;
		x->value = v;
		devname(rd, maj, min, x->device, sizeof(x->device));
		(*count)++;
	}
	return *count;
}

#define BLK(file, f)                                                                     \
	{                                                                                \
		file, offsetof(blk1_t, f##_count), offsetof(blk1_t, f),                  \
			ARRAY_LEN(((blk1_t *)0)->f)                                      \
	}
static const struct blkfile {
	const char *name;
	size_t cnt, arr, cap;
} v1_blkio_cfq[] = {
	BLK("blkio.sectors_recursive", sectors_recursive),
	BLK("blkio.io_service_bytes_recursive", io_service_bytes_recursive),
	BLK("blkio.io_serviced_recursive", io_serviced_recursive),
	BLK("blkio.io_queued_recursive", io_queued_recursive),
	BLK("blkio.io_service_time_recursive", io_service_time_recursive),
	BLK("blkio.io_wait_time_recursive", io_wait_time_recursive),
	BLK("blkio.io_merged_recursive", io_merged_recursive),
	BLK("blkio.time_recursive", io_time_recursive),
}, v1_blkio_throttle[] = {
	BLK("blkio.throttle.io_serviced_recursive", io_serviced_recursive),
	BLK("blkio.throttle.io_service_bytes_recursive", io_service_bytes_recursive),
	BLK("blkio.throttle.io_serviced", io_serviced_recursive),
	BLK("blkio.throttle.io_service_bytes", io_service_bytes_recursive),
};

/* CFQ/BFQ-era recursive stats first; when they are absent or all empty (no
 * device of the cgroup uses CFQ) the throttle counters, as containerd does.
 * Of the throttle files the recursive ones win when the kernel has them. */
static void v1_blkio(int dfd, m1_t *m, struct rd *rd)
{
	blk1_t *b = &m->blkio;
	size_t total = 0;
	m->has_blkio = true;
	for (size_t i = 0; i < ARRAY_LEN(v1_blkio_cfq); i++) {
		const struct blkfile *f = &v1_blkio_cfq[i];
		total += blkio_read(dfd, f->name, rd, (pb_size_t *)((char *)b + f->cnt),
				    (blken1_t *)((char *)b + f->arr), f->cap);
	}
	if (total)
		return;
	for (size_t i = 0; i < ARRAY_LEN(v1_blkio_throttle); i++) {
		const struct blkfile *f = &v1_blkio_throttle[i];
		pb_size_t *cnt = (pb_size_t *)((char *)b + f->cnt);
		if (!*cnt)
			blkio_read(dfd, f->name, rd, cnt,
				   (blken1_t *)((char *)b + f->arr), f->cap);
	}
}

static void v1_hugetlb(int dfd, m1_t *m, struct rd *rd)
{
	int n = hugepages();
	for (int i = 0; i < n && m->hugetlb_count < ARRAY_LEN(m->hugetlb); i++) {
		io_containerd_cgroups_v1_HugetlbStat *h = &m->hugetlb[m->hugetlb_count];
		char f[192];
		snprintf(f, sizeof(f), "hugetlb.%s.usage_in_bytes", hp_name[i]);
		if (read_u64(dfd, f, 0, &h->usage) < 0)
			continue;
		snprintf(f, sizeof(f), "hugetlb.%s.max_usage_in_bytes", hp_name[i]);
		read_u64(dfd, f, 0, &h->max);
		snprintf(f, sizeof(f), "hugetlb.%s.failcnt", hp_name[i]);
		read_u64(dfd, f, 0, &h->failcnt);
		PB_SETSTR(h->pagesize, hp_name[i]);
		m->hugetlb_count++;
	}
}

static void v1_rdma(int dfd, m1_t *m, struct rd *rd)
{
	m->has_rdma = true;
	RDMA_FILL(dfd, "rdma.current", rd->buf, m->rdma.current, m->rdma.current_count);
	RDMA_FILL(dfd, "rdma.max", rd->buf, m->rdma.limit, m->rdma.limit_count);
}

static const struct {
	const char *ctrl;
	void (*fill)(int dfd, m1_t *m, struct rd *rd);
} v1_ctrls[] = {
	{ "pids", v1_pids },	 { "cpu", v1_cpu },	{ "cpuacct", v1_cpuacct },
	{ "memory", v1_memory }, { "blkio", v1_blkio }, { "hugetlb", v1_hugetlb },
	{ "rdma", v1_rdma },
};

static int stats_v1(const char *pcg, struct rd *rd, m1_t *m)
{
	int found = 0;
	m->has_cpu = m->cpu.has_usage = m->cpu.has_throttling = true;
	for (size_t i = 0; i < ARRAY_LEN(v1_ctrls); i++) {
		int dfd = proccg_open(pcg, v1_ctrls[i].ctrl);
		if (dfd < 0)
			continue;
		v1_ctrls[i].fill(dfd, m, rd);
		close(dfd);
		found++;
	}
	return found ? 0 : -ENOENT;
}

/* ---- v2 ---- */

#define M2(f)                                                                            \
	{                                                                                \
#f, offsetof(mem2_t, f)                                                  \
	}
static const struct kv v2_memstat[] = {
	M2(anon),
	M2(file),
	M2(kernel_stack),
	M2(slab),
	M2(sock),
	M2(shmem),
	M2(file_mapped),
	M2(file_dirty),
	M2(file_writeback),
	M2(anon_thp),
	M2(inactive_anon),
	M2(active_anon),
	M2(inactive_file),
	M2(active_file),
	M2(unevictable),
	M2(slab_reclaimable),
	M2(slab_unreclaimable),
	M2(pgfault),
	M2(pgmajfault),
	M2(workingset_refault),
	M2(workingset_activate),
	M2(workingset_nodereclaim),
	M2(pgrefill),
	M2(pgscan),
	M2(pgsteal),
	M2(pgactivate),
	M2(pgdeactivate),
	M2(pglazyfree),
	M2(pglazyfreed),
	M2(thp_fault_alloc),
	M2(thp_collapse_alloc),
};

#define C2(f)                                                                            \
	{                                                                                \
#f, offsetof(cpu2_t, f)                                                  \
	}
static const struct kv v2_cpustat[] = {
	C2(usage_usec),	  C2(user_usec),      C2(system_usec), C2(nr_periods),
	C2(nr_throttled), C2(throttled_usec), C2(nr_bursts),   C2(burst_usec),
};

#define E2(f)                                                                            \
	{                                                                                \
#f, offsetof(ev2_t, f)                                                   \
	}
static const struct kv v2_events[] = {
	E2(low), E2(high), E2(max), E2(oom), E2(oom_kill),
};

/* "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and the same for "full". */
static bool psi_read(int dfd, const char *name, char *buf, psi_t *p)
{
	if (read_at(dfd, name, buf, READ_MAX) < 0)
		return false;
	const char *s = buf;
	char line[256], kind[8];
	while (next_line(&s, line, sizeof(line))) {
		io_containerd_cgroups_v2_PSIData d = { 0, 0, 0, 0 };
		unsigned long long total;
		if (sscanf(line, "%7s avg10=%lf avg60=%lf avg300=%lf total=%llu", kind,
			   &d.avg10, &d.avg60, &d.avg300, &total) != 5)
			continue;
		d.total = total;
		if (!strcmp(kind, "some")) {
			p->some = d;
			p->has_some = true;
		} else if (!strcmp(kind, "full")) {
			p->full = d;
			p->has_full = true;
		}
	}
	return true;
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
static void v2_io(int dfd, m2_t *m, char *buf)
{
	static const struct kv keys[] = {
		{ "rbytes", offsetof(io_containerd_cgroups_v2_IOEntry, rbytes) },
		{ "wbytes", offsetof(io_containerd_cgroups_v2_IOEntry, wbytes) },
		{ "rios", offsetof(io_containerd_cgroups_v2_IOEntry, rios) },
		{ "wios", offsetof(io_containerd_cgroups_v2_IOEntry, wios) },
	};
	m->has_io = true;
	if (read_at(dfd, "io.stat", buf, READ_MAX) >= 0) {
		const char *p = buf;
		char line[LINE_MAX_];
		while (m->io.usage_count < ARRAY_LEN(m->io.usage) &&
		       next_line(&p, line, sizeof(line))) {
			io_containerd_cgroups_v2_IOEntry *e =
				&m->io.usage[m->io.usage_count];
			unsigned long long maj, min;
			int used;
			if (sscanf(line, "%llu:%llu%n", &maj, &min, &used) != 2)
				continue;
			e->major = maj;
			e->minor = min;
			char *save = NULL;
			for (char *t = strtok_r(line + used, " ", &save); t;
			     t = strtok_r(NULL, " ", &save)) {
				char *eq = strchr(t, '=');
				if (!eq)
					continue;
				*eq = 0;
				for (size_t i = 0; i < ARRAY_LEN(keys); i++)
					if (!strcmp(t, keys[i].key)) {
						uint64_t v;
						if (parse_u64(eq + 1, UINT64_MAX, &v) ==
						    0)
							memcpy((char *)e + keys[i].off,
							       &v, sizeof(v));
						break;
					}
			}
			m->io.usage_count++;
		}
	}
	m->io.has_psi = psi_read(dfd, "io.pressure", buf, &m->io.psi);
}

static int stats_v2(const char *pcg, struct rd *rd, m2_t *m)
{
	char *buf = rd->buf;
	int dfd = proccg_open(pcg, NULL);
	if (dfd < 0)
		return dfd;

	m->has_pids = true;
	read_u64(dfd, "pids.current", UINT64_MAX, &m->pids.current);
	read_u64(dfd, "pids.max", UINT64_MAX, &m->pids.limit);

	m->has_cpu = true;
	kv_read(dfd, "cpu.stat", buf, v2_cpustat, ARRAY_LEN(v2_cpustat), &m->cpu);
	m->cpu.has_psi = psi_read(dfd, "cpu.pressure", buf, &m->cpu.psi);

	mem2_t *s = &m->memory;
	m->has_memory = true;
	kv_read(dfd, "memory.stat", buf, v2_memstat, ARRAY_LEN(v2_memstat), s);
	read_u64(dfd, "memory.current", UINT64_MAX, &s->usage);
	read_u64(dfd, "memory.max", UINT64_MAX, &s->usage_limit);
	read_u64(dfd, "memory.swap.current", UINT64_MAX, &s->swap_usage);
	read_u64(dfd, "memory.swap.max", UINT64_MAX, &s->swap_limit);
	read_u64(dfd, "memory.peak", UINT64_MAX, &s->max_usage);
	read_u64(dfd, "memory.swap.peak", UINT64_MAX, &s->swap_max_usage);
	s->has_psi = psi_read(dfd, "memory.pressure", buf, &s->psi);

	m->has_memory_events = kv_read(dfd, "memory.events", buf, v2_events,
				       ARRAY_LEN(v2_events), &m->memory_events);

	v2_io(dfd, m, buf);

	m->has_rdma = true;
	RDMA_FILL(dfd, "rdma.current", buf, m->rdma.current, m->rdma.current_count);
	RDMA_FILL(dfd, "rdma.max", buf, m->rdma.limit, m->rdma.limit_count);

	int n = hugepages();
	for (int i = 0; i < n && m->hugetlb_count < ARRAY_LEN(m->hugetlb); i++) {
		io_containerd_cgroups_v2_HugeTlbStat *h = &m->hugetlb[m->hugetlb_count++];
		char f[192];
		snprintf(f, sizeof(f), "hugetlb.%s.current", hp_name[i]);
		read_u64(dfd, f, UINT64_MAX, &h->current);
		snprintf(f, sizeof(f), "hugetlb.%s.max", hp_name[i]);
		read_u64(dfd, f, UINT64_MAX, &h->max);
		PB_SETSTR(h->pagesize, hp_name[i]);
	}
	close(dfd);
	return 0;
}

int cgroup_of(pid_t pid, char *buf, size_t cap)
{
	return proccg_read(pid, buf, cap);
}

int cgroup_stats(struct arena *a, pid_t pid, google_protobuf_Any *out)
{
	char *pcg = arena_alloc(a, PROCCG_MAX);
	int r;
	if (!pcg)
		return -ENOMEM;
	if ((r = proccg_read(pid, pcg, PROCCG_MAX)) < 0)
		return r;
	return cgroup_stats_of(a, pcg, out);
}

int cgroup_stats_of(struct arena *a, const char *procfile, google_protobuf_Any *out)
{
	size_t n = strlen(procfile);
	char *pcg = n < PROCCG_MAX ? arena_alloc(a, PROCCG_MAX) : NULL;
	struct rd rd = { arena_alloc(a, READ_MAX), arena_alloc(a, PARTS_MAX), false };
	int r;
	if (!pcg || !rd.buf || !rd.parts)
		return -ENOMEM;
	memcpy(pcg, procfile, n + 1);
	if (cg_unified()) {
		m2_t *m = arena_alloc(a, sizeof(*m));
		if (!m)
			return -ENOMEM;
		if ((r = stats_v2(pcg, &rd, m)) < 0)
			return r;
		PB_SETSTR(out->type_url, CGROUP_V2_METRICS_URL);
		return pb_encode_arena(a, &io_containerd_cgroups_v2_Metrics_msg, m,
				       &out->value);
	}
	m1_t *m = arena_alloc(a, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if ((r = stats_v1(pcg, &rd, m)) < 0)
		return r;
	PB_SETSTR(out->type_url, CGROUP_V1_METRICS_URL);
	return pb_encode_arena(a, &io_containerd_cgroups_v1_Metrics_msg, m, &out->value);
}
