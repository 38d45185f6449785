/*
 * unit_spawn.c - unit tests: the one way children start (spawn.c): exactly
 * the fds asked for, a clean signal mask, no NOTIFY_SOCKET, and an exec
 * failure returned as an errno with nothing left to reap.
 */
#include "unit.h"

#include "spawn.h"

static int seen_a, seen_b, seen_c;
static void on_child(void *ctx, pid_t pid, int status)
{
	(void)pid;
	*(int *)ctx = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run sh -c script with fds 0-2 (/dev/null, a pipe, the pipe) and `extra`
 * as fd 3 if >= 0; returns what it printed and its exit status. */
static int run_sh(const char *script, int extra, char *out, size_t cap, int *status)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	int fds[4] = { -1, p[1], p[1], extra };
	const char *argv[] = { "sh", "-c", script, NULL };
	struct spawn_req s = { .argv = argv, .fds = fds, .nfds = extra >= 0 ? 4 : 3 };
	pid_t pid = spawn(&s);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return (int)pid;
	}
	size_t n = 0;
	ssize_t k;
	while (n + 1 < cap && (k = read(p[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = 0;
	close(p[0]);
	waitpid(pid, status, 0);
	return 0;
}

void test_spawn(void)
{
	begin("spawn: exactly the fds asked for, clean mask, no NOTIFY_SOCKET");
	char out[512];
	int st = -1;
	/* a stray fd of ours (CLOEXEC, as all of them) does not leak */
	int stray = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char script[160];
	snprintf(script, sizeof(script),
		 "for n in 0 1 2 3 %d; do [ -e /proc/self/fd/$n ] && printf '%%s ' $n; "
		 "done; "
		 "readlink /proc/self/fd/3",
		 stray);
	CHECK(run_sh(script, extra, out, sizeof(out), &st) == 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(!strcmp(out, "0 1 2 3 /dev/null\n"));
	if (strcmp(out, "0 1 2 3 /dev/null\n"))
		printf("  fds: %s", out);
	close(stray);
	close(extra);

	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	CHECK(run_sh("grep SigBlk /proc/self/status; echo ${NOTIFY_SOCKET:-none}", -1,
		     out, sizeof(out), &st) == 0);
	CHECK(strstr(out, "SigBlk:\t0000000000000000") && strstr(out, "none\n"));
	unsetenv("NOTIFY_SOCKET");
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* an exec failure: its errno, and the failed child already reaped */
	const char *argv[] = { "/nonexistent/binary", NULL };
	int fds[3] = { -1, -1, -1 };
	struct spawn_req s = { .argv = argv, .fds = fds, .nfds = 3 };
	while (waitpid(-1, &st, WNOHANG) > 0) /* what earlier tests left */
		;
	CHECK(spawn(&s) == -ENOENT);
	CHECK(waitpid(-1, &st, WNOHANG) <= 0); /* no zombie: it was reaped */
	CHECK(spawn_children() == 0);		/* nor followed */
	end();

	begin("spawn: the one reaper runs each child's owner once, by pid");
	const char *sh_argv[] = { "sh", "-c", "exit 3", NULL };
	struct spawn_req f = { .argv = sh_argv, .fds = fds, .nfds = 3,
			       .on_exit = on_child, .ctx = &seen_a };
	pid_t a = spawn(&f);
	f.ctx = &seen_b;
	pid_t b = spawn(&f);
	CHECK(a > 0 && b > 0 && spawn_children() == 2);
	CHECK(spawn_rebind(b, on_child, &seen_c) == 0);
	CHECK(spawn_rebind(1, on_child, &seen_c) == -ESRCH);
	pid_t p;
	int reaped = 0;
	while (reaped < 2 && (p = waitpid(-1, &st, 0)) > 0)
		reaped += spawn_reaped(p, st);
	CHECK(reaped == 2 && spawn_children() == 0);
	CHECK(seen_a == 3 && seen_b == 0 && seen_c == 3); /* b's new owner */
	CHECK(spawn_reaped(a, 0) == 0); /* gone: a container's pid now */
	end();
}
