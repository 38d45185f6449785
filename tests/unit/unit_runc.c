/*
 * unit_runc.c - unit tests: runc as an asynchronous child (runc.c): the
 * global flags, the exit code rule, pid files, the error text, and a job's
 * completion with its captured output, reaped the way main.c reaps.
 */
#include "unit.h"

#include "runc.h"
#include "spawn.h"

static int job_status = -1000, job_calls;
static char job_out[256];

static void job_done(void *ctx, int status, const char *out, size_t outlen)
{
	job_calls++;
	job_status = status;
	snprintf(job_out, sizeof(job_out), "%.*s", (int)outlen, out);
}

/* Reap as main.c does, handing our children to spawn_reaped, until the job
 * has completed (or 5 s). */
static void reap_until_done(void)
{
	for (int i = 0; i < 500 && !job_calls; i++) {
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			spawn_reaped(p, st);
		loop_run_once(10);
	}
}

void test_runc(void)
{
	begin("runc: global flags, exit codes, pid files, the error text");
	struct arena *a = arena_new();
	struct runc_cfg cfg = { .binary = "",
				.root = "/run/r/ns",
				.bundle = "/b",
				.criu = "",
				.systemd_cgroup = 0 };
	size_t n = 0;
	const char **v = runc_argv(a, &cfg, 2, &n);
	CHECK(v && n == 7 && !strcmp(v[0], "runc") && !strcmp(v[2], "/run/r/ns") &&
	      !strcmp(v[4], "/b/log.json") && !strcmp(v[6], "json"));
	cfg.binary = "/usr/bin/crun";
	cfg.criu = "/opt/criu";
	cfg.systemd_cgroup = 1;
	v = runc_argv(a, &cfg, 0, &n);
	CHECK(v && n == 10 && !strcmp(v[0], "/usr/bin/crun") &&
	      !strcmp(v[7], "--systemd-cgroup") && !strcmp(v[9], "/opt/criu"));
	CHECK(runc_exit_code(3 << 8) == 3 && runc_exit_code(9) == 137 &&
	      runc_exit_code(0) == 0);

	char dir[] = "/tmp/unit-runc.XXXXXX", f[96];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(f, sizeof(f), "%s/pid", dir);
	CHECK(runc_read_pid(f) == -ENOENT);
	FILE *w = fopen(f, "w");
	fputs("4242\n", w);
	fclose(w);
	CHECK(runc_read_pid(f) == 4242);
	w = fopen(f, "w");
	fputs("x1\n", w);
	fclose(w);
	CHECK(runc_read_pid(f) == -EINVAL);

	/* the last error line of log.json, else what runc printed, else the
	 * status; an exec failure names the binary */
	cfg.bundle = dir;
	cfg.binary = "";
	char *m =
		runc_error(a, &cfg, "OCI runtime create failed", 1 << 8, "printed\n", 8);
	CHECK(m && !strcmp(m, "OCI runtime create failed: printed"));
	m = runc_error(a, &cfg, "x failed", 2 << 8, "", 0);
	CHECK(m && !strcmp(m, "x failed: exit status 2"));
	m = runc_error(a, &cfg, "x failed", -ENOENT, "", 0);
	CHECK(m && strstr(m, "exec runc") && strstr(m, "No such file"));
	snprintf(f, sizeof(f), "%s/log.json", dir);
	w = fopen(f, "w");
	fputs("{\"level\":\"info\",\"msg\":\"fine\"}\n"
	      "{\"level\":\"error\",\"msg\":\"first\"}\n"
	      "{\"level\":\"error\",\"msg\":\"unable to start: the last\"}\n",
	      w);
	fclose(w);
	m = runc_error(a, &cfg, "OCI runtime create failed", 1 << 8, "printed\n", 8);
	CHECK(m && !strcmp(m, "OCI runtime create failed: unable to start: the last"));
	unlink(f);
	snprintf(f, sizeof(f), "%s/pid", dir);
	unlink(f);
	rmdir(dir);
	arena_free(a);
	end();

	begin("runc: a job completes once, with its status and captured output");
	CHECK(loop_init() == 0);
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	int fds[3] = { -1, -1, -1 }, err = 0;
	job_calls = 0;
	uint32_t job = runc_spawn(argv, fds, -1, RUNC_CAPTURE, job_done, NULL, &err);
	CHECK(job != 0 && err == 0);
	reap_until_done();
	CHECK(job_calls == 1 && WIFEXITED(job_status) && WEXITSTATUS(job_status) == 3);
	CHECK(strstr(job_out, "out") && strstr(job_out, "err"));
	CHECK(runc_cancel(job) == -ESRCH); /* it has ended: a stale handle */

	/* cancelled: SIGKILL, and the callback still runs, once */
	const char *slow[] = { "sh", "-c", "exec sleep 30", NULL };
	job_calls = 0;
	job = runc_spawn(slow, fds, -1, 0, job_done, NULL, &err);
	CHECK(job != 0 && runc_cancel(job) == 0);
	reap_until_done();
	CHECK(job_calls == 1 && WIFSIGNALED(job_status) &&
	      WTERMSIG(job_status) == SIGKILL);

	/* an exec failure is runc_spawn's own error; no callback */
	const char *missing[] = { "/nonexistent/runc", NULL };
	job_calls = 0;
	job = runc_spawn(missing, fds, -1, 0, job_done, NULL, &err);
	CHECK(job == 0 && err == -ENOENT);
	for (int i = 0; i < 5; i++)
		loop_run_once(5);
	CHECK(job_calls == 0);
	end();
}
