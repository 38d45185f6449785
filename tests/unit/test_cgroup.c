/*
 * test_cgroup.c - tests for src/cgroup.c.
 *
 * On a cgroup v1 (or hybrid) host, run as root, it creates real cgroups
 * named shim-unit-test-<pid>[-*] under /sys/fs/cgroup/<controller>, moves
 * children into them, reads their statistics and provokes a real OOM kill.
 * The v2 code and the parsers are checked against fake cgroupfs and /proc
 * trees in a temporary directory (cgroup_set_roots).
 *
 * Prints "ok NAME" / "FAIL NAME: ..." / "skip NAME: ..." and ends with
 * "N passed, N failed"; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pb_decode.h>

#include "arena.h"
#include "cgroup.h"
#include "cgroups_v1_metrics.pb.h"
#include "cgroups_v2_metrics.pb.h"
#include "loop.h"
#include "pbcb.h"

#define CHECK_MAIN
#include "check.h"

static void skip(const char *name, const char *why)
{
	printf("skip %s: %s\n", name, why);
}

/* ---------------------------------------------------------------- helpers */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t n = strlen(s);
	int r = write(fd, s, n) == (ssize_t)n ? 0 : -errno;
	close(fd);
	return r;
}

static int writef(const char *dir, const char *name, const char *s)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return write_file(p, s);
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

static void mkdirs(const char *path)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static void rm_rf(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", path);
}

static void on_oom(void *ctx)
{
	(*(int *)ctx)++;
}

/* Run the loop until *counter changes or ms have passed. */
static void run_loop_until(int *counter, int start, int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		loop_run_once(50);
		if (*counter != start)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
		    ms)
			return;
	}
}

static void *decode(struct arena *a, const google_protobuf_Any *any,
		    const pb_msgdesc_t *fields, size_t size)
{
	void *m = arena_alloc(a, size);
	if (!m || pb_decode_arena(a, any->value.ptr, any->value.len, fields, m) < 0)
		return NULL;
	return m;
}

/* ---------------------------------------------------------- real cgroup v1 */

static const char *const v1_ctrls[] = { "memory", "cpuacct", "cpu", "pids", "blkio" };
#define NCTRL (sizeof(v1_ctrls) / sizeof(v1_ctrls[0]))

static int is_v1_host(void)
{
	struct statfs s;
	return geteuid() == 0 && statfs("/sys/fs/cgroup", &s) == 0 &&
	       s.f_type != 0x63677270 &&
	       access("/sys/fs/cgroup/memory/cgroup.event_control", W_OK) == 0;
}

static pid_t test_pid; /* names the cgroups, also from the children */

static void cg_dir(char *out, size_t cap, const char *ctrl, const char *suffix)
{
	snprintf(out, cap, "/sys/fs/cgroup/%s/shim-unit-test-%d%s", ctrl, (int)test_pid,
		 suffix);
}

static int cg_make(const char *ctrl, const char *suffix)
{
	char d[512];
	cg_dir(d, sizeof(d), ctrl, suffix);
	return mkdir(d, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

static void cg_remove(const char *ctrl, const char *suffix)
{
	char d[512];
	cg_dir(d, sizeof(d), ctrl, suffix);
	for (int i = 0; i < 50 && rmdir(d) < 0 && errno == EBUSY; i++)
		usleep(20000);
}

/* In the child: join the cgroups `suffix` of the given controllers. */
static void cg_join_self(const char *const *ctrls, size_t n, const char *suffix)
{
	char d[600];
	for (size_t i = 0; i < n; i++) {
		cg_dir(d, sizeof(d) - 20, ctrls[i], suffix);
		strcat(d, "/cgroup.procs");
		if (write_file(d, "0") < 0)
			_exit(126);
	}
}

/* A child in the test cgroups that execs sleep; returns once it runs. */
static pid_t spawn_sleeper(const char *const *ctrls, size_t n, const char *suffix)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		cg_join_self(ctrls, n, suffix);
		execl("/bin/sleep", "sleep", "100", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char c;
	while (read(p[0], &c, 1) > 0) /* EOF at exec */
		;
	close(p[0]);
	usleep(100000); /* let sleep fault its pages in */
	return pid;
}

static void reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void test_v1_stats(void)
{
	begin("v1 stats of a real cgroup");
	for (size_t i = 0; i < NCTRL; i++)
		CHECK(cg_make(v1_ctrls[i], "") == 0);
	pid_t pid = spawn_sleeper(v1_ctrls, NCTRL, "");
	CHECK(pid > 0);

	struct arena *a = arena_new();
	google_protobuf_Any any;
	io_containerd_cgroups_v1_Metrics *m = NULL;
	int r = -1;
	/* memory.stat lags behind the usage counter (per-cpu statistics are
	 * flushed every few seconds, later under load): wait for it to show the
	 * sleeper's pages */
	for (int tries = 0; tries < 50; tries++) {
		memset(&any, 0, sizeof(any));
		r = cgroup_stats(a, pid, &any);
		m = r == 0 ? decode(a, &any, io_containerd_cgroups_v1_Metrics_fields,
				    sizeof(*m))
			   : NULL;
		if (m && (m->memory.rss + m->memory.cache + m->memory.total_rss +
				  m->memory.total_cache + m->memory.active_anon +
				  m->memory.inactive_anon + m->memory.active_file +
				  m->memory.inactive_file >
			  0))
			break;
		usleep(100000);
	}
	CHECK(r == 0);
	CHECK(!strcmp(any.type_url, "io.containerd.cgroups.v1.Metrics"));
	CHECK(m != NULL);
	if (m) {
		CHECK(m->has_pids && m->pids.current >= 1);
		CHECK(m->pids.limit == 0); /* "max" */
		CHECK(m->has_cpu && m->cpu.has_usage && m->cpu.usage.total > 0);
		CHECK(m->cpu.usage.per_cpu_count >= 1);
		uint64_t sum = 0;
		for (pb_size_t i = 0; i < m->cpu.usage.per_cpu_count; i++)
			sum += m->cpu.usage.per_cpu[i];
		CHECK(sum > 0);
		CHECK(m->cpu.has_throttling);
		CHECK(m->has_memory && m->memory.has_usage);
		CHECK(m->memory.usage.usage > 0);
		CHECK(m->memory.usage.max >= m->memory.usage.usage);
		CHECK(m->memory.usage.limit > (1ull << 40));
		CHECK(m->memory.hierarchical_memory_limit > 0);
		CHECK(m->memory.rss + m->memory.cache > 0 ||
		      m->memory.total_rss + m->memory.total_cache > 0 ||
		      m->memory.active_anon + m->memory.inactive_anon +
				      m->memory.active_file + m->memory.inactive_file >
			      0);
		CHECK(m->has_memory_oom_control);
		CHECK(m->has_blkio);
		printf("# v1: pids %llu, cpu %llu ns over %u cpus, mem %llu (rss %llu, "
		       "cache %llu), %zu bytes encoded\n",
		       (unsigned long long)m->pids.current,
		       (unsigned long long)m->cpu.usage.total,
		       (unsigned)m->cpu.usage.per_cpu_count,
		       (unsigned long long)m->memory.usage.usage,
		       (unsigned long long)m->memory.rss,
		       (unsigned long long)m->memory.cache, any.value.len);
	}
	arena_free(a);

	/* Gone: a reaped child has no /proc entry. */
	reap(pid);
	a = arena_new();
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, pid, &any) == -ENOENT);
	CHECK(cgroup_oom_watch(pid, on_oom, &r) == -ENOENT);
	arena_free(a);
	for (size_t i = 0; i < NCTRL; i++)
		cg_remove(v1_ctrls[i], "");
	end();
}

/* The child of the OOM test: joins the limited cgroup, waits for the go
 * byte, then touches far more memory than allowed. */
static pid_t spawn_hog(const char *suffix, int *go)
{
	static const char *const mem[] = { "memory" };
	int ready[2], start[2];
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(start, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		cg_join_self(mem, 1, suffix);
		if (write(ready[1], "r", 1) != 1 || read(start[0], &c, 1) != 1)
			_exit(2);
		size_t len = 256u << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		for (size_t i = 0; i < len; i += 4096)
			p[i] = 1;
		_exit(0); /* not reached under the limit */
	}
	close(ready[1]);
	close(start[0]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	*go = start[1];
	return pid;
}

static void test_v1_oom(void)
{
	char d[512];
	begin("v1 oom watch: eventfd fires on a real OOM kill");
	CHECK(cg_make("memory", "-oom") == 0);
	cg_dir(d, sizeof(d), "memory", "-oom");
	CHECK(writef(d, "memory.limit_in_bytes", "8388608") == 0);
	writef(d, "memory.memsw.limit_in_bytes", "8388608"); /* if swap accounting */

	int go = -1, fired = 0;
	pid_t pid = spawn_hog("-oom", &go);
	CHECK(pid > 0);
	int h = cgroup_oom_watch(pid, on_oom, &fired);
	CHECK(h >= 0);
	CHECK(write(go, "g", 1) == 1);
	close(go);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* Drain before the loop has run: the Go shim's "OOM before exit". */
	cgroup_oom_drain(h);
	CHECK(fired >= 1);
	int after_drain = fired;
	run_loop_until(&fired, after_drain, 300);
	CHECK(fired == after_drain); /* the drain consumed the notification */

	/* Stats of the cgroup now show the kill (read through a sleeper). */
	static const char *const mem[] = { "memory" };
	pid_t s = spawn_sleeper(mem, 1, "-oom");
	struct arena *a = arena_new();
	google_protobuf_Any any;
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, s, &any) == 0);
	io_containerd_cgroups_v1_Metrics *m =
		decode(a, &any, io_containerd_cgroups_v1_Metrics_fields, sizeof(*m));
	CHECK(m && m->has_memory_oom_control && m->memory_oom_control.oom_kill >= 1);
	CHECK(m && m->memory.usage.limit == 8388608);
	CHECK(m && m->memory.usage.max >= (4u << 20)); /* it did reach the limit */
	arena_free(a);
	reap(s);
	cgroup_oom_unwatch(h);
	cgroup_oom_unwatch(h); /* twice is harmless */
	cg_remove("memory", "-oom");
	end();

	begin("v1 oom watch: loop callback, then cgroup removal is silent");
	CHECK(cg_make("memory", "-oom2") == 0);
	cg_dir(d, sizeof(d), "memory", "-oom2");
	CHECK(writef(d, "memory.limit_in_bytes", "8388608") == 0);
	writef(d, "memory.memsw.limit_in_bytes", "8388608");
	fired = 0;
	pid = spawn_hog("-oom2", &go);
	CHECK(pid > 0);
	h = cgroup_oom_watch(pid, on_oom, &fired);
	CHECK(h >= 0);
	CHECK(write(go, "g", 1) == 1);
	close(go);
	run_loop_until(&fired, 0, 5000);
	CHECK(fired >= 1);
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	run_loop_until(&fired, fired, 200); /* absorb repeated notifications */
	int before = fired;
	cg_remove("memory", "-oom2"); /* the kernel signals the eventfd once more */
	CHECK(access(d, F_OK) < 0);
	run_loop_until(&fired, before, 500);
	CHECK(fired == before);
	cgroup_oom_drain(h); /* quiet handle: no effect */
	CHECK(fired == before);
	cgroup_oom_unwatch(h);
	end();
}

/* ------------------------------------- real cgroup2 of a hybrid host */

/* A hybrid host's /sys/fs/cgroup/unified is a real cgroup2 hierarchy with
 * few or no controllers; cpu.stat and the PSI files are there regardless. */
static void test_v2_hybrid(void)
{
	static const char *const uni[] = { "unified" };
	begin("v2 stats of a real cgroup2 (the hybrid host's unified tree)");
	CHECK(cg_make("unified", "") == 0);
	pid_t pid = spawn_sleeper(uni, 1, "");
	CHECK(pid > 0);
	cgroup_set_roots("/sys/fs/cgroup/unified", NULL, 1);
	struct arena *a = arena_new();
	google_protobuf_Any any;
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, pid, &any) == 0);
	CHECK(!strcmp(any.type_url, "io.containerd.cgroups.v2.Metrics"));
	io_containerd_cgroups_v2_Metrics *m =
		decode(a, &any, io_containerd_cgroups_v2_Metrics_fields, sizeof(*m));
	CHECK(m != NULL);
	if (m) {
		CHECK(m->has_cpu && m->cpu.usage_usec > 0);
		CHECK(m->cpu.usage_usec >= m->cpu.user_usec);
		if (access("/sys/fs/cgroup/unified/cpu.pressure", F_OK) == 0)
			CHECK(m->cpu.has_psi && m->cpu.psi.has_some);
		printf("# v2: cpu %llu us, psi some total %llu, %zu bytes encoded\n",
		       (unsigned long long)m->cpu.usage_usec,
		       (unsigned long long)m->cpu.psi.some.total, any.value.len);
	}
	int fired = 0;
	int h = cgroup_oom_watch(pid, on_oom, &fired);
	CHECK(h == -ENOENT || h >= 0); /* -ENOENT: no memory controller here */
	if (h >= 0)
		cgroup_oom_unwatch(h);
	reap(pid);
	CHECK(cgroup_stats(a, pid, &any) == -ENOENT);
	arena_free(a);
	cgroup_set_roots(NULL, NULL, -1);
	cg_remove("unified", "");
	end();
}

/* ------------------------------------------------------- fake v2 cgroupfs */

static char tmp[256];

static void test_v2_fake(void)
{
	char cg[512], proc[512], dir[700], p[800];
	begin("v2 stats from a fake cgroupfs");
	snprintf(cg, sizeof(cg), "%s/cg2", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	snprintf(dir, sizeof(dir), "%s/kubepods/pod1/ctr", cg);
	mkdirs(dir);
	snprintf(p, sizeof(p), "%s/4242", proc);
	mkdirs(p);
	CHECK(writef(p, "cgroup", "0::/kubepods/pod1/ctr\n") == 0);
	writef(dir, "pids.current", "3\n");
	writef(dir, "pids.max", "max\n");
	writef(dir, "cpu.stat",
	       "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 7\n"
	       "nr_throttled 2\nthrottled_usec 55\nnr_bursts 1\nburst_usec 9\n");
	writef(dir, "cpu.pressure",
	       "some avg10=1.50 avg60=0.25 avg300=0.00 total=1234\n"
	       "full avg10=0.00 avg60=0.00 avg300=0.00 total=77\n");
	writef(dir, "memory.stat",
	       "anon 4096\nfile 8192\nkernel 999\nkernel_stack 16384\nslab 100\n"
	       "sock 0\nshmem 5\nfile_mapped 6\nfile_dirty 7\nfile_writeback 8\n"
	       "anon_thp 0\ninactive_anon 11\nactive_anon 12\ninactive_file 13\n"
	       "active_file 14\nunevictable 15\nslab_reclaimable 16\n"
	       "slab_unreclaimable 17\npgfault 18\npgmajfault 19\n"
	       "workingset_refault 20\nworkingset_activate 21\n"
	       "workingset_nodereclaim 22\npgrefill 23\npgscan 24\npgsteal 25\n"
	       "pgactivate 26\npgdeactivate 27\npglazyfree 28\npglazyfreed 29\n"
	       "thp_fault_alloc 30\nthp_collapse_alloc 31\n");
	writef(dir, "memory.current", "123456\n");
	writef(dir, "memory.max", "max\n");
	writef(dir, "memory.swap.current", "0\n");
	writef(dir, "memory.swap.max", "1048576\n");
	writef(dir, "memory.peak", "200000\n");
	writef(dir, "memory.events",
	       "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 0\n");
	writef(dir, "io.stat",
	       "8:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n"
	       "254:16 rbytes=1 wbytes=2 rios=5 wios=6 dbytes=0 dios=0\n");
	writef(dir, "hugetlb.2MB.current", "0\n");
	writef(dir, "hugetlb.2MB.max", "max\n");
	writef(dir, "cgroup.events", "populated 1\nfrozen 0\n");
	writef(dir, "rdma.current", "mlx4_0 hca_handle=2 hca_object=2000\n");
	writef(dir, "rdma.max", "mlx4_0 hca_handle=max hca_object=max\n");
	cgroup_set_roots(cg, proc, 1);

	struct arena *a = arena_new();
	google_protobuf_Any any;
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, 4242, &any) == 0);
	CHECK(!strcmp(any.type_url, "io.containerd.cgroups.v2.Metrics"));
	io_containerd_cgroups_v2_Metrics *m =
		decode(a, &any, io_containerd_cgroups_v2_Metrics_fields, sizeof(*m));
	CHECK(m != NULL);
	if (m) {
		CHECK(m->has_pids && m->pids.current == 3 && m->pids.limit == UINT64_MAX);
		CHECK(m->has_cpu && m->cpu.usage_usec == 1000 &&
		      m->cpu.user_usec == 600 && m->cpu.system_usec == 400 &&
		      m->cpu.nr_periods == 7 && m->cpu.nr_throttled == 2 &&
		      m->cpu.throttled_usec == 55 && m->cpu.nr_bursts == 1 &&
		      m->cpu.burst_usec == 9);
		CHECK(m->cpu.has_psi && m->cpu.psi.has_some && m->cpu.psi.has_full);
		CHECK(m->cpu.psi.some.avg10 == 1.5 && m->cpu.psi.some.avg60 == 0.25 &&
		      m->cpu.psi.some.total == 1234 && m->cpu.psi.full.total == 77);
		CHECK(m->has_memory && m->memory.anon == 4096 && m->memory.file == 8192 &&
		      m->memory.kernel_stack == 16384 &&
		      m->memory.thp_collapse_alloc == 31 && m->memory.pglazyfreed == 29 &&
		      m->memory.slab_unreclaimable == 17);
		CHECK(m->memory.usage == 123456 && m->memory.usage_limit == UINT64_MAX);
		CHECK(m->memory.swap_usage == 0 && m->memory.swap_limit == 1048576);
		CHECK(m->memory.max_usage == 200000 && m->memory.swap_max_usage == 0);
		CHECK(!m->memory.has_psi);
		CHECK(m->has_memory_events && m->memory_events.low == 1 &&
		      m->memory_events.high == 2 && m->memory_events.max == 3 &&
		      m->memory_events.oom == 4 && m->memory_events.oom_kill == 5);
		CHECK(m->has_io && m->io.usage_count == 2);
		CHECK(m->io.usage[0].major == 8 && m->io.usage[0].minor == 0 &&
		      m->io.usage[0].rbytes == 100 && m->io.usage[0].wbytes == 200 &&
		      m->io.usage[0].rios == 3 && m->io.usage[0].wios == 4);
		CHECK(m->io.usage[1].major == 254 && m->io.usage[1].minor == 16 &&
		      m->io.usage[1].wios == 6);
		CHECK(m->has_rdma && m->rdma.current_count == 1 &&
		      m->rdma.limit_count == 1);
		CHECK(!strcmp(m->rdma.current[0].device, "mlx4_0") &&
		      m->rdma.current[0].hca_handles == 2 &&
		      m->rdma.current[0].hca_objects == 2000);
		CHECK(m->rdma.limit[0].hca_handles == UINT32_MAX);
		int found2m = 0;
		for (pb_size_t i = 0; i < m->hugetlb_count; i++)
			if (!strcmp(m->hugetlb[i].pagesize, "2MB"))
				found2m = m->hugetlb[i].max == UINT64_MAX;
		if (access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0)
			CHECK(found2m);
	}
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, 4243, &any) == -ENOENT); /* no such pid */
	snprintf(p, sizeof(p), "%s/4244", proc);
	mkdirs(p);
	writef(p, "cgroup", "0::/gone\n");
	CHECK(cgroup_stats(a, 4244, &any) == -ENOENT); /* no such cgroup */
	arena_free(a);
	end();

	begin("v2 oom watch: inotify on memory.events, oom_kill increases");
	int fired = 0;
	int h = cgroup_oom_watch(4242, on_oom, &fired);
	CHECK(h >= 0);
	run_loop_until(&fired, 0, 100);
	CHECK(fired == 0); /* oom_kill 5 was there before the watch */
	writef(dir, "memory.events", "low 1\nhigh 2\nmax 3\noom 5\noom_kill 5\n");
	run_loop_until(&fired, 0, 300);
	CHECK(fired == 0); /* oom grew, oom_kill did not */
	writef(dir, "memory.events", "low 1\nhigh 2\nmax 3\noom 6\noom_kill 6\n");
	run_loop_until(&fired, 0, 2000);
	CHECK(fired == 1);
	writef(dir, "memory.events", "low 1\nhigh 2\nmax 3\noom 6\noom_kill 8\n");
	cgroup_oom_drain(h); /* without the loop */
	CHECK(fired == 2);
	run_loop_until(&fired, 2, 200);
	CHECK(fired == 2);
	writef(dir, "cgroup.events", "populated 0\nfrozen 0\n");
	run_loop_until(&fired, 2, 200);
	CHECK(fired == 2);
	cgroup_oom_unwatch(h);
	writef(dir, "memory.events", "low 1\nhigh 2\nmax 3\noom 6\noom_kill 9\n");
	run_loop_until(&fired, 2, 200);
	CHECK(fired == 2);
	CHECK(cgroup_oom_watch(4242, NULL, NULL) == -EINVAL);
	end();

	begin("v2 enable controllers in ancestors only");
	char got[256];
	writef(cg, "cgroup.controllers", "cpuset cpu io memory pids\n");
	writef(cg, "cgroup.subtree_control", "");
	snprintf(p, sizeof(p), "%s/kubepods", cg);
	writef(p, "cgroup.subtree_control", "");
	snprintf(p, sizeof(p), "%s/kubepods/pod1", cg);
	writef(p, "cgroup.subtree_control", "");
	writef(dir, "cgroup.subtree_control", "");
	cgroup_enable_controllers(4242);
	static const char want[] = "+cpuset+cpu+io+memory+pids";
	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", cg);
	CHECK(read_small(p, got, sizeof(got)) >= 0 && !strcmp(got, want));
	snprintf(p, sizeof(p), "%s/kubepods/cgroup.subtree_control", cg);
	CHECK(read_small(p, got, sizeof(got)) >= 0 && !strcmp(got, want));
	snprintf(p, sizeof(p), "%s/kubepods/pod1/cgroup.subtree_control", cg);
	CHECK(read_small(p, got, sizeof(got)) >= 0 && !strcmp(got, want));
	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir);
	CHECK(read_small(p, got, sizeof(got)) == 0); /* the leaf is untouched */
	end();
	cgroup_set_roots(NULL, NULL, -1);
}

/* ------------------------------------------------------- fake v1 cgroupfs */

static void test_v1_fake(void)
{
	char cg[512], proc[512], d[700], p[800];
	begin("v1 parsers: co-mounted cpu,cpuacct, blkio CFQ and throttle, partitions");
	snprintf(cg, sizeof(cg), "%s/cg1", tmp);
	snprintf(proc, sizeof(proc), "%s/proc1", tmp);
	snprintf(p, sizeof(p), "%s/5000", proc);
	mkdirs(p);
	writef(p, "cgroup",
	       "12:name=systemd:/x\n6:blkio:/x\n4:memory:/x\n3:cpu,cpuacct:/x\n"
	       "2:pids:/x\n0::/x\n");
	snprintf(p, sizeof(p), "%s/5001", proc);
	mkdirs(p);
	writef(p, "cgroup", "6:blkio:/y\n");
	writef(proc, "partitions",
	       "major minor  #blocks  name\n\n   8        0  1000 sda\n"
	       "   8        1   500 sda1\n 254        0  9999 vda\n");

	snprintf(d, sizeof(d), "%s/cpu,cpuacct/x", cg);
	mkdirs(d);
	writef(d, "cpuacct.usage", "5000\n");
	writef(d, "cpuacct.stat", "user 10\nsystem 20\n");
	writef(d, "cpuacct.usage_percpu", "1 2 3 4 \n");
	writef(d, "cpu.stat", "nr_periods 9\nnr_throttled 8\nthrottled_time 7\n");
	snprintf(d, sizeof(d), "%s/pids/x", cg);
	mkdirs(d);
	writef(d, "pids.current", "2\n");
	writef(d, "pids.max", "100\n");
	snprintf(d, sizeof(d), "%s/memory/x", cg);
	mkdirs(d);
	writef(d, "memory.stat",
	       "cache 1\nrss 2\nrss_huge 3\nshmem 99\nmapped_file 4\ndirty 5\n"
	       "writeback 6\npgpgin 7\npgpgout 8\npgfault 9\npgmajfault 10\n"
	       "inactive_anon 11\nactive_anon 12\ninactive_file 13\n"
	       "active_file 14\nunevictable 15\nhierarchical_memory_limit 16\n"
	       "hierarchical_memsw_limit 17\ntotal_cache 18\ntotal_rss 19\n"
	       "total_rss_huge 20\ntotal_mapped_file 21\ntotal_dirty 22\n"
	       "total_writeback 23\ntotal_pgpgin 24\ntotal_pgpgout 25\n"
	       "total_pgfault 26\ntotal_pgmajfault 27\ntotal_inactive_anon 28\n"
	       "total_active_anon 29\ntotal_inactive_file 30\n"
	       "total_active_file 31\ntotal_unevictable 32\n");
	writef(d, "memory.usage_in_bytes", "1000\n");
	writef(d, "memory.max_usage_in_bytes", "2000\n");
	writef(d, "memory.failcnt", "3\n");
	writef(d, "memory.limit_in_bytes", "9223372036854771712\n");
	writef(d, "memory.kmem.tcp.usage_in_bytes", "42\n");
	writef(d, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 4\n");
	snprintf(d, sizeof(d), "%s/blkio/x", cg);
	mkdirs(d);
	writef(d, "blkio.io_serviced_recursive", "Total 0\n");
	writef(d, "blkio.io_service_bytes_recursive",
	       "8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Async 0\n"
	       "8:0 Discard 0\n8:0 Total 300\n8:1 Read 1\nTotal 301\n");
	writef(d, "blkio.sectors_recursive", "8:0 16\n");
	writef(d, "blkio.time_recursive", "254:0 77\n");
	snprintf(d, sizeof(d), "%s/blkio/y", cg);
	mkdirs(d);
	writef(d, "blkio.io_serviced_recursive", "Total 0\n");
	writef(d, "blkio.throttle.io_serviced", "254:0 Read 3\n254:0 Write 4\nTotal 7\n");
	writef(d, "blkio.throttle.io_service_bytes", "254:0 Read 30\nTotal 30\n");
	writef(d, "blkio.throttle.io_service_bytes_recursive",
	       "254:0 Read 31\nTotal 31\n");
	cgroup_set_roots(cg, proc, 0);

	struct arena *a = arena_new();
	google_protobuf_Any any;
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, 5000, &any) == 0);
	io_containerd_cgroups_v1_Metrics *m =
		decode(a, &any, io_containerd_cgroups_v1_Metrics_fields, sizeof(*m));
	CHECK(m != NULL);
	if (m) {
		CHECK(m->cpu.usage.total == 5000);
		CHECK(m->cpu.usage.user == 100000000 && m->cpu.usage.kernel == 200000000);
		CHECK(m->cpu.usage.per_cpu_count == 4 && m->cpu.usage.per_cpu[3] == 4);
		CHECK(m->cpu.throttling.periods == 9 &&
		      m->cpu.throttling.throttled_periods == 8 &&
		      m->cpu.throttling.throttled_time == 7);
		CHECK(m->pids.current == 2 && m->pids.limit == 100);
		const io_containerd_cgroups_v1_MemoryStat *s = &m->memory;
		CHECK(s->cache == 1 && s->rss == 2 && s->rss_huge == 3 &&
		      s->mapped_file == 4 && s->dirty == 5 && s->writeback == 6 &&
		      s->pg_pg_in == 7 && s->pg_pg_out == 8 && s->pg_fault == 9 &&
		      s->pg_maj_fault == 10 && s->inactive_anon == 11 &&
		      s->active_anon == 12 && s->inactive_file == 13 &&
		      s->active_file == 14 && s->unevictable == 15 &&
		      s->hierarchical_memory_limit == 16 &&
		      s->hierarchical_swap_limit == 17);
		CHECK(s->total_cache == 18 && s->total_rss == 19 &&
		      s->total_rss_huge == 20 && s->total_mapped_file == 21 &&
		      s->total_dirty == 22 && s->total_writeback == 23 &&
		      s->total_pg_pg_in == 24 && s->total_pg_pg_out == 25 &&
		      s->total_pg_fault == 26 && s->total_pg_maj_fault == 27 &&
		      s->total_inactive_anon == 28 && s->total_active_anon == 29 &&
		      s->total_inactive_file == 30 && s->total_active_file == 31 &&
		      s->total_unevictable == 32);
		CHECK(s->has_usage && s->usage.usage == 1000 && s->usage.max == 2000 &&
		      s->usage.failcnt == 3 && s->usage.limit == 9223372036854771712ull);
		CHECK(s->has_swap && s->swap.usage == 0 && s->swap.limit == 0);
		CHECK(s->has_kernel_tcp && s->kernel_tcp.usage == 42);
		CHECK(m->has_memory_oom_control &&
		      m->memory_oom_control.oom_kill_disable == 1 &&
		      m->memory_oom_control.oom_kill == 4);
		const io_containerd_cgroups_v1_BlkIOStat *b = &m->blkio;
		CHECK(b->io_service_bytes_recursive_count == 7);
		CHECK(!strcmp(b->io_service_bytes_recursive[0].op, "Read") &&
		      !strcmp(b->io_service_bytes_recursive[0].device, "/dev/sda") &&
		      b->io_service_bytes_recursive[0].major == 8 &&
		      b->io_service_bytes_recursive[0].value == 100);
		CHECK(!strcmp(b->io_service_bytes_recursive[6].device, "/dev/sda1"));
		CHECK(b->sectors_recursive_count == 1 &&
		      b->sectors_recursive[0].op[0] == 0 &&
		      b->sectors_recursive[0].value == 16);
		CHECK(b->io_time_recursive_count == 1 &&
		      !strcmp(b->io_time_recursive[0].device, "/dev/vda"));
		CHECK(b->io_serviced_recursive_count == 0);
		CHECK(m->hugetlb_count == 0 && !m->has_rdma);
	}
	memset(&any, 0, sizeof(any));
	CHECK(cgroup_stats(a, 5001, &any) == 0);
	m = decode(a, &any, io_containerd_cgroups_v1_Metrics_fields, sizeof(*m));
	CHECK(m != NULL);
	if (m) {
		const io_containerd_cgroups_v1_BlkIOStat *b = &m->blkio;
		CHECK(b->io_serviced_recursive_count == 2 &&
		      b->io_serviced_recursive[1].value == 4 &&
		      !strcmp(b->io_serviced_recursive[1].device, "/dev/vda"));
		CHECK(b->io_service_bytes_recursive_count == 1 &&
		      b->io_service_bytes_recursive[0].value == 31);
		CHECK(!m->has_memory && !m->has_pids && m->has_cpu);
	}
	arena_free(a);
	end();
	cgroup_set_roots(NULL, NULL, -1);
}

static int file_is(const char *dir, const char *name, const char *want)
{
	char path[1024], buf[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strcmp(buf, want) == 0;
}

static void test_join_fake(void)
{
	char cg[512], proc[512], d[700], mi[4096], err[256];
	begin("ShimCgroup: v1 hierarchies from mountinfo, v2 created when missing");
	snprintf(cg, sizeof(cg), "%s/join", tmp);
	snprintf(proc, sizeof(proc), "%s/joinproc/self", tmp);
	mkdirs(proc);
	snprintf(mi, sizeof(mi),
		 "22 1 0:20 / /sys rw - sysfs sysfs rw\n"
		 "30 22 0:26 / %s/pids rw,nosuid - cgroup cgroup rw,pids\n"
		 "31 22 0:27 / %s/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu\n"
		 "32 22 0:28 / %s/memory rw,nosuid - cgroup cgroup rw,memory\n"
		 "33 22 0:29 / %s/unified rw - cgroup2 cgroup2 rw\n",
		 cg, cg, cg, cg);
	writef(proc, "mountinfo", mi);
	snprintf(proc, sizeof(proc), "%s/joinproc", tmp);
	/* in pids and cpu,cpuacct, not in memory; the cgroup2 mount is no v1 one */
	snprintf(d, sizeof(d), "%s/pids/shim/a", cg);
	mkdirs(d);
	writef(d, "cgroup.procs", "");
	snprintf(d, sizeof(d), "%s/cpu,cpuacct/shim/a", cg);
	mkdirs(d);
	writef(d, "cgroup.procs", "");
	snprintf(d, sizeof(d), "%s/memory", cg);
	mkdirs(d);
	snprintf(d, sizeof(d), "%s/unified/shim/a", cg);
	mkdirs(d);
	writef(d, "cgroup.procs", "");
	cgroup_set_roots(cg, proc, 0);
	CHECK(cgroup_join("/shim/a", 4242, err, sizeof(err)) == 0);
	snprintf(d, sizeof(d), "%s/pids/shim/a", cg);
	CHECK(file_is(d, "cgroup.procs", "4242"));
	snprintf(d, sizeof(d), "%s/cpu,cpuacct/shim/a", cg);
	CHECK(file_is(d, "cgroup.procs", "4242"));
	snprintf(d, sizeof(d), "%s/unified/shim/a", cg);
	CHECK(file_is(d, "cgroup.procs", ""));
	CHECK(cgroup_join("/nowhere", 1, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "not in any cgroup hierarchy") != NULL);
	CHECK(cgroup_join("/shim/../..", 1, err, sizeof(err)) == -EINVAL);

	/* v2: the missing cgroup is made; a failed write is an error */
	snprintf(cg, sizeof(cg), "%s/join2", tmp);
	mkdirs(cg);
	cgroup_set_roots(cg, proc, 1);
	CHECK(cgroup_join("pods/shim", 77, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "failed to join cgroup /pods/shim") != NULL);
	snprintf(d, sizeof(d), "%s/pods/shim", cg);
	struct stat st;
	CHECK(stat(d, &st) == 0 && S_ISDIR(st.st_mode));
	writef(d, "cgroup.procs", "");
	CHECK(cgroup_join("pods/shim", 77, err, sizeof(err)) == 0);
	CHECK(file_is(d, "cgroup.procs", "77"));
	cgroup_set_roots(NULL, NULL, -1);
	end();
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_pid = getpid();
	snprintf(tmp, sizeof(tmp), "/tmp/test_cgroup.%d", (int)getpid());
	mkdirs(tmp);
	if (loop_init() < 0) {
		printf("FAIL loop_init\n");
		return 1;
	}
	test_v1_fake();
	test_v2_fake();
	test_join_fake();
	if (is_v1_host()) {
		test_v1_stats();
		test_v1_oom();
		struct statfs u;
		if (statfs("/sys/fs/cgroup/unified", &u) == 0 && u.f_type == 0x63677270)
			test_v2_hybrid();
	} else {
		skip("v1 stats of a real cgroup", "not root on a cgroup v1 host");
		skip("v1 oom watch", "not root on a cgroup v1 host");
	}
	rm_rf(tmp);
	return check_summary();
}
