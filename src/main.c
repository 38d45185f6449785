/*
 * main.c - command line dispatch and the daemon.
 *
 * Layer: face (README, "Architecture").
 *
 * containerd runs this binary three ways: `start` (prints the socket
 * address and leaves a daemon behind), `delete` (cleans up after a dead
 * shim), and, from `start`, the daemon itself with no action and the
 * listening socket as fd 3.  The daemon is one thread: an epoll loop fed by
 * the ttrpc sockets, runc's pipes, the container stdio copies and a
 * signalfd.  Initialisation may exit with a message; once the loop runs,
 * nothing a request or a container does ends the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "bootstrap.h"
#include "container.h"
#include "events.h"
#include "flags.h"
#include "log.h"
#include "loop.h"
#include "pages.h"
#include "park.h"
#include "runc.h"
#include "spawn.h"
#include "task.h"
#include "ttrpc.h"
#include "upgrade.h"

#ifndef SHIM_VERSION
#define SHIM_VERSION "0.1.0"
#endif
#ifndef SHIM_REVISION
#define SHIM_REVISION "unknown"
#endif

/* <linux/prctl.h> values musl's header may lack */
#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE 62
#endif
#ifndef PR_SCHED_CORE_CREATE
#define PR_SCHED_CORE_CREATE 1
#endif

#define EXIT_GRACE_TICKS 60 /* x EXIT_TICK_NS: how long Shutdown waits for events */
#define EXIT_TICK_NS     50000000LL

static char socket_path[108];
static struct loop_timer exit_timer; /* polls until replies and events are out */
static int exiting;
static int exit_ticks;

static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		/* a child of ours (runc, a logger) has its owner; any other
		 * is a container's process */
		if (!spawn_reaped(pid, status))
			lc_reaped(pid, status);
	}
}

static void on_exit_tick(void *ctx)
{
	(void)ctx;
	int left = ttrpc_flush_pending();
	if ((left == 0 && events_pending() == 0) || ++exit_ticks >= EXIT_GRACE_TICKS)
		loop_stop();
	else
		loop_timer_set(&exit_timer, loop_now_ns() + EXIT_TICK_NS, on_exit_tick, NULL);
}

/* Stop accepting work; exit once replies and events are out. */
static void begin_exit(void)
{
	if (exiting)
		return;
	exiting = 1;
	if (socket_path[0])
		unlink(socket_path);
	loop_timer_set(&exit_timer, loop_now_ns() + 1000000LL, on_exit_tick, NULL);
}

static void on_one_signal(unsigned signo)
{
	switch (signo) {
	case SIGCHLD: reap(); break;
	case SIGUSR2:
		log_info("signal %u: upgrading in place", signo);
		upgrade_begin(NULL, 0);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("signal %u: shutting down", signo);
		begin_exit();
		break;
	default: break;
	}
}

static void on_signal(int fd, uint32_t ev, void *data)
{
	(void)ev;
	(void)data;
	/* a few per read, and a short read says none is left: no read more
	 * that only answers EAGAIN after each exit */
	struct signalfd_siginfo sis[4];
	ssize_t n;
	do {
		n = read(fd, sis, sizeof(sis));
		for (ssize_t k = 0; k < n / (ssize_t)sizeof(sis[0]); k++)
			on_one_signal(sis[k].ssi_signo);
	} while (n == (ssize_t)sizeof(sis));
}

static int idle_pending(void)
{
	return arena_has_warm() || park_trimmable() || runc_trimmable() || spawn_trimmable() ||
	       events_trimmable();
}

static void idle_trim(void)
{
	arena_trim();
	park_trim();
	runc_trim();
	spawn_trim();
	events_trim();
	pages_trim_stack();
}

static int daemon_run(const struct shim_flags *f, char **argv)
{
	log_debug_enabled = f->debug;
	int subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 0 : errno;
	/* an upgrade's new image has the log as fd 2 already */
	int lfd = f->upgrade_state[0] ? -1 : open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (lfd >= 0) {
		dup2(lfd, 2);
		close(lfd);
		fcntl(2, F_SETFL, O_WRONLY | O_NONBLOCK);
	}
	/* a kernel (or an emulator: qemu-user) without it: runc's container
	 * processes are re-parented past the shim, and their exits are lost */
	if (subreaper)
		log_error("PR_SET_CHILD_SUBREAPER: %s: the exits of containers will not be seen",
			  strerror(subreaper));
	snprintf(shim_namespace, sizeof(shim_namespace), "%s", f->namespace);

	/* SCHED_CORE (containerd's sched_core): one core-scheduling cookie
	 * for the daemon's process group, before anything is spawned, so that
	 * every container of this shim shares it and no other pod does */
	const char *sched_core = getenv("SCHED_CORE");
	/* (an upgrade's new image keeps the cookie it has: execve does not
	 * change it, and a new one would part new containers from old) */
	if (sched_core && sched_core[0] && !f->upgrade_state[0] &&
	    prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE, 0, 2 /* PIDTYPE_PGID */, 0) < 0)
		log_warn("sched core: %s (the kernel has no core scheduling?); going on",
			 strerror(errno));

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || loop_init() < 0 || loop_add(sfd, EPOLLIN, on_signal, NULL) < 0) {
		log_error("daemon setup: %s", strerror(errno));
		return 1;
	}

	const char *ttrpc_addr = getenv("TTRPC_ADDRESS");
	task_on_shutdown = begin_exit;
	upgrade_init(argv, &exiting);
	if (events_init(ttrpc_addr, f->namespace) < 0 || task_register() < 0 ||
	    upgrade_register() < 0) {
		log_error("daemon setup failed");
		return 1;
	}
	int listen_fd = 3;
	if (f->upgrade_state[0]) {
		/* the new image of an upgrade in place: everything is in the state */
		if (upgrade_resume(atoi(f->upgrade_state)) < 0)
			return 1;
		listen_fd = ttrpc_listener();
	} else if (f->socket[0]) {
		const char *p = f->socket;
		if (strncmp(p, "unix://", 7) == 0)
			p += 7;
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
		listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (listen_fd < 0 ||
		    bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(listen_fd, SOMAXCONN) < 0) {
			log_error("listen %s: %s", p, strerror(errno));
			return 1;
		}
	}
	fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
	fcntl(listen_fd, F_SETFL, O_NONBLOCK);
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	if (getsockname(listen_fd, (struct sockaddr *)&sa, &sl) == 0 &&
	    sa.sun_family == AF_UNIX && sa.sun_path[0])
		snprintf(socket_path, sizeof(socket_path), "%s", sa.sun_path);
	else if (!f->socket[0]) {
		log_error("fd 3 is not a unix socket");
		return 1;
	}

	if (!f->upgrade_state[0] && ttrpc_listen(listen_fd) < 0) {
		log_error("daemon setup failed");
		return 1;
	}
	reap(); /* an upgrade: what exited while the image changed */
	/* idle for a second: the arena chunks kept warm go back, and so do the
	 * pages of tables now empty and of the stack below the loop */
	loop_set_idle(idle_pending, idle_trim);
	pages_cold_release(); /* after the set-up (and an upgrade's resume) */
	log_debug("serving %s for %s/%s", socket_path, f->namespace, f->id);
	int r = loop_run();
	if (socket_path[0])
		unlink(socket_path);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct shim_flags f;
	pages_init(); /* before the tables are touched */
	if (flags_parse(&f, argc, argv) < 0) {
		fprintf(stderr, "%s\n", f.error);
		return 2;
	}
	if (f.info)
		return bootstrap_info(&f, SHIM_VERSION, SHIM_REVISION);
	if (f.upgrade_check)
		return upgrade_check(0);
	if (f.version) {
		printf("containerd-shim-runc-v2-c:\n  Version:  %s\n  Revision: %s\n",
		       SHIM_VERSION, SHIM_REVISION);
		return 0;
	}
	if (strcmp(f.action, "start") == 0 || strcmp(f.action, "delete") == 0) {
		if (!f.namespace[0]) {
			fprintf(stderr, "shim namespace cannot be empty\n");
			return 1;
		}
		if (!id_valid(f.id)) {
			fprintf(stderr, "invalid id %.80s\n", f.id);
			return 1;
		}
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		return f.action[0] == 's' ? bootstrap_start(&f) : bootstrap_delete(&f);
	}
	if (strcmp(f.action, "upgrade") == 0)
		return upgrade_cli(f.upgrade_path, f.dry_run);
	if (f.action[0]) {
		fprintf(stderr, "unknown action %.60s\n", f.action);
		return 1;
	}
	if (!f.namespace[0]) {
		fprintf(stderr, "shim namespace cannot be empty\n");
		return 1;
	}
	return daemon_run(&f, argv);
}
