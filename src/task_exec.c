/*
 * task_exec.c - Exec: record a process (spec kept until Start), then `runc exec
 * --detach` with its own stdio, the spec handed over in a memfd.
 *
 * Layer: task (README, "Architecture").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "containerd_events_task.pb.h"
#include "pages.h"
#include "procio.h"
#include "log.h"
#include "pbcb.h"

#include "task_core.h"

/* ---- Exec ---- */

static void exec_done(struct op *o, struct proc *p, int status, const char *out,
		      size_t outlen)
{
	struct container *ct = p->ct;
	if (o->u.spec_path)
		unlink(o->u.spec_path);
	int pid = -EINVAL;
	if (task_runc_ok(status)) {
		char path[PATH_MAX_LEN + ID_MAX + 8];
		snprintf(path, sizeof(path), "%s/%s.pid", ct->bundle, p->id);
		pid = task_runc_pid(p, path);
	}
	if (pid < 0) {
		io_close(&p->io);
		if (task_runc_ok(status))
			ttrpc_reply_error(
				o->call, ST_UNKNOWN,
				"OCI runtime exec failed: exec pid or console: %s",
				strerror(-pid));
		else
			task_runc_error(o->call, p, "exec", status, out, outlen);
		lc_start_failed(p); /* Waits are answered now, with 255 */
		return;
	}
	lc_set_pid(p, pid);
	task_started(o->call, p);
}

/* The exec's process.json for runc: in a memfd that runc reads as its fd 3
 * (*fd, *path "/proc/self/fd/3"), so that a probe every few seconds writes
 * no file; where memfds are refused, a file in XDG_RUNTIME_DIR or /tmp, as
 * the Go shim writes (*fd -1, *file set).  0, or the call is answered. */
static int spec_open(struct call *c, struct proc *p, int *fd, const char **path,
		     char **file)
{
	*file = NULL;
	*fd = memfd_create("runc-process", MFD_CLOEXEC);
	if (*fd >= 0) {
		ssize_t w = write(*fd, p->spec, p->spec_len);
		if (w == (ssize_t)p->spec_len) {
			*path = "/proc/self/fd/3";
			return 0;
		}
		close(*fd);
	}
	*fd = -1;
	const char *tmpdir = getenv("XDG_RUNTIME_DIR");
	char *spec_path = arena_printf(c->arena, "%s/runc-process-XXXXXX",
				       tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	int f = spec_path ? mkostemp(spec_path, O_CLOEXEC) : -1;
	if (f < 0) {
		ttrpc_reply_error(c, ST_UNKNOWN, "create process file: %s",
				  strerror(errno));
		return -1;
	}
	ssize_t w = write(f, p->spec, p->spec_len);
	close(f);
	if (w != (ssize_t)p->spec_len) {
		unlink(spec_path);
		ttrpc_reply_error(c, ST_UNKNOWN, "write process file");
		return -1;
	}
	*path = *file = spec_path;
	return 0;
}

static void spec_close(int fd, const char *file)
{
	if (fd >= 0)
		close(fd);
	if (file)
		unlink(file);
}

void task_exec_start(struct call *c, struct proc *p)
{
	struct container *ct = p->ct;
	struct proc *init = ct->init;
	if (task_refused(c, ct, init, LV_EXEC_IN) || task_refused(c, ct, p, LV_START_EXEC))
		return;
	int spec_fd;
	const char *spec_arg;
	char *spec_path;
	if (spec_open(c, p, &spec_fd, &spec_arg, &spec_path) < 0)
		return;
	size_t n;
	const char **argv;
	struct op *o = task_op(c, p, "exec", 11, &argv, &n);
	if (!o) {
		spec_close(spec_fd, spec_path);
		return;
	}
	argv[n++] = "exec";
	argv[n++] = "--process";
	argv[n++] = spec_arg;
	argv[n++] = "--detach";
	argv[n++] = "--pid-file";
	argv[n++] = arena_printf(c->arena, "%s/%s.pid", ct->bundle, p->id);
	int r = task_io_open(c, p, argv, &n, 0);
	if (r < 0) {
		spec_close(spec_fd, spec_path);
		ttrpc_reply_error(c, ST_UNKNOWN, "open stdio: %s", strerror(-r));
		return;
	}
	argv[n++] = ct->id;
	argv[n] = NULL;
	o->u.spec_path = spec_path;
	o->fd3 = spec_fd;
	o->reports_pid = 1;
	r = task_op_run(o, p, argv, p->io.child, 0, exec_done);
	io_child_close(&p->io);
	/* runc holds its own copy of the memfd once spawned */
	spec_close(spec_fd, r < 0 ? spec_path : NULL);
	if (r < 0) {
		/* undone before the answer, as a failed runc exec is */
		io_close(&p->io);
		task_op_refused(o, p, r);
		return;
	}
	lc_event(p, PE_START);
}

void task_exec(struct call *c)
{
	containerd_task_v2_ExecProcessRequest *req =
		DECODE(c, containerd_task_v2_ExecProcessRequest);
	if (!req)
		return;
	struct container *ct = container_find(req->id);
	if (!ct) {
		ttrpc_reply_error(c, ST_NOT_FOUND, "container %s: not found", req->id);
		return;
	}
	if (!id_valid(req->exec_id)) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid exec id %.80s",
				  req->exec_id);
		return;
	}
	if (proc_find(ct, req->exec_id)) {
		ttrpc_reply_error(c, ST_ALREADY_EXISTS, "id %s: already exists",
				  req->exec_id);
		return;
	}
	if (!ct->init || lc_exited(ct->init)) {
		ttrpc_reply_error(c, ST_FAILED_PRECONDITION, "container %s is stopped",
				  ct->id);
		return;
	}
	const struct pbbytes *spec = &req->spec.value;
	if (!req->has_spec || !spec->len || spec->ptr[0] != '{') {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT,
				  "exec spec must be a JSON process");
		return;
	}
	/* Keep the spec until Start; the request's terminal flag wins over the
	 * spec's (a duplicate key: the last one counts for runc's decoder). */
	const char *tail = req->terminal ? ",\"terminal\":true}" : ",\"terminal\":false}";
	size_t len = spec->len;
	while (len && spec->ptr[len - 1] != '}')
		len--;
	if (!len) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT,
				  "exec spec must be a JSON process");
		return;
	}
	size_t total = len - 1 + strlen(tail);
	size_t map = (total + 4095) & ~(size_t)4095;
	char *copy = pages_map(map, 0);
	struct proc *p = copy ? proc_new(ct, req->exec_id) : NULL;
	if (!p) {
		if (copy)
			munmap(copy, map);
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "too many processes");
		return;
	}
	memcpy(copy, spec->ptr, len - 1);
	memcpy(copy + len - 1, tail, strlen(tail));
	p->spec = copy;
	p->spec_len = total;
	p->spec_map = map;
	p->terminal = req->terminal;
	if (!(p->in = proc_str(p, req->stdin)) || !(p->out = proc_str(p, req->stdout)) ||
	    !(p->err = proc_str(p, req->stderr))) {
		lc_event(p, PE_DELETE);
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "exec %s: paths too long",
				  req->exec_id);
		return;
	}
	containerd_events_TaskExecAdded ev;
	memset(&ev, 0, sizeof(ev));
	PB_SETSTR(ev.container_id, ct->id);
	PB_SETSTR(ev.exec_id, p->id);
	task_publish(EV_EXEC_ADDED, &ev);
	ttrpc_reply(c, NULL, NULL);
}
