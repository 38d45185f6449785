/*
 * bootstrap.h - the `start` and `delete` actions that containerd runs, and
 * the socket address they share with the daemon.
 *
 * Layer: face (README, "Architecture").
 *
 * start: choose the grouping key, compute the socket address, bind it (or
 * reuse the live shim of the same group), write `address` into the bundle,
 * re-exec ourselves as the daemon with the listener as fd 3, print the
 * address.  delete: `runc delete --force`, unmount the rootfs, print a
 * DeleteResponse.
 */
#ifndef BOOTSTRAP_H
#define BOOTSTRAP_H
#include <stddef.h>
#include "flags.h"

int bootstrap_start(const struct shim_flags *f);
int bootstrap_delete(const struct shim_flags *f);
/* -info (containerd 2.x): a containerd.types.RuntimeInfo on stdout, with
 * the runtime's `features` output as the features Any. */
int bootstrap_info(const struct shim_flags *f, const char *version, const char *revision);
/* Go's filepath.Clean, in place. */
void path_clean(char *p);
/* unix:///run/containerd/s/<sha256(clean(address/ns/group))>; 0 or -errno. */
int socket_address(const char *dir, const char *address, const char *ns,
		   const char *group, char *out, size_t cap);

#endif
