/*
 * bootstrap.c - `start` and `delete`.
 *
 * Layer: face (README, "Architecture").
 *
 * Both run as short-lived processes whose stdout containerd parses, so
 * nothing but the answer may be written there; `start`'s stderr is read
 * together with stdout and stays silent on success.  Blocking is fine here:
 * there is no loop yet.
 */
#include "bootstrap.h"
#include "bundle.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pb_encode.h>

#include "arena.h"
#include "cgroup.h"
#include "container.h"
#include "containerd_runc_v1_options.pb.h"
#include "containerd_runtime_bootstrap_v1.pb.h"
#include "containerd_task_v2.pb.h"
#include "json.h"
#include "mount.h"
#include "options.h"
#include "pbcb.h"
#include "runc.h"
#include "sha256.h"

#define SOCKET_DIR    "/run/containerd/s"
#define GROUP_LABEL   "io.containerd.runc.v2.group"
#define SANDBOX_LABEL "io.kubernetes.cri.sandbox-id"

void path_clean(char *p)
{
	int rooted = p[0] == '/';
	char *out = p;
	size_t w = 0;
	size_t dotdot = rooted ? 1 : 0; /* where ".." can backtrack to */
	const char *r = p;
	if (rooted) {
		out[w++] = '/';
		r++;
	}
	while (*r) {
		if (*r == '/') {
			r++;
		} else if (r[0] == '.' && (r[1] == '/' || r[1] == 0)) {
			r++;
		} else if (r[0] == '.' && r[1] == '.' && (r[2] == '/' || r[2] == 0)) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (*r && *r != '/')
				out[w++] = *r++;
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = 0;
}

int socket_address(const char *dir, const char *address, const char *ns,
		   const char *group, char *out, size_t cap)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s/%s", address, ns, group);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	path_clean(path);
	char hex[65];
	sha256_hex(path, strlen(path), hex);
	n = snprintf(out, cap, "unix://%s/%s", dir, hex);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	/* sun_path holds 108 bytes; Go refuses anything over 106. */
	if (strlen(out) - 7 > 106)
		return -ENAMETOOLONG;
	return 0;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *read_all(int fd, size_t max, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			if (cap >= max)
				break;
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

/* Options from start's stdin: a legacy Any, or 2.3+ BootstrapParams. */
struct start_opts {
	char shim_cgroup[1024];
	char binary_name[1024];
	char socket_dir[1024];
	const uint8_t *options; /* runc's Options as given (in the arena) */
	size_t options_len;
};

static void parse_options_any(struct arena *a, const google_protobuf_Any *any,
			      struct start_opts *so)
{
	containerd_runc_v1_Options *o;
	const char *why = NULL;
	/* bad options are Create's to report, as with the Go shim */
	if (options_decode(a, any, &o, &why) < 0 || !o)
		return;
	PB_SETSTR(so->shim_cgroup, o->shim_cgroup);
	PB_SETSTR(so->binary_name, o->binary_name);
	/* kept, encoded as runc's (the input buffer goes), for -info */
	size_t cap = sizeof(*o) + 64;
	uint8_t *buf = arena_alloc(a, cap);
	pb_ostream_t os = buf ? pb_ostream_from_buffer(buf, cap) : (pb_ostream_t){ 0 };
	if (buf && pb_encode(&os, containerd_runc_v1_Options_fields, o)) {
		so->options = buf;
		so->options_len = os.bytes_written;
	}
}

static void read_start_opts(struct arena *a, const struct shim_flags *f,
			    struct start_opts *so)
{
	memset(so, 0, sizeof(*so));
	if (isatty(0))
		return;
	size_t len;
	char *in = read_all(0, 4 << 20, &len);
	if (!in || !len) {
		free(in);
		return;
	}
	containerd_runtime_bootstrap_v1_BootstrapParams *bp = arena_alloc(a, sizeof(*bp));
	if (bp &&
	    pb_decode_arena(a, in, len,
			    containerd_runtime_bootstrap_v1_BootstrapParams_fields,
			    bp) == 0 &&
	    strcmp(bp->instance_id, f->id) == 0 &&
	    strcmp(bp->namespace, f->namespace) == 0) {
		for (pb_size_t i = 0; i < bp->extensions_count; i++)
			parse_options_any(a, &bp->extensions[i].value, so);
		if (bp->has_socket_dir)
			PB_SETSTR(so->socket_dir, bp->socket_dir);
	} else {
		google_protobuf_Any *any = arena_alloc(a, sizeof(*any));
		if (any &&
		    pb_decode_arena(a, in, len, google_protobuf_Any_fields, any) == 0)
			parse_options_any(a, any, so);
	}
	free(in);
}

static void grouping(struct arena *a, const struct shim_flags *f, char *out, size_t cap)
{
	snprintf(out, cap, "%s", f->id);
	int fd = open("config.json", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t len;
	char *js = read_all(fd, 64 << 20, &len);
	close(fd);
	if (!js)
		return;
	/* No key written out, no label: a key is as it is in the file unless
	 * escaped as \uXXXX (Go escapes none of these characters).  Most
	 * containers have neither, and their spec is not tokenized twice. */
	if (!memmem(js, len, GROUP_LABEL, sizeof(GROUP_LABEL) - 1) &&
	    !memmem(js, len, SANDBOX_LABEL, sizeof(SANDBOX_LABEL) - 1) &&
	    !memmem(js, len, "\\u", 2)) {
		free(js);
		return;
	}
	if (json_annotation(a, js, len, GROUP_LABEL, out, cap) != 0 &&
	    json_annotation(a, js, len, SANDBOX_LABEL, out, cap) != 0)
		snprintf(out, cap, "%s", f->id);
	if (!out[0])
		snprintf(out, cap, "%s", f->id);
	free(js);
}

/* Bind path; on a live socket return -EADDRINUSE, on a stale one retry. */
static int bind_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* inherited as fd 3 */
		if (fd < 0)
			return -errno;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			chmod(path, 0600);
			if (listen(fd, SOMAXCONN) < 0) {
				int e = errno;
				close(fd);
				return -e;
			}
			return fd;
		}
		int e = errno;
		close(fd);
		if (e != EADDRINUSE)
			return -e;
		int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd >= 0 && connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(cfd);
			return -EADDRINUSE; /* a shim of the same group lives */
		}
		if (cfd >= 0)
			close(cfd);
		unlink(path);
	}
	return -EADDRINUSE;
}

/* The shim's oom_score_adj: its parent's (containerd's) plus one, so that
 * under memory pressure the shim goes before containerd.  Set on `start`
 * itself before the daemon is spawned, which inherits it: `start` has
 * containerd's score (inherited too), so one file read and written, not
 * the parent's and then the daemon's.  0, or a negative errno with a
 * message in err. */
static int adjust_oom_score(char *err, size_t cap)
{
	char buf[32];
	int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	if (n <= 0) {
		if (fd >= 0)
			close(fd);
		snprintf(err, cap, "get parent OOM score: %s",
			 n < 0 ? strerror(e) : "empty");
		return n < 0 ? -e : -EINVAL;
	}
	buf[n] = 0;
	int score = atoi(buf) + 1;
	if (score > 1000)
		score = 1000;
	int len = snprintf(buf, sizeof(buf), "%d", score);
	int r = pwrite(fd, buf, (size_t)len, 0) == len ? 0 : -errno;
	close(fd);
	/* lowering it needs privilege: an unprivileged containerd is let be */
	if (r == -EACCES && geteuid() != 0)
		r = 0;
	if (r < 0)
		snprintf(err, cap, "set shim OOM score: %s", strerror(-r));
	return r;
}

/* The daemon: ourselves again, with the listener as fd 3 and 0-2 on
 * /dev/null, in its own process group (spawn.c: no fork, so the daemon
 * starts without copying the start process's page tables). */
static pid_t spawn_daemon(const struct shim_flags *f, int lfd)
{
	const char *argv[] = { "containerd-shim-runc-v2-c",
			       "-namespace",
			       f->namespace,
			       "-id",
			       f->id,
			       "-address",
			       f->address,
			       f->debug ? "-debug" : NULL,
			       NULL };
	int fds[4] = { -1, -1, -1, lfd };
	struct spawn_req s = {
		.argv = argv, .fds = fds, .nfds = 4, .flags = SPAWN_SELF | SPAWN_SETPGID
	};
	pid_t pid = spawn(&s);
	if (pid < 0) {
		errno = (int)-pid;
		return -1;
	}
	return pid;
}

int bootstrap_start(const struct shim_flags *f)
{
	struct arena *a = arena_new();
	struct start_opts so;
	read_start_opts(a, f, &so);
	char group[512], addr[256];
	grouping(a, f, group, sizeof(group));
	const char *dir = so.socket_dir[0] ? so.socket_dir : SOCKET_DIR;
	int r = socket_address(dir, f->address, f->namespace, group, addr, sizeof(addr));
	if (r < 0)
		die("socket address: %s", strerror(-r));
	const char *path = addr + 7;
	char parent[256];
	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = 0;
	if (mkdir(parent, 0700) < 0 && errno != EEXIST) {
		/* create missing ancestors, e.g. /run/containerd */
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", parent);
		for (char *s = tmp + 1; *s; s++)
			if (*s == '/') {
				*s = 0;
				mkdir(tmp, 0711);
				*s = '/';
			}
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			die("mkdir %s: %s", parent, strerror(errno));
	}
	int lfd = bind_socket(path);
	if (lfd == -EADDRINUSE) {
		/* Another container of this group: its shim serves us too. */
		if ((r = bundle_write(".", "address", addr, strlen(addr), 0666)) < 0)
			die("write address file: %s", strerror(-r));
		fputs(addr, stdout);
		return 0;
	}
	if (lfd < 0)
		die("listen %s: %s", path, strerror(-lfd));
	if ((r = bundle_write(".", "address", addr, strlen(addr), 0666)) < 0) {
		unlink(path);
		die("write address file: %s", strerror(-r));
	}
	char why[512];
	if (adjust_oom_score(why, sizeof(why)) < 0) {
		unlink(path);
		unlink("address");
		die("%s", why);
	}
	pid_t pid = spawn_daemon(f, lfd);
	if (pid < 0) {
		unlink(path);
		die("start shim daemon: %s", strerror(errno));
	}
	close(lfd);
	if (so.shim_cgroup[0] && cgroup_join(so.shim_cgroup, pid, why, sizeof(why)) < 0) {
		/* as the Go shim: start fails, and the daemon it began goes */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		unlink(path);
		unlink("address");
		die("%s", why);
	}
	fputs(addr, stdout);
	arena_free(a);
	return 0;
}

/* Run argv and wait for it (blocking is fine outside the daemon), with its
 * stdout in out (at most cap bytes), or on /dev/null when out is NULL.
 * Returns the length read, a negative errno, or -ECHILD if it did not
 * exit 0. */
static long run_child(const char *const argv[], char *out, size_t cap)
{
	int p[2] = { -1, -1 };
	if (out && pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	int fds[3] = { -1, out ? p[1] : -1, -1 };
	struct spawn_req s = {
		.argv = argv, .fds = fds, .nfds = 3, .flags = SPAWN_PDEATHSIG
	};
	pid_t pid = spawn(&s);
	if (out)
		close(p[1]);
	if (pid < 0) {
		if (out)
			close(p[0]);
		return pid;
	}
	size_t n = 0;
	if (out) {
		for (;;) {
			ssize_t r = read(p[0], out + n, cap - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || (n += (size_t)r) == cap)
				break;
		}
		close(p[0]);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? (long)n : -ECHILD;
}

static int put_string(pb_ostream_t *os, uint32_t tag, const void *s, size_t n)
{
	return pb_encode_tag(os, PB_WT_STRING, tag) &&
			       pb_encode_string(os, (const uint8_t *)s, n)
		       ? 0
		       : -EINVAL;
}

int bootstrap_info(const struct shim_flags *f, const char *version, const char *revision)
{
	struct arena *a = arena_new();
	struct start_opts so;
	read_start_opts(a, f, &so); /* the runtime's Options, if any */
	static const char url[] =
		"types.containerd.io/opencontainers/runtime-spec/1/features/Features";
	size_t cap = 1 << 20;
	char *feat = malloc(cap);
	uint8_t *buf = malloc(cap + 4096), *any = malloc(cap + 512);
	if (!feat || !buf || !any)
		die("out of memory");
	const char *argv[] = { so.binary_name[0] ? so.binary_name : "runc", "features",
			       NULL };
	long n = run_child(argv, feat, cap);
	pb_ostream_t os;
	uint8_t ver[512];
	os = pb_ostream_from_buffer(ver, sizeof(ver));
	if (put_string(&os, 1, version, strlen(version)) < 0 ||
	    put_string(&os, 2, revision, strlen(revision)) < 0)
		die("encode runtime info");
	size_t verlen = os.bytes_written;
	size_t anylen = 0;
	if (n > 0) {
		os = pb_ostream_from_buffer(any, cap + 512);
		if (put_string(&os, 1, url, sizeof(url) - 1) < 0 ||
		    put_string(&os, 2, feat, (size_t)n) < 0)
			die("encode features");
		anylen = os.bytes_written;
	}
	/* the runtime options in effect, as the Go shim reports them */
	static const char opts_url[] = "containerd.runc.v1.Options";
	uint8_t *optany = so.options_len ? arena_alloc(a, so.options_len + 64) : NULL;
	size_t optlen = 0;
	if (optany) {
		os = pb_ostream_from_buffer(optany, so.options_len + 64);
		if (put_string(&os, 1, opts_url, sizeof(opts_url) - 1) < 0 ||
		    put_string(&os, 2, so.options, so.options_len) < 0)
			die("encode runtime options");
		optlen = os.bytes_written;
	}
	static const char name[] = "io.containerd.runc.v2";
	os = pb_ostream_from_buffer(buf, cap + 4096);
	if (put_string(&os, 1, name, sizeof(name) - 1) < 0 ||
	    put_string(&os, 2, ver, verlen) < 0 ||
	    (optlen && put_string(&os, 3, optany, optlen) < 0) ||
	    (anylen && put_string(&os, 4, any, anylen) < 0))
		die("encode runtime info");
	fwrite(buf, 1, os.bytes_written, stdout);
	arena_free(a);
	return 0;
}

int bootstrap_delete(const struct shim_flags *f)
{
	struct arena *a = arena_new();
	char bundle[1024];
	if (f->bundle[0]) {
		snprintf(bundle, sizeof(bundle), "%s", f->bundle);
	} else if (!getcwd(bundle, sizeof(bundle))) {
		snprintf(bundle, sizeof(bundle), ".");
	}
	/* options.json holds the runtime options when they are not the
	 * defaults; the runc flags are then the ones the daemon used. */
	struct runc_cfg *cfg = arena_alloc(a, sizeof(*cfg));
	char root[1024] = RUNC_DEFAULT_ROOT, path[1200], binary[1024] = "", rroot[1100];
	if (!cfg)
		die("out of memory");
	cfg->bundle = bundle;
	cfg->binary = binary;
	cfg->criu = "";
	cfg->root = rroot;
	snprintf(path, sizeof(path), "%s/options.json", bundle);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		size_t len;
		char *js = read_all(fd, 1 << 20, &len);
		close(fd);
		if (js) {
			char tmp[1024];
			if (json_top_string(a, js, len, "root", tmp, sizeof(tmp)) == 0 &&
			    tmp[0])
				snprintf(root, sizeof(root), "%s", tmp);
			if (json_top_string(a, js, len, "binary_name", tmp,
					    sizeof(tmp)) == 0)
				snprintf(binary, sizeof(binary), "%s", tmp);
			cfg->systemd_cgroup =
				strstr(js, "\"systemd_cgroup\":true") != NULL;
			free(js);
		}
	}
	snprintf(rroot, sizeof(rroot), "%s/%s", root, f->namespace);
	/* containerd runs `delete` after every shim exit, normally long after
	 * the task's own Delete removed the container, and waits for it: skip
	 * runc when it has no state for the id (runc and crun both keep it in
	 * <root>/<id>), which is what `delete --force` would find anyway. */
	char state[1400];
	snprintf(state, sizeof(state), "%s/%s", cfg->root, f->id);
	size_t n;
	const char **argv = runc_argv(a, cfg, 3, &n);
	if (argv && id_valid(f->id) && access(state, F_OK) == 0) {
		argv[n++] = "delete";
		argv[n++] = "--force";
		argv[n++] = f->id;
		argv[n] = NULL;
		run_child(argv, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	mount_unmount_all(path);

	containerd_task_v2_DeleteResponse r;
	memset(&r, 0, sizeof(r));
	r.has_exited_at = true;
	struct bundle_exit e;
	if (bundle_exit_read(bundle, f->id, &e) == 0) {
		/* its exit was reaped before the shim died: that is the truth,
		 * not the kill of what runc delete found */
		r.pid = (uint32_t)e.pid;
		r.exit_status = (uint32_t)e.status;
		r.exited_at.seconds = e.sec;
		r.exited_at.nanos = e.nsec;
	} else {
		snprintf(path, sizeof(path), "%s/init.pid", bundle);
		int pid = runc_read_pid(path);
		if (pid > 0)
			r.pid = (uint32_t)pid;
		r.exit_status = 128 + SIGKILL;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r.exited_at.seconds = ts.tv_sec;
		r.exited_at.nanos = (int32_t)ts.tv_nsec;
	}
	uint8_t out[64];
	long len = pb_encode_buf(out, sizeof(out),
				 containerd_task_v2_DeleteResponse_fields, &r);
	if (len < 0)
		die("encode delete response");
	fwrite(out, 1, (size_t)len, stdout);
	arena_free(a);
	return 0;
}
