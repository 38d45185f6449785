/*
 * mount.h - the task's rootfs mounts.
 *
 * Layer: runtime (README, "Architecture").
 *
 * mount_apply() mounts one containerd Mount (type, source, options) onto a
 * target; options become MS_* flags plus a data string the way mount(8)
 * reads them, and these are containerd's own: `loop` (the source is an
 * image file, attached to a loop device; `direct-io` with it),
 * `uidmap=`/`gidmap=` (an idmapped mount; for overlay, idmapped lower
 * layers), and a read-only bind keeps the flags a user namespace locks.  mount_unmount_all() unmounts a target and anything stacked
 * on it.
 */
#ifndef MOUNT_H
#define MOUNT_H
#include "pbtypes.h"

int mount_apply(const char *type, const char *source, const struct pbstrlist *options,
		const char *target);
/* The same at `sub` inside root (containerd's Mount.Target, 1.7+), with
 * sub resolved within root as if root were "/" (symlinks and ".." cannot
 * leave it); "" or "/" is root itself. */
int mount_apply_at(const char *type, const char *source, const struct pbstrlist *options,
		   const char *root, const char *sub);
/* The path of `sub` inside root as mount_apply_at finds it (for a helper
 * that takes a path): 0 or a negative errno. */
int mount_resolve_at(const char *root, const char *sub, char *out, size_t cap);
/* fuse.X and fuse3.X mounts are made by the mount.fuse / mount.fuse3
 * helper, as containerd does: its argv (at most cap entries with the
 * NULL) as `mount.fuse3 SOURCE TARGET -o OPT... -t X`, and the count; 0
 * for a type the kernel mounts itself; -E2BIG. */
int mount_helper_argv(const char *type, const char *source,
		      const struct pbstrlist *options, const char *target,
		      const char **argv, size_t cap);
int mount_unmount_all(const char *target);
/* Overlay options too long for mount(2)'s one page: lowerdir entries made
 * relative to their common parent, written to dir ("" if left alone). */
void mount_compact_lowerdir(char *data, char *dir, size_t dircap);

#endif
