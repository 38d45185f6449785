/*
 * task_create.c - Create: runtime options, rootfs mounts, stdio, `runc
 * create`, and what happens when it ends (the TaskCreate event, calls that
 * waited, or the cleanup of a failed create).
 *
 * Layer: task (README, "Architecture").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "cgroup.h"
#include "containerd_events_task.pb.h"
#include "containerd_runc_v1_options.pb.h"
#include "json.h"
#include "log.h"
#include "mount.h"
#include "options.h"
#include "pbcb.h"
#include "task_core.h"

/* A Create that will not be, its call answered: the container goes and
 * the calls that waited for it run. */
static void create_failed(struct container *ct)
{
	struct ref ref = ct_ref(ct);
	task_rootfs_unmount(ct);
	container_free(ct);
	task_create_ended(ref);
}

/* A Create that will not be: unmounted, answered with the error, gone.
 * The rootfs mounts go before the caller hears of the failure:
 * containerd removes the bundle once Create has answered, as the Go
 * shim's unmount-then-return lets it. */
static void create_fail(struct call *c, struct container *ct, int code, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));
static void create_fail(struct call *c, struct container *ct, int code, const char *fmt,
			...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = arena_vprintf(c->arena, fmt, ap);
	va_end(ap);
	task_rootfs_unmount(ct);
	ttrpc_reply_error(c, code, "%s", msg ? msg : "create failed");
	create_failed(ct);
}

/* A job of the Create's that could not start. */
static void create_refused(struct op *o, struct proc *p, int err)
{
	struct container *ct = p->ct;
	task_rootfs_unmount(ct);
	task_op_refused(o, p, err);
	create_failed(ct);
}

static void publish_create(struct call *c,
			   const containerd_task_v2_CreateTaskRequest *req,
			   struct container *ct, struct proc *p, int pid)
{
	containerd_events_TaskCreate *ev = arena_alloc(c->arena, sizeof(*ev));
	if (!ev)
		return;
	PB_SETSTR(ev->container_id, ct->id);
	PB_SETSTR(ev->bundle, ct->bundle);
	ev->rootfs_count = req->rootfs_count;
	/* only the mounts there are: the array is 8 x 2 KiB of mostly nothing */
	memcpy(ev->rootfs, req->rootfs, sizeof(ev->rootfs[0]) * req->rootfs_count);
	ev->has_io = true;
	PB_SETSTR(ev->io.stdin, p->in);
	PB_SETSTR(ev->io.stdout, p->out);
	PB_SETSTR(ev->io.stderr, p->err);
	ev->io.terminal = p->terminal;
	PB_SETSTR(ev->checkpoint, req->checkpoint);
	ev->pid = (uint32_t)pid;
	task_publish(EV_CREATE, ev);
}

static void create_done(struct op *o, struct proc *p, int status, const char *out,
			size_t outlen)
{
	struct container *ct = p->ct;
	struct ref ref = ct_ref(ct);
	if (!task_runc_ok(status)) {
		char *msg = runc_error(o->call->arena, &ct->rc,
				       "OCI runtime create failed", status, out, outlen);
		log_error("create %s: %s", ct->id, msg ? msg : "");
		create_fail(o->call, ct, ST_UNKNOWN, "%s",
			    msg ? msg : "OCI runtime create failed");
		return;
	}
	char path[PATH_MAX_LEN + 16];
	snprintf(path, sizeof(path), "%s/init.pid", ct->bundle);
	int pid = task_runc_pid(p, path);
	if (pid < 0) {
		/* runc holds a container we cannot drive: delete it */
		log_error("create %s: init pid or console: %s", ct->id, strerror(-pid));
		task_runc_forget(ct);
		create_fail(o->call, ct, ST_UNKNOWN, "create %s: init pid or console: %s",
			    ct->id, strerror(-pid));
		return;
	}
	task_cgroup_load(o->call, ct, pid);
	lc_set_pid(p, pid);
	publish_create(o->call, o->req, ct, p, pid);
	containerd_task_v2_CreateTaskResponse resp = { .pid = (uint32_t)pid };
	ttrpc_reply(o->call, containerd_task_v2_CreateTaskResponse_fields, &resp);
	lc_event(p, PE_CREATED); /* an exit reaped meanwhile is reported now */
	task_create_ended(ref);
}

static int apply_options(struct call *c, struct container *ct,
			 const google_protobuf_Any *any, const char **why)
{
	containerd_runc_v1_Options *opt = NULL;
	int r = options_decode(c->arena, any, &opt, why);
	if (r < 0)
		return r;
	const char *root = opt && opt->root[0] ? opt->root : RUNC_DEFAULT_ROOT;
	char *rr = arena_printf(c->arena, "%s/%s", root, shim_namespace);
	if (!rr || !(ct->rc.root = ct_str(ct, rr)))
		return -ENAMETOOLONG;
	if (opt && (!(ct->rc.binary = ct_str(ct, opt->binary_name)) ||
		    !(ct->rc.criu = ct_str(ct, opt->criu_path)) ||
		    !(ct->criu_work = ct_str(ct, opt->criu_work_path))))
		return -ENAMETOOLONG;
	ct->rc.systemd_cgroup = opt && opt->systemd_cgroup;
	ct->no_pivot = opt && opt->no_pivot_root;
	ct->no_new_keyring = opt && opt->no_new_keyring;
	ct->io_uid = opt ? opt->io_uid : 0;
	ct->io_gid = opt ? opt->io_gid : 0;

	/* options.json and runtime let `shim delete` find runc again.  With
	 * the defaults there is nothing to find (delete falls back to them),
	 * and two file creations are most of Create's own CPU time on a
	 * disk-backed state directory, so they are written only when needed. */
	if (strcmp(root, RUNC_DEFAULT_ROOT) == 0 && !ct->rc.binary[0] &&
	    !ct->rc.systemd_cgroup)
		return 0;
	/* escaping can grow a string sixfold; the arena holds the worst case */
	size_t cap = 6 * (strlen(root) + strlen(ct->rc.binary)) + 8;
	char *esc_root = arena_alloc(c->arena, cap),
	     *esc_bin = arena_alloc(c->arena, cap);
	if (!esc_root || !esc_bin) {
		log_warn("options.json for %s: out of memory", ct->id);
		return 0;
	}
	json_escape(root, esc_root, cap);
	json_escape(ct->rc.binary, esc_bin, cap);
	char *json = arena_printf(
		c->arena,
		"{\"binary_name\":\"%s\",\"root\":\"%s\",\"systemd_cgroup\":%s}", esc_bin,
		esc_root, ct->rc.systemd_cgroup ? "true" : "false");
	if (json)
		bundle_write(ct->bundle, "options.json", json, strlen(json), 0600);
	const char *bin = ct->rc.binary[0] ? ct->rc.binary : "runc";
	bundle_write(ct->bundle, "runtime", bin, strlen(bin), 0600);
	return 0;
}

/* Whether config.json gives the container a pid namespace of its own; if
 * it cannot be read, assume not, so that orphans are killed. */
static int config_own_pidns(struct arena *a, const char *bundle)
{
	char path[PATH_MAX_LEN + 16];
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	char *js = NULL;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20) &&
	    (js = arena_alloc(a, (size_t)st.st_size)) != NULL)
		n = read(fd, js, (size_t)st.st_size);
	close(fd);
	return n > 0 && json_own_pidns(a, js, (size_t)n) == 1;
}

static void create_spawn(struct call *c, struct ref r);

/* The logger is ready (or the call's deadline passed): its wait, which
 * counted as work on the init, ends, and runc create goes. */
static void create_after_logger(struct call *c, struct ref r)
{
	struct proc *p = proc_get(r);
	if (p)
		lc_job_end(p);
	if (p && p->io.logger_failed) {
		create_fail(c, p->ct, ST_UNKNOWN,
			    "logging binary did not call ready (it may have crashed "
			    "or exited prematurely)");
		return;
	}
	create_spawn(c, r);
}

static void logger_ready(void *ctx)
{
	struct proc *p = ctx; /* io_close forgets this before p goes */
	park_wake(PARK_LOGGER, proc_ref(p));
}

/* runc create, once the stdio is ready. */
static void create_spawn(struct call *c, struct ref r)
{
	struct proc *p = proc_get(r);
	if (!p) {
		ttrpc_reply_error(c, ST_NOT_FOUND,
				  "container deleted while being created");
		return;
	}
	struct op *o = c->op;
	int e = task_op_run(o, p, o->argv, p->io.child, 0, create_done);
	io_child_close(&p->io);
	if (e < 0)
		create_refused(o, p, e);
}

static void create_after_mounts(struct op *o, struct proc *p);
static void create_mounts(struct op *o, struct proc *p);

/* A fuse mount's helper has exited: on to the next mount. */
static void helper_done(struct op *o, struct proc *p, int status, const char *out,
			size_t outlen)
{
	const containerd_task_v2_CreateTaskRequest *req = o->req;
	const containerd_types_Mount *m = &req->rootfs[o->arg];
	if (!task_runc_ok(status)) {
		while (outlen && (out[outlen - 1] == '\n' || out[outlen - 1] == ' '))
			outlen--;
		if (outlen > 1024)
			outlen = 1024;
		create_fail(o->call, p->ct, ST_UNKNOWN,
			    "mount helper [%s] for %s failed: %.*s (%s %d)", m->type,
			    m->source, (int)outlen, out,
			    WIFEXITED(status) ? "exit status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return;
	}
	p->ct->rootfs_mounted = 1;
	o->arg++;
	create_mounts(o, p);
}

/* The rootfs mounts from o->arg on.  The kernel's are made here; a fuse
 * one's helper program runs as a job, and mounting goes on when it has
 * exited, so the loop never waits for it. */
static void create_mounts(struct op *o, struct proc *p)
{
	const containerd_task_v2_CreateTaskRequest *req = o->req;
	struct container *ct = p->ct;
	struct call *c = o->call;
	char rootfs[PATH_MAX_LEN + 8];
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", ct->bundle);
	for (pb_size_t i = (pb_size_t)o->arg; i < req->rootfs_count; i++) {
		const containerd_types_Mount *m = &req->rootfs[i];
		if (i == 0)
			mkdir(rootfs, 0711);
		size_t hcap = 8 + 2 * (size_t)m->options.n;
		const char **hargv = NULL;
		char *target = NULL;
		int r = 0;
		if (!strncmp(m->type, "fuse.", 5) || !strncmp(m->type, "fuse3.", 6)) {
			hargv = arena_alloc(c->arena, hcap * sizeof(*hargv));
			target = arena_alloc(c->arena, PATH_MAX_LEN);
			r = !hargv || !target ? -ENOMEM
					      : mount_resolve_at(rootfs, m->target,
								 target, PATH_MAX_LEN);
			if (r == 0)
				r = mount_helper_argv(m->type, m->source, &m->options,
						      target, hargv, hcap);
			if (r > 0) {
				o->arg = (int)i;
				int e = task_op_run(o, p, hargv, NULL, 1, helper_done);
				if (e < 0)
					create_refused(o, p, e);
				return;
			}
		} else {
			r = mount_apply_at(m->type, m->source, &m->options, rootfs,
					   m->target);
		}
		if (r < 0) {
			create_fail(c, ct, ST_UNKNOWN, "mount %s on %s%s%s: %s",
				    m->source, rootfs, m->target[0] == '/' ? "" : "/",
				    m->target, strerror(-r));
			return;
		}
		ct->rootfs_mounted = 1;
	}
	create_after_mounts(o, p);
}

/* The rootfs is there: restore's Create ends here, or runc create goes
 * once the stdio (and its logger) is ready. */
static void create_after_mounts(struct op *o, struct proc *p)
{
	struct call *c = o->call;
	const containerd_task_v2_CreateTaskRequest *req = o->req;
	struct container *ct = p->ct;
	if (req->checkpoint[0]) {
		/* Restored at Start (runc restore); nothing runs until then. */
		lc_event(p, PE_CREATED);
		publish_create(c, req, ct, p, 0);
		containerd_task_v2_CreateTaskResponse resp = { .pid = 0 };
		ttrpc_reply(c, containerd_task_v2_CreateTaskResponse_fields, &resp);
		task_create_ended(ct_ref(ct));
		return;
	}
	const char **argv = o->argv;
	size_t n = o->argc;
	argv[n++] = "create";
	argv[n++] = "--bundle";
	argv[n++] = ct->bundle;
	if (ct->no_pivot)
		argv[n++] = "--no-pivot";
	if (ct->no_new_keyring)
		argv[n++] = "--no-new-keyring";
	argv[n++] = "--pid-file";
	argv[n++] = arena_printf(c->arena, "%s/init.pid", ct->bundle);
	int r = task_io_open(c, p, argv, &n, 0);
	if (r < 0) {
		create_fail(c, ct, ST_UNKNOWN, "open stdio: %s", strerror(-r));
		return;
	}
	argv[n++] = ct->id;
	argv[n] = NULL;
	o->reports_pid = 1;
	if (io_logger_wait(&p->io, logger_ready, p)) {
		/* runc create waits for the binary:// logger, as with the Go
		 * shim; meanwhile calls about the container wait too */
		if (!park_room()) {
			create_fail(c, ct, ST_RESOURCE_EXHAUSTED,
				    "too many parked calls (%d)", LIM_PARKED);
			return;
		}
		lc_job_begin(p, 0);
		park_call(c, PARK_LOGGER, proc_ref(p), create_after_logger);
		return;
	}
	create_spawn(c, proc_ref(p));
}

void task_create(struct call *c)
{
	containerd_task_v2_CreateTaskRequest *req =
		DECODE(c, containerd_task_v2_CreateTaskRequest);
	if (!req)
		return;
	if (!id_valid(req->id)) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid container id %.80s",
				  req->id);
		return;
	}
	if (req->bundle[0] != '/' || strstr(req->bundle, "/../")) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid bundle path");
		return;
	}
	if (container_find(req->id)) {
		ttrpc_reply_error(c, ST_ALREADY_EXISTS, "container %s: already exists",
				  req->id);
		return;
	}
	struct container *ct = container_new(req->id);
	struct proc *p = ct ? proc_new(ct, "") : NULL;
	if (!p) {
		if (ct)
			container_free(ct);
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "too many containers");
		return;
	}
	if (!(ct->bundle = ct_str(ct, req->bundle)) ||
	    !(p->in = proc_str(p, req->stdin)) || !(p->out = proc_str(p, req->stdout)) ||
	    !(p->err = proc_str(p, req->stderr)) ||
	    !(ct->checkpoint = ct_str(ct, req->checkpoint)) ||
	    !(ct->parent_checkpoint = ct_str(ct, req->parent_checkpoint))) {
		container_free(ct);
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "create %s: paths too long",
				  req->id);
		return;
	}
	ct->rc.bundle = ct->bundle;
	p->terminal = req->terminal;
	const char *why = NULL;
	if (apply_options(c, ct, &req->options, &why) < 0) {
		container_free(ct);
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "%s",
				  why ? why : "invalid runtime options");
		return;
	}

	ct->own_pidns = config_own_pidns(c->arena, ct->bundle);

	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "create", 12, &argv, &n);
	if (!o) {
		container_free(ct);
		return;
	}
	o->req = req;
	o->argv = argv;
	o->argc = n;
	o->arg = 0; /* the next rootfs mount */
	create_mounts(o, p);
}
