/*
 * test_lifecycle.c - the lifecycle model (container.c) on its own: no
 * server, no event client, no runc.  The hooks record what the model
 * reports, in order, and the tests check the ordering rules: no exit
 * before its start, the init's exit after its execs', orphans killed
 * first without a pid namespace, an OOM before the exit it caused; stale
 * references and unclaimed exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "loop.h"
#include "state.h"

#define CHECK_MAIN
#include "check.h"

/* what the hooks saw, as a string: "x:<id>" exit, "o" oom, "k" kill
 * orphans, "i:<id>" idle, "g" gone; "s:<id>" is the test's own start */
static char seen[512];

static void note(const char *what, const struct proc *p)
{
	size_t n = strlen(seen);
	snprintf(seen + n, sizeof(seen) - n, "%s%s%s ", what, p ? ":" : "",
		 p ? (p->id[0] ? p->id : "init") : "");
}

static void h_exited(struct proc *p)
{
	note("x", p);
}
static void h_oom(struct container *ct)
{
	note("o", NULL);
}
static int auto_kill = 1;
static void h_kill(struct container *ct)
{
	note("k", NULL);
	if (auto_kill)
		lc_orphans_killed(ct);
}
static void h_idle(struct proc *p)
{
	note("i", p);
}
static void h_gone(struct ref old)
{
	note("g", NULL);
}

#define SEEN(want)                                                                       \
	do {                                                                             \
		CHECK(strcmp(seen, want) == 0);                                          \
		if (strcmp(seen, want))                                                  \
			printf("  seen \"%s\"\n", seen);                                 \
	} while (0)

static const int W_EXIT = 3 << 8; /* exit status 3 */

/* A container with a running init of pid `pid`. */
static struct container *running(const char *id, pid_t pid, int own_pidns)
{
	struct container *ct = container_new(id);
	struct proc *init = proc_new(ct, "");
	ct->own_pidns = own_pidns;
	lc_job_begin(init, 1);
	lc_set_pid(init, pid);
	lc_event(init, PE_CREATED);
	lc_job_end(init);
	lc_event(init, PE_START);
	lc_event(init, PE_STARTED);
	return ct;
}

static struct proc *exec_running(struct container *ct, const char *id, pid_t pid)
{
	struct proc *p = proc_new(ct, id);
	lc_job_begin(p, 1);
	lc_event(p, PE_START);
	lc_set_pid(p, pid);
	note("s", p);
	lc_event(p, PE_STARTED);
	lc_job_end(p);
	return p;
}

/*
 * The size of a known state pins its layout to STATE_FORMAT: a change to
 * what lc_save (or io_save under it) writes changes the size, and must
 * bump STATE_FORMAT (state.h), or two builds that call themselves the same
 * format would read each other's state wrong.  Update both together.
 */
#define PINNED_FORMAT 2
#define PINNED_SIZE   741
static void test_state_pin(void)
{
	begin("state format: a known state's size is pinned to STATE_FORMAT");
	struct container *ct = running("pin", 9001, 1);
	ct->bundle = ct_str(ct, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/pin");
	struct proc *e = exec_running(ct, "exec-1", 9002);
	e->out = proc_str(e, "/run/containerd/fifo/exec-1-stdout");
	struct st_w w;
	st_w_init(&w);
	lc_save(&w);
	printf("# state of one container and one exec: %zu bytes\n", w.len);
	CHECK(w.err == 0);
	CHECK(STATE_FORMAT == PINNED_FORMAT && w.len == PINNED_SIZE);
	st_w_free(&w);
	container_free(ct);
	end();
}

static void test_table(void)
{
	begin("state table: allowed and refused transitions");
	seen[0] = 0;
	struct container *ct = container_new("t");
	struct proc *p = proc_new(ct, "");
	CHECK(p->state == PS_NEW && lc_status(p) == 0);
	CHECK(lc_event(p, PE_PAUSE) == -EINVAL && p->state == PS_NEW);
	CHECK(lc_event(p, PE_STARTED) == -EINVAL);
	CHECK(lc_event(p, PE_CREATED) == 0 && p->state == PS_CREATED);
	CHECK(lc_status(p) == 1);
	CHECK(lc_event(p, PE_PAUSE) == -EINVAL);
	CHECK(lc_event(p, PE_START) == 0 && p->state == PS_STARTING && lc_status(p) == 1);
	CHECK(lc_event(p, PE_START) == -EINVAL);
	CHECK(lc_event(p, PE_START_FAILED) == 0 && p->state == PS_CREATED);
	CHECK(lc_event(p, PE_START) == 0 && lc_event(p, PE_STARTED) == 0);
	CHECK(p->state == PS_RUNNING && lc_status(p) == 2 && p->published);
	CHECK(lc_event(p, PE_DELETE) == -EINVAL); /* running */
	CHECK(lc_event(p, PE_PAUSE) == 0 && lc_status(p) == 5);
	CHECK(lc_event(p, PE_PAUSE_FAILED) == 0 && p->state == PS_RUNNING);
	CHECK(lc_event(p, PE_PAUSE) == 0 && lc_event(p, PE_PAUSED) == 0);
	CHECK(lc_status(p) == 4);
	struct proc *e = proc_new(ct, "e1");
	CHECK(lc_status(e) == 4); /* an exec of a paused container is paused */
	CHECK(lc_event(p, PE_RESUMED) == 0 && p->state == PS_RUNNING);
	CHECK(lc_event(p, PE_EXIT) == -EINVAL); /* exits come from reaping only */
	CHECK(lc_event(e, PE_DELETE) == 0);	/* an exec never started */
	container_free(ct);
	CHECK(container_count() == 0);
	end();
}

/*
 * "May I?": the refusals against the Go shim's init_state.go, where each
 * state answers each verb (v2.3; Exec there is the creation of an exec,
 * here its start, which is where this shim checks the init's state).
 * 1: the Go shim lets the verb go ahead in that state; 0: it refuses.
 */
static void test_may(void)
{
	begin("may I: the verb x state refusals agree with the Go shim's states");
	static const struct {
		const char *go;
		enum pstate ours;
		int start, del, pause, resume, checkpoint, exec;
	} go[] = {
		{ "created", PS_CREATED, 1, 1, 0, 0, 0, 1 },
		{ "running", PS_RUNNING, 0, 0, 1, 0, 1, 1 },
		{ "paused", PS_PAUSED, 0, 0, 0, 1, 1, 0 },
		{ "stopped", PS_STOPPED, 0, 1, 0, 0, 0, 0 },
	};
	struct container *ct = container_new("m");
	struct proc *p = proc_new(ct, "");
	for (size_t i = 0; i < sizeof(go) / sizeof(go[0]); i++) {
		p->state = go[i].ours;
		p->reaped = go[i].ours == PS_STOPPED;
		int got[6] = { !lc_may(p, LV_START),	  !lc_may(p, LV_DELETE),
			       !lc_may(p, LV_PAUSE),	  !lc_may(p, LV_RESUME),
			       !lc_may(p, LV_CHECKPOINT), !lc_may(p, LV_EXEC_IN) };
		int want[6] = { go[i].start,  go[i].del,	go[i].pause,
				go[i].resume, go[i].checkpoint, go[i].exec };
		for (int v = 0; v < 6; v++)
			if (got[v] != want[v]) {
				CHECK(got[v] == want[v]);
				printf("  %s: verb %d: ours %d, the Go shim %d\n", go[i].go, v,
				       got[v], want[v]);
			}
	}
	/* the Go shim's own words where they are the same refusal */
	p->state = PS_CREATED;
	p->reaped = 0;
	CHECK(!strcmp(lc_may(p, LV_CHECKPOINT)->why, "cannot checkpoint a task in created state"));
	p->state = PS_STOPPED;
	p->reaped = 1;
	CHECK(!strcmp(lc_may(p, LV_CHECKPOINT)->why, "cannot checkpoint a stopped container"));
	CHECK(!strcmp(lc_may(p, LV_PAUSE)->why, "cannot pause a stopped container"));
	CHECK(!strcmp(lc_may(p, LV_RESUME)->why, "cannot resume a stopped container"));
	CHECK(lc_may(p, LV_PAUSE)->code == ST_FAILED_PRECONDITION);
	/* an exit reaped but not yet reported: no longer running, not stopped */
	p->state = PS_RUNNING;
	CHECK(lc_may(p, LV_DELETE) && lc_may(p, LV_PAUSE) && lc_may(p, LV_CHECKPOINT));
	CHECK(lc_may(p, LV_EXEC_IN)->who == LW_CONTAINER);
	/* an exec: deleted before its start, started once */
	struct proc *e = proc_new(ct, "e");
	CHECK(!lc_may(e, LV_DELETE_EXEC) && !lc_may(e, LV_START_EXEC));
	e->state = PS_RUNNING;
	CHECK(lc_may(e, LV_START_EXEC)->who == LW_PROCESS && lc_may(e, LV_DELETE_EXEC));
	/* the init of a new container may not go before its Create ends */
	p->state = PS_NEW;
	p->reaped = 0;
	CHECK(lc_may(p, LV_DELETE) && !lc_may(NULL, LV_DELETE) && lc_may(NULL, LV_EXEC_IN));
	container_free(ct);
	end();
}

static void test_refs(void)
{
	begin("references go stale when their slot is freed and reused");
	struct container *ct = container_new("a");
	struct proc *p = proc_new(ct, "x");
	struct ref rc = ct_ref(ct), rp = proc_ref(p);
	CHECK(ct_get(rc) == ct && proc_get(rp) == p);
	container_free(ct);
	CHECK(ct_get(rc) == NULL && proc_get(rp) == NULL);
	struct container *ct2 = container_new("b");
	struct proc *p2 = proc_new(ct2, "y");
	CHECK(ct2 == ct && p2 == p); /* the same slots */
	CHECK(ct_get(rc) == NULL && proc_get(rp) == NULL);
	CHECK(ct_get(ct_ref(ct2)) == ct2 && proc_get(proc_ref(p2)) == p2);
	struct ref none = { 0, 0 };
	CHECK(proc_get(none) == NULL);
	container_free(ct2);
	end();
}

static void test_exit_after_start(void)
{
	begin("no exit before its start: reaped during start, reported after");
	seen[0] = 0;
	struct container *ct = running("c1", 1001, 1);
	seen[0] = 0;
	struct proc *e = proc_new(ct, "e");
	lc_job_begin(e, 1);
	lc_event(e, PE_START);
	lc_reaped(1002, W_EXIT); /* before runc exec wrote its pid file */
	CHECK(lc_unclaimed() == 1);
	lc_set_pid(e, 1002);
	CHECK(lc_unclaimed() == 0 && lc_exited(e) && !lc_exit_done(e));
	SEEN("");
	CHECK(lc_status(e) == 1); /* still starting */
	note("s", e);
	lc_event(e, PE_STARTED);
	lc_job_end(e);
	SEEN("s:e x:e i:e ");
	CHECK(lc_exit_done(e) && e->exit_status == 3 && lc_status(e) == 3);
	container_free(ct);
	end();
}

static void test_init_after_execs(void)
{
	begin("the init's exit after its execs' exits");
	seen[0] = 0;
	struct container *ct = running("c2", 2001, 1);
	seen[0] = 0;
	exec_running(ct, "a", 2002);
	exec_running(ct, "b", 2003);
	lc_reaped(2001, 9); /* SIGKILL */
	CHECK(ct->init->reaped && !lc_exit_done(ct->init));
	CHECK(lc_status(ct->init) == 2); /* held: still running */
	lc_reaped(2003, 0);
	lc_reaped(2002, 0);
	SEEN("s:a i:a s:b i:b x:b x:a x:init ");
	CHECK(ct->init->exit_status == 137);
	container_free(ct);
	end();
}

static void test_orphans_first(void)
{
	begin("no pid namespace: orphans killed before the init's exit");
	seen[0] = 0;
	auto_kill = 0;
	struct container *ct = running("c3", 3001, 0);
	seen[0] = 0;
	lc_reaped(3001, 0);
	SEEN("k ");
	lc_reaped(3001, 0); /* a second reap of the pid changes nothing */
	SEEN("k ");
	lc_orphans_killed(ct);
	SEEN("k x:init ");
	auto_kill = 1;
	container_free(ct);
	end();
}

static void test_failed_exec(void)
{
	begin("a failed exec start is reported at once with 255");
	seen[0] = 0;
	struct container *ct = running("c4", 4001, 1);
	seen[0] = 0;
	struct proc *e = proc_new(ct, "bad");
	lc_job_begin(e, 1);
	lc_event(e, PE_START);
	lc_start_failed(e);
	SEEN("x:bad ");
	CHECK(lc_exit_done(e) && e->exit_status == 255 && !e->published);
	lc_job_end(e);
	/* and the init, once it exits, does not wait for it */
	lc_reaped(4001, 0);
	SEEN("x:bad i:bad x:init ");
	container_free(ct);
	end();
}

static void test_unclaimed(void)
{
	begin("an unclaimed exit is kept only while a pid-reporting job runs");
	seen[0] = 0;
	struct container *ct = running("c5", 5001, 1);
	lc_reaped(5555, 0); /* an orphan, no job in flight: dropped */
	CHECK(lc_unclaimed() == 0);
	struct proc *e = proc_new(ct, "e");
	lc_job_begin(e, 1);
	lc_event(e, PE_START);
	lc_reaped(5556, 0); /* an orphan during the job, never claimed */
	CHECK(lc_unclaimed() == 1);
	lc_set_pid(e, 5557);
	note("s", e);
	lc_event(e, PE_STARTED);
	lc_job_end(e);
	CHECK(lc_unclaimed() == 0); /* dropped with the job */
	CHECK(!lc_exited(e));
	/* a later exec that gets the orphan's pid is not stopped by it */
	struct proc *f = proc_new(ct, "f");
	lc_job_begin(f, 1);
	lc_event(f, PE_START);
	lc_set_pid(f, 5556);
	CHECK(!lc_exited(f));
	/* an exit reaped before a job began is never matched to it */
	struct proc *g = proc_new(ct, "g");
	lc_reaped(5560, 0);
	CHECK(lc_unclaimed() == 1); /* f's job is in flight */
	lc_job_begin(g, 1);
	lc_event(g, PE_START);
	lc_set_pid(g, 5560);
	CHECK(!lc_exited(g));
	lc_job_end(f);
	lc_job_end(g);
	CHECK(lc_unclaimed() == 0);
	container_free(ct);
	end();
}

static int writef(const char *dir, const char *name, const char *s)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void test_oom_before_exit(void)
{
	begin("an OOM kill is reported before the exit it caused");
	seen[0] = 0;
	char tmp[] = "/tmp/lc-unit-XXXXXX", cg[64], proc[64], dir[96], pd[96];
	CHECK(mkdtemp(tmp) != NULL);
	snprintf(cg, sizeof(cg), "%s/cg", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	snprintf(dir, sizeof(dir), "%s/ctr", cg);
	snprintf(pd, sizeof(pd), "%s/6001", proc);
	mkdir(cg, 0755);
	mkdir(proc, 0755);
	mkdir(dir, 0755);
	mkdir(pd, 0755);
	CHECK(writef(pd, "cgroup", "0::/ctr\n") == 0);
	CHECK(writef(dir, "memory.events", "oom 0\noom_kill 0\n") == 0);
	CHECK(writef(dir, "cgroup.events", "populated 1\n") == 0);
	cgroup_set_roots(cg, proc, 1);
	struct container *ct = running("c6", 6001, 1);
	seen[0] = 0;
	lc_watch_oom(ct, 6001);
	CHECK(ct->oom_watch >= 0);
	/* the kill lands, and the exit is reaped before the loop saw it */
	CHECK(writef(dir, "memory.events", "oom 1\noom_kill 1\n") == 0);
	lc_reaped(6001, 9);
	SEEN("o x:init ");
	container_free(ct);
	cgroup_set_roots(NULL, NULL, -1);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	CHECK(system(cmd) == 0);
	end();
}

static void test_gone(void)
{
	begin("removing a process reports it gone; its jobs end quietly");
	seen[0] = 0;
	struct container *ct = running("c7", 7001, 1);
	seen[0] = 0;
	struct proc *e = proc_new(ct, "e");
	lc_job_begin(e, 0);
	struct ref r = proc_ref(e);
	lc_event(e, PE_DELETE);
	CHECK(strcmp(seen, "g ") == 0 && proc_get(r) == NULL);
	container_free(ct);
	SEEN("g g ");
	end();
}

/* The exit waits until the output is with its reader: an exec's stdout
 * goes through a copy into a FIFO; its exit is reported only once the
 * test has read it all, and the init's (held by the exec) after it.  A
 * reader that never reads holds an exit IO_EXIT_STALL_NS at most. */
static void test_exit_after_output(void)
{
	begin("the exit waits until the output is with its reader (bounded)");
	char dir[] = "/tmp/lc-out.XXXXXX", fifo[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/out", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	seen[0] = 0;
	struct container *ct = running("c8", 8001, 1);
	struct proc *e = exec_running(ct, "a", 8002);
	struct io_cfg cfg = { .in = "", .out = fifo, .err = "" };
	CHECK(io_open(&e->io, &cfg) == 0);
	int reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	static char buf[200000], back[sizeof(buf)];
	memset(buf, 'y', sizeof(buf));
	size_t put = 0;
	fcntl(e->io.child[1], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100 && put < 100000; i++) { /* what fits: FIFO + pipe */
		ssize_t k = write(e->io.child[1], buf, 100000 - put);
		if (k > 0)
			put += (size_t)k;
		loop_run_once(1);
	}
	CHECK(put == 100000);
	io_child_close(&e->io); /* the process is gone: EOF follows */
	seen[0] = 0;
	lc_reaped(8002, 0);
	lc_reaped(8001, 0);
	for (int i = 0; i < 20; i++)
		loop_run_once(2);
	SEEN(""); /* nothing read yet: no exit */
	CHECK(lc_status(e) == 2 && lc_status(ct->init) == 2);
	size_t got = 0;
	for (int i = 0; i < 500 && !strstr(seen, "x:init"); i++) {
		ssize_t k = read(reader, back, sizeof(back));
		if (k > 0)
			got += (size_t)k;
		loop_run_once(2);
	}
	CHECK(got == 100000);
	SEEN("x:a x:init ");
	close(reader);
	container_free(ct);

	/* nobody reads: the exit comes after the stall bound, the bytes stay */
	seen[0] = 0;
	ct = running("c9", 9001, 1);
	CHECK(io_open(&ct->init->io, &cfg) == 0);
	CHECK(write(ct->init->io.child[1], buf, 30000) == 30000);
	io_child_close(&ct->init->io);
	seen[0] = 0;
	int64_t t0 = loop_now_ns();
	lc_reaped(9001, 0);
	while (!seen[0] && loop_now_ns() - t0 < 3 * IO_EXIT_STALL_NS)
		loop_run_once(50);
	int64_t held = loop_now_ns() - t0;
	SEEN("x:init ");
	CHECK(held >= IO_EXIT_STALL_NS && held < 2 * IO_EXIT_STALL_NS);
	reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(read(reader, back, sizeof(back)) == 30000); /* kept for a late reader */
	close(reader);
	container_free(ct);
	unlink(fifo);
	rmdir(dir);
	end();
}

int main(void)
{
	lc_hooks.exited = h_exited;
	lc_hooks.oom = h_oom;
	lc_hooks.kill_orphans = h_kill;
	lc_hooks.idle = h_idle;
	lc_hooks.gone = h_gone;
	if (loop_init() < 0)
		return 1;
	test_state_pin();
	test_table();
	test_may();
	test_refs();
	test_exit_after_start();
	test_init_after_execs();
	test_orphans_first();
	test_failed_exec();
	test_unclaimed();
	test_oom_before_exit();
	test_gone();
	test_exit_after_output();
	return check_summary();
}
