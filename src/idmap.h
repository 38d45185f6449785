/*
 * idmap.h - idmapped mounts, for the uidmap=/gidmap= mount options that
 * containerd's snapshotters add for user-namespaced containers.
 *
 * Layer: runtime (README, "Architecture").
 *
 * A mapping list is "container:host:size[,container:host:size...]", as in
 * the options.  idmap_userns() makes a user namespace with those mappings
 * (a short-lived child holds it while the maps are written) and returns an
 * fd on it; idmap_tree() clones the mount tree at src, idmaps it through
 * that namespace and attaches it at dst (dst may equal src: the idmapped
 * tree is then stacked on it).
 *
 *   int ns = idmap_userns("0:100000:65536", "0:100000:65536");
 *   idmap_tree(ns, "/bundle/rootfs", "/bundle/rootfs", 0);
 *   close(ns);
 */
#ifndef IDMAP_H
#define IDMAP_H

enum { IDMAP_RDONLY = 1 };

/* 1 if the list parses (at most 340 entries, as the kernel allows). */
int idmap_valid(const char *list);
/* An fd on a new user namespace with these maps, or a negative errno. */
int idmap_userns(const char *uidmap, const char *gidmap);
int idmap_tree(int userns, const char *src, const char *dst, int flags);
/* 1 if this process runs in a user namespace other than the initial one. */
int idmap_in_userns(void);

#endif
