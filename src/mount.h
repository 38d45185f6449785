/*
 * mount.h - the task's rootfs mounts.
 *
 * mount_apply() mounts one containerd Mount (type, source, options) onto a
 * target; options become MS_* flags plus a data string the way mount(8)
 * reads them.  mount_unmount_all() unmounts a target and anything stacked
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
int mount_unmount_all(const char *target);
/* Overlay options too long for mount(2)'s one page: lowerdir entries made
 * relative to their common parent, written to dir ("" if left alone). */
void mount_compact_lowerdir(char *data, char *dir, size_t dircap);

#endif
