/*
 * upgrade_cli.c - `containerd-shim-runc-v2-c upgrade [-dry-run]`: every
 * running daemon of this binary's path, in every namespace, is asked for
 * an upgrade in place (upgrade.c) in turn, one line printed per daemon.
 *
 * Layer: face (README, "Architecture").
 *
 * A daemon is a process whose executable is this binary's path (" (deleted)"
 * once a package has replaced it) run with no action; its socket is the
 * listening unix socket among its fds (/proc/net/unix), so neither its
 * bundle nor containerd is needed.  Blocking is fine: this is a command.
 */
#include "cold.h"
#include "upgrade.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "flags.h"
#include "pbcb.h"
#include "shim_upgrade.pb.h"
#include "ttrpc.h"
#include "ttrpc.pb.h"

#define CALL_TIMEOUT_MS 60000
#define MAX_INODES	256

COLD static int exe_of(pid_t pid, char *out, size_t cap)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, out, cap - 1);
	if (n <= 0)
		return -1;
	out[n] = 0;
	if (n > 10 && strcmp(out + n - 10, " (deleted)") == 0)
		out[n - 10] = 0;
	return 0;
}

/* Its flags, if pid is a daemon (no action); argv points into buf. */
COLD static int daemon_flags(pid_t pid, char *buf, size_t cap, struct shim_flags *f)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *argv[64];
	int argc = 0;
	for (ssize_t i = 0; i < n && argc < 63; i += (ssize_t)strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	argv[argc] = NULL;
	if (flags_parse(f, argc, argv) < 0 || f->action[0] || !f->namespace[0] ||
	    f->upgrade_check)
		return -1;
	return 0;
}

/* The next space-separated field of *p (NUL-terminated in place). */
COLD static char *field_next(char **p)
{
	char *s = *p;
	while (*s == ' ')
		s++;
	char *e = s;
	while (*e && *e != ' ')
		e++;
	*p = *e ? e + 1 : e;
	*e = 0;
	return s;
}

/* A line of /proc/net/unix (Num RefCount Protocol Flags Type St Inode
 * Path): the path of a listening socket whose inode is one of inodes. */
COLD static int unix_line(char *line, const unsigned long *inodes, int n, char *out, size_t cap)
{
	char *p = line, *f[8];
	for (int i = 0; i < 8; i++)
		f[i] = field_next(&p);
	if (!f[7][0] || !(strtoul(f[3], NULL, 16) & 0x10000))
		return -1;
	unsigned long ino = strtoul(f[6], NULL, 10);
	for (int i = 0; i < n; i++)
		if (inodes[i] == ino) {
			snprintf(out, cap, "%s", f[7]);
			return 0;
		}
	return -1;
}

/* The path of pid's listening unix socket. */
COLD static int listener_of(pid_t pid, char *out, size_t cap)
{
	unsigned long inodes[MAX_INODES];
	int n = 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) && n < MAX_INODES) {
		char link[320], target[64];
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		ssize_t l = readlink(link, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		if (strncmp(target, "socket:[", 8) == 0)
			inodes[n++] = strtoul(target + 8, NULL, 10);
	}
	closedir(d);
	snprintf(path, sizeof(path), "/proc/%d/net/unix", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* line by line through a buffer: a busy host has many sockets */
	char buf[8192];
	size_t have = 0;
	int found = -1;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		char *line = buf, *nl;
		while (found < 0 && (nl = strchr(line, '\n'))) {
			*nl = 0;
			found = unix_line(line, inodes, n, out, cap);
			line = nl + 1;
		}
		if (found == 0)
			break;
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0; /* a line longer than the buffer: not a socket of ours */
	}
	close(fd);
	return found;
}

COLD static int read_full(int fd, void *buf, size_t n, int64_t deadline_ms)
{
	for (size_t got = 0; got < n;) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t left = deadline_ms - (ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		got += (size_t)r;
	}
	return 0;
}

/* One Upgrade call; 0, or -1 with msg set. */
COLD static int ask(const char *sock, int dry_run, containerd_shim_runc_c_v1_UpgradeResponse *rsp,
	       char *msg, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t l = strlen(sock);
	if (l >= sizeof(sa.sun_path)) {
		snprintf(msg, cap, "socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, sock, l);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l)) < 0) {
		snprintf(msg, cap, "connect %s: %s", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct arena *a = arena_new();
	int r = -1;
	containerd_shim_runc_c_v1_UpgradeRequest req = { .dry_run = dry_run };
	ttrpc_Request *tr = a ? arena_alloc(a, sizeof(*tr)) : NULL;
	struct pbbytes out;
	if (!tr) {
		snprintf(msg, cap, "no memory");
		goto done;
	}
	memset(tr, 0, sizeof(*tr));
	PB_SETSTR(tr->service, UPGRADE_SERVICE);
	PB_SETSTR(tr->method, "Upgrade");
	tr->timeout_nano = (int64_t)CALL_TIMEOUT_MS * 1000000LL;
	if (pb_encode_arena(a, containerd_shim_runc_c_v1_UpgradeRequest_fields, &req,
			    &tr->payload) < 0 ||
	    pb_encode_arena(a, ttrpc_Request_fields, tr, &out) < 0) {
		snprintf(msg, cap, "encode the request");
		goto done;
	}
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = { (uint32_t)out.len, 1, TTRPC_REQUEST, 0 };
	ttrpc_hdr_put(hdr, &h);
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    write(fd, out.ptr, out.len) != (ssize_t)out.len) {
		snprintf(msg, cap, "send: %s", strerror(errno));
		goto done;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t deadline = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + CALL_TIMEOUT_MS + 5000;
	int e;
	if ((e = read_full(fd, hdr, sizeof(hdr), deadline)) < 0) {
		snprintf(msg, cap, "no answer: %s", strerror(-e));
		goto done;
	}
	ttrpc_hdr_get(hdr, &h);
	uint8_t *body = h.len <= TTRPC_MAX_PAYLOAD ? arena_alloc(a, h.len + 1) : NULL;
	ttrpc_Response *tres = arena_alloc(a, sizeof(*tres));
	if (!body || !tres || (e = read_full(fd, body, h.len, deadline)) < 0 ||
	    pb_decode_arena(a, body, h.len, ttrpc_Response_fields, tres) < 0) {
		snprintf(msg, cap, "a bad answer");
		goto done;
	}
	if (tres->status.code) {
		snprintf(msg, cap, "%.400s", tres->status.message);
		goto done;
	}
	memset(rsp, 0, sizeof(*rsp));
	if (pb_decode_arena(a, tres->payload.ptr, tres->payload.len,
			    containerd_shim_runc_c_v1_UpgradeResponse_fields, rsp) < 0) {
		snprintf(msg, cap, "a bad answer");
		goto done;
	}
	r = 0;
done:
	arena_free(a);
	close(fd);
	return r;
}

COLD int upgrade_cli(const char *path_arg, int dry_run)
{
	char self[PATH_MAX];
	if (path_arg) {
		/* the path as the daemons' exe links say it: absolute, resolved
		 * but for its last part, which may be gone */
		char cwd[PATH_MAX] = "";
		if (path_arg[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "upgrade: getcwd: %s\n", strerror(errno));
			return 1;
		}
		/* as the daemons' exe links say it: absolute (symbolic links in it
		 * are not resolved: give the path the shims were started from) */
		if (snprintf(self, sizeof(self), "%s%s%s", cwd, cwd[0] ? "/" : "", path_arg) >=
		    (int)sizeof(self)) {
			fprintf(stderr, "upgrade: %s: path too long\n", path_arg);
			return 1;
		}
	} else if (exe_of(getpid(), self, sizeof(self)) < 0) {
		fprintf(stderr, "upgrade: cannot read /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	DIR *d = opendir("/proc");
	if (!d) {
		fprintf(stderr, "upgrade: /proc: %s\n", strerror(errno));
		return 1;
	}
	int shims = 0, failed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		char path[PATH_MAX], cmd[4096], sock[300], msg[512];
		struct shim_flags f;
		if (*end || pid <= 0 || pid == getpid() || exe_of((pid_t)pid, path, sizeof(path)) < 0 ||
		    strcmp(path, self) != 0 || daemon_flags((pid_t)pid, cmd, sizeof(cmd), &f) < 0)
			continue;
		shims++;
		containerd_shim_runc_c_v1_UpgradeResponse rsp;
		int r = listener_of((pid_t)pid, sock, sizeof(sock));
		if (r < 0)
			snprintf(msg, sizeof(msg), "no listening socket found");
		else
			r = ask(sock, dry_run, &rsp, msg, sizeof(msg));
		printf("pid %ld namespace %s id %s: ", pid, f.namespace, f.id);
		if (r < 0) {
			failed++;
			printf("failed: %s\n", msg);
		} else {
			printf("%u containers, %s -> %s: %s in %.1f ms\n", rsp.containers,
			       rsp.old_version, rsp.new_version,
			       dry_run ? "would upgrade (checked)" : "upgraded",
			       (double)rsp.pause_ns / 1e6);
		}
		fflush(stdout);
	}
	closedir(d);
	if (!shims)
		printf("no running shim of %s\n", self);
	return failed ? 1 : 0;
}
