/*
 * task_ckpt.c - Checkpoint (`runc checkpoint`) and restore (`runc restore`, run
 * at Start of a task created with a checkpoint).
 *
 * Layer: task (README, "Architecture").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "containerd_runc_v1_options.pb.h"
#include "log.h"
#include "pbcb.h"
#include "procio.h"
#include "runc.h"

#include "task_core.h"

/* ---- Restore (Start of a task created from a checkpoint) ---- */

static void restore_done(struct op *o, struct proc *p, int status, const char *out,
			 size_t outlen)
{
	struct container *ct = p->ct;
	int pid = -EINVAL;
	if (task_runc_ok(status)) {
		char path[PATH_MAX_LEN + 16];
		snprintf(path, sizeof(path), "%s/init.pid", ct->bundle);
		pid = task_runc_pid(p, path);
	}
	if (pid < 0) {
		io_close(&p->io);
		task_runc_error(o->call, p, "restore",
				task_runc_ok(status) ? 1 << 8 : status, out, outlen);
		lc_event(p, PE_START_FAILED);
		return;
	}
	int r = io_release(&p->io);
	if (r < 0)
		log_warn("%s: restored, but its output cannot be copied: %s", ct->id,
			 strerror(-r));
	ct->checkpoint = "";
	task_cgroup_load(o->call, ct, pid);
	lc_set_pid(p, pid);
	task_started(o->call, p);
}

void task_restore_start(struct call *c, struct op *o, struct proc *p, const char **argv,
		   size_t n)
{
	struct container *ct = p->ct;
	argv[n++] = "restore";
	argv[n++] = "--image-path";
	argv[n++] = ct->checkpoint;
	argv[n++] = "--work-path";
	argv[n++] = ct->criu_work[0] ? ct->criu_work
				     : arena_printf(c->arena, "%s/work", ct->bundle);
	if (ct->parent_checkpoint[0]) {
		argv[n++] = "--parent-path";
		argv[n++] = ct->parent_checkpoint;
	}
	argv[n++] = "--detach";
	argv[n++] = "--pid-file";
	argv[n++] = arena_printf(c->arena, "%s/init.pid", ct->bundle);
	argv[n++] = "--no-subreaper";
	if (ct->no_pivot)
		argv[n++] = "--no-pivot";
	argv[n++] = "--bundle";
	argv[n++] = ct->bundle;
	int r = task_io_open(c, p, argv, &n, 1);
	if (r < 0) {
		ttrpc_reply_error(c, ST_UNKNOWN, "open stdio: %s", strerror(-r));
		return;
	}
	argv[n++] = ct->id;
	argv[n] = NULL;
	o->reports_pid = 1;
	r = task_op_spawn(o, p, argv, p->io.child, 1, restore_done);
	io_child_close(&p->io);
	if (r < 0) {
		io_close(&p->io);
		return;
	}
	lc_event(p, PE_START);
}

/* ---- Checkpoint ---- */

struct ckpt {
	char work[PATH_MAX_LEN + 32];
	char bundle[PATH_MAX_LEN];
	int ours; /* the shim chose the work folder: remove it after */
};

static void remove_tree(const char *path, int depth);

static void checkpoint_done(struct op *o, struct proc *p, int status, const char *out,
			    size_t outlen)
{
	struct ckpt *k = o->u.ckpt;
	if (!task_runc_ok(status)) {
		/* keep criu's log where the Go shim leaves it */
		char src[PATH_MAX_LEN + 48], dst[PATH_MAX_LEN + 32];
		snprintf(src, sizeof(src), "%s/dump.log", k->work);
		snprintf(dst, sizeof(dst), "%s/criu-dump.log", k->bundle);
		int in = open(src, O_RDONLY | O_CLOEXEC);
		int outfd = in >= 0 ? open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					   0600)
				    : -1;
		if (outfd >= 0) {
			char buf[4096];
			ssize_t n;
			while ((n = read(in, buf, sizeof(buf))) > 0)
				if (write(outfd, buf, (size_t)n) != n)
					break;
			close(outfd);
		}
		if (in >= 0)
			close(in);
		if (k->ours)
			remove_tree(k->work, 0);
		/* runc's first line, and where criu's log is, as the Go shim
		 * words it */
		char *msg = runc_error(o->call->arena, &p->ct->rc,
				       "OCI runtime checkpoint failed", status, out,
				       outlen);
		size_t len = msg ? strcspn(msg, "\n") : 0;
		ttrpc_reply_error(o->call, ST_UNKNOWN, "%.*s path= %s", (int)len,
				  msg ? msg : "", dst);
		return;
	}
	if (k->ours) /* a folder the client chose is the client's, as for the Go shim */
		remove_tree(k->work, 0);
	ttrpc_reply(o->call, NULL, NULL);
}

void task_checkpoint(struct call *c)
{
	containerd_task_v2_CheckpointTaskRequest *req =
		DECODE(c, containerd_task_v2_CheckpointTaskRequest);
	if (!req)
		return;
	struct proc *p = task_lookup(c, req->id, "");
	if (!p)
		return;
	if (p->jobs > 0) {
		/* a start, pause or resume in flight: after it, as the Go
		 * shim's process lock orders them */
		park_call(c, PARK_IDLE, proc_ref(p), task_rerun);
		return;
	}
	/* a running or a paused task (containerd's client pauses a task
	 * before it checkpoints it) may be dumped */
	if (task_refused(c, p->ct, p, LV_CHECKPOINT))
		return;
	containerd_runc_v1_CheckpointOptions *opt = arena_alloc(c->arena, sizeof(*opt));
	if (!opt) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	const char *url = strrchr(req->options.type_url, '/');
	url = url ? url + 1 : req->options.type_url;
	if (req->has_options && req->options.value.len &&
	    (strcmp(url, "containerd.runc.v1.CheckpointOptions") != 0 ||
	     pb_decode_arena(c->arena, req->options.value.ptr, req->options.value.len,
			     containerd_runc_v1_CheckpointOptions_fields, opt) < 0)) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid checkpoint options");
		return;
	}
	const char *image = opt->image_path[0] ? opt->image_path : req->path;
	if (!image[0]) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "no checkpoint image path");
		return;
	}
	struct ckpt *k = arena_alloc(c->arena, sizeof(*k));
	if (!k) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "checkpoint", 24 + opt->empty_namespaces_count * 2,
			       &argv, &n);
	if (!o)
		return;
	PB_SETSTR(k->bundle, p->ct->bundle);
	if (opt->work_path[0])
		PB_SETSTR(k->work, opt->work_path);
	else {
		snprintf(k->work, sizeof(k->work), "%s/work/criu-work", p->ct->bundle);
		k->ours = 1;
	}
	argv[n++] = "checkpoint";
	argv[n++] = "--image-path";
	argv[n++] = image;
	argv[n++] = "--work-path";
	argv[n++] = k->work;
	if (opt->parent_path[0]) {
		argv[n++] = "--parent-path";
		argv[n++] = opt->parent_path;
	}
	if (opt->open_tcp)
		argv[n++] = "--tcp-established";
	if (opt->external_unix_sockets)
		argv[n++] = "--ext-unix-sk";
	if (opt->terminal)
		argv[n++] = "--shell-job";
	if (opt->file_locks)
		argv[n++] = "--file-locks";
	for (pb_size_t i = 0; i < opt->empty_namespaces_count; i++) {
		argv[n++] = "--empty-ns";
		argv[n++] = opt->empty_namespaces[i];
	}
	if (!opt->exit)
		argv[n++] = "--leave-running";
	argv[n++] = p->ct->id;
	argv[n] = NULL;
	o->u.ckpt = k;
	task_op_spawn(o, p, argv, NULL, 1, checkpoint_done);
}

/* rm -r for criu's work folder: bounded depth, symlinks not followed, and
 * getdents on a stack buffer (opendir would allocate). */
static void remove_tree(const char *path, int depth)
{
	if (depth > 8 || unlink(path) == 0 || errno == ENOENT)
		return;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		char buf[2048] __attribute__((aligned(8)));
		int n;
		while ((n = (int)syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (int off = 0; off < n;) {
				struct {
					uint64_t d_ino;
					int64_t d_off;
					unsigned short d_reclen;
					unsigned char d_type;
					char d_name[];
				} *e = (void *)(buf + off);
				off += e->d_reclen;
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				char sub[PATH_MAX_LEN + 300];
				snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
				remove_tree(sub, depth + 1);
			}
		}
		close(fd);
	}
	rmdir(path);
}
