/*
 * cgroup.h - container statistics and OOM notifications, read straight from
 * cgroupfs for the cgroup of a pid (/proc/<pid>/cgroup).
 *
 * Layer: runtime (README, "Architecture").
 *
 * The host's mode is detected once: a cgroup2 mount at /sys/fs/cgroup means
 * unified (v2); anything else, hybrid included, is handled as v1.
 *
 *   cgroup_enable_controllers(init_pid);          // v2, after runc create
 *   int h = cgroup_oom_watch(init_pid, on_oom, ct);
 *   ...
 *   r = cgroup_stats(req_arena, init_pid, &resp->stats);  // -ENOENT: NotFound
 *   ...
 *   cgroup_oom_drain(h);                          // before publishing TaskExit
 *   cgroup_oom_unwatch(h);
 */
#ifndef CGROUP_H
#define CGROUP_H
#include <sys/types.h>
#include "arena.h"
#include "google_protobuf_any.pb.h"

#define CGROUP_V1_METRICS_URL "io.containerd.cgroups.v1.Metrics"
#define CGROUP_V2_METRICS_URL "io.containerd.cgroups.v2.Metrics"

/* Fill `out` with io.containerd.cgroups.v1.Metrics (v1 or hybrid host) or
 * io.containerd.cgroups.v2.Metrics (unified host) for the cgroup of `pid`;
 * the value is encoded into `a`.  Missing files leave their fields zero.
 * -ENOENT when the process or its cgroup is gone. */
int cgroup_stats(struct arena *a, pid_t pid, google_protobuf_Any *out);
/* The same for a cgroup named by a /proc/<pid>/cgroup text read earlier
 * (cgroup_of), for a process that has exited: -ENOENT once the cgroup
 * itself is gone. */
int cgroup_stats_of(struct arena *a, const char *procfile, google_protobuf_Any *out);
/* Read /proc/<pid>/cgroup into buf (NUL-terminated); 0 or a negative errno. */
int cgroup_of(pid_t pid, char *buf, size_t cap);

/* Watch the memory cgroup of `pid` for OOM.  cb(ctx) runs from the event
 * loop: v1, on each memory.oom_control eventfd notification while the
 * cgroup exists; v2, each time oom_kill in memory.events increases.  When
 * the cgroup disappears the watch goes quiet, but its handle stays valid
 * until cgroup_oom_unwatch.  Returns a handle >= 0 or -errno. */
int cgroup_oom_watch(pid_t pid, void (*cb)(void *ctx), void *ctx);
/* The same for the cgroup a /proc/<pid>/cgroup text names (cgroup_of). */
int cgroup_oom_watch_of(const char *procfile, void (*cb)(void *ctx), void *ctx);
/* Check now, without waiting for the loop, and run cb if an OOM is pending
 * (used to report an OOM before the exit it caused). */
void cgroup_oom_drain(int handle);
void cgroup_oom_unwatch(int handle);
/* An upgrade in place watches the cgroup again in the new image: the kills
 * a v2 watch has counted so far (0 for v1) are carried, and
 * cgroup_oom_since() reports a kill counted since then, in the moment
 * between the two watches.  (v1's eventfd cannot tell.) */
uint64_t cgroup_oom_seen(int handle);
void cgroup_oom_since(int handle, uint64_t seen);

/* v2 only: write +<ctrl> for every controller of the root into
 * cgroup.subtree_control of each ancestor of pid's cgroup.  Errors are
 * ignored, as they are by the Go shim. */
void cgroup_enable_controllers(pid_t pid);
void cgroup_enable_controllers_of(const char *procfile);

/* Move pid into cgroup `path` (the ShimCgroup option, at start): v2,
 * creating it when missing; v1, in each cgroup hierarchy mountinfo lists
 * where it exists (an error if none has it).  0, or a negative errno with
 * a message in err. */
int cgroup_join(const char *path, pid_t pid, char *err, size_t cap);

/* Tests: use `root` instead of /sys/fs/cgroup and `proc` instead of /proc,
 * with unified = 1 (v2), 0 (v1) or -1 (detect).  NULL restores a default.
 * The strings must outlive their use. */
void cgroup_set_roots(const char *root, const char *proc, int unified);

#endif
