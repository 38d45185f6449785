/*
 * cgexec - the bench's wrapper in front of a program whose CPU it charges to
 * a cgroup: it moves itself into the cgroup, then execs the real program
 * with the same argv.
 *
 * It is installed under the program's own name (a copy of this binary), and
 * reads two lines from the file NAME.cg beside it, where NAME is its own
 * path (/proc/self/exe): the cgroup.procs file to join and the program to
 * exec. An optional third line names a log to which it appends, before the
 * exec, its pid, the CPU time this process had used when it left the
 * cgroup it was started in (from its clone: the parent's share of a vfork,
 * this exec, this program) and its argv[1..]: what a wrapper charges to
 * its parent's cgroup. A static binary that makes four syscalls before its exec: what it
 * costs is charged to the cgroup it was started in, so it must be small
 * next to what is measured (the shell wrapper it replaces cost ~0.5 ms per
 * process, the size of a whole `shim start`).
 *
 * `cgexec --calibrate N WRAPPER` measures the wrapper itself: it starts
 * WRAPPER (a copy of this binary with its own .cg file and log) N times the
 * way a shim starts runc, by vfork and exec, from a parent that does
 * nothing else. The logged CPU is then all the wrapper's own: what the
 * bench subtracts, per wrapped runc call, from a shim's figure.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONF_MAX 8192

static int die(const char *what, const char *arg)
{
	dprintf(2, "cgexec: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	return 127;
}

static __attribute__((noinline)) pid_t start(char *wrapper)
{
	char *argv[] = { wrapper, NULL };
	pid_t pid = vfork();
	if (pid == 0) {
		execv(wrapper, argv);
		_exit(127);
	}
	return pid;
}

static int calibrate(int n, char *wrapper)
{
	for (int i = 0; i < n; i++) {
		pid_t pid = start(wrapper);
		if (pid < 0)
			return die("vfork failed", NULL);
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return die("the wrapper failed", wrapper);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char self[4096], conf[CONF_MAX], pid[24];
	ssize_t n;
	int fd, len;
	char *procs, *prog, *log = NULL, *nl;
	struct timespec cpu;

	if (argc == 4 && strcmp(argv[1], "--calibrate") == 0)
		return calibrate(atoi(argv[2]), argv[3]);
	n = readlink("/proc/self/exe", self, sizeof(self) - 4);
	if (n <= 0)
		return die("cannot read /proc/self/exe", NULL);
	memcpy(self + n, ".cg", 4);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die("cannot open", self);
	n = read(fd, conf, sizeof(conf) - 1);
	close(fd);
	if (n <= 0)
		return die("cannot read", self);
	conf[n] = '\0';
	procs = conf;
	nl = strchr(procs, '\n');
	if (!nl || nl == procs || nl[1] == '\n' || nl[1] == '\0')
		return die("want two lines in", self);
	*nl = '\0';
	prog = nl + 1;
	nl = strchr(prog, '\n');
	if (nl) {
		*nl = '\0';
		log = nl + 1;
		nl = strchr(log, '\n');
		if (nl)
			*nl = '\0';
		if (!*log)
			log = NULL;
	}
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return die("cannot open", procs);
	len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)len) != len)
		return die("cannot join", procs);
	close(fd);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	if (log && (fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
		char line[512];
		len = snprintf(line, sizeof(line), "%d %lld", (int)getpid(),
			       (long long)cpu.tv_sec * 1000000000LL + cpu.tv_nsec);
		for (int i = 1; argv[i] && len < (int)sizeof(line) - 2; i++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %s", argv[i]);
		if (len > (int)sizeof(line) - 2)
			len = (int)sizeof(line) - 2;
		line[len++] = '\n';
		if (write(fd, line, (size_t)len) < 0)
			(void)0;
		close(fd);
	}
	execv(prog, argv);
	return die("cannot exec", prog);
}
