/*
 * pages.h - the anonymous memory the shim maps for itself, kept out of
 * transparent huge pages.
 *
 * Layer: base (README, "Architecture").
 *
 * The shim's tables (.bss, sized for a 1024-container pod) and its lazily
 * mapped regions are large and touched sparsely.  On a kernel whose THP
 * setting is "always" (Debian's kernels are built so), one touched byte in
 * a 2 MiB-aligned stretch of them is backed by a 2 MiB page at fault time
 * or by khugepaged later: the idle shim was 4.3 MB instead of 0.25 MB.
 * MADV_NOHUGEPAGE on our own ranges only; prctl(PR_SET_THP_DISABLE) would
 * be inherited by runc and the containers.  Small mappings are advised too:
 * the kernel merges neighbours with the same flags into one larger region.
 *
 *   pages_init();                first thing in main: the .bss
 *   void *p = pages_map(len, 0); NULL if it failed; munmap(p, len) after
 *   pages_release(table, used);  an emptied table's pages go back
 */
#ifndef PAGES_H
#define PAGES_H
#include <stddef.h>

void pages_init(void);
/* len bytes, zeroed, read-write, private; flags adds MAP_NORESERVE or
 * MAP_STACK. */
void *pages_map(size_t len, int flags);
/* A table's stretch [p, p+len) is not in use any more: its whole pages go
 * back to the kernel and read as zero when touched again (tables that
 * grow from index 0 and hand back everything once empty). */
void pages_release(void *p, size_t len);
/* An emptied page-aligned table of `size` bytes of which the first `used`
 * were touched: the pages of that stretch go back (pages_release). */
void pages_release_head(void *table, size_t used, size_t size);
/* Idle, from a shallow frame of the main loop: the stack pages below it
 * that deeper calls touched go back. */
void pages_trim_stack(void);
/* The daemon, before its loop: the code it never runs (src/cold.ld)
 * becomes a mapping of its own, and what of it the start-up faulted in
 * goes back.  The kernel maps a file's pages around each fault in 64 KiB
 * windows, but not across a mapping's edge: without this, cold code beside
 * hot code was resident in every shim.  It is read again, a page at a
 * time, if it ever runs (an upgrade, a checkpoint). */
void pages_cold_release(void);
/* A table in .bss starts on a page of its own: its first page (the one
 * slot 0 uses) is not shared with small variables, and the linker
 * (--sort-section=alignment) packs those together after the tables, so an
 * idle shim touches one page per table in use and a few for the rest. */
#define PAGE_ALIGNED __attribute__((aligned(4096)))
/* What a table must span before an empty one is worth releasing. */
#define PAGES_RELEASE_MIN (16 * 4096)
#endif
