/*
 * arena.h - per-request memory.
 *
 * Layer: base (README, "Architecture").
 *
 * Each ttrpc request (and each internal job that needs scratch memory) takes
 * an arena, allocates from it freely, and frees it in one call when the
 * response has been written.  Chunks are mmap'd; large ones are returned
 * with munmap, so a large request never raises the resident size after it
 * has been served, and a few small ones are kept warm for the next
 * request.  Memory from arena_alloc is zeroed.
 *
 *   struct arena *a = arena_new();
 *   char *p = arena_alloc(a, 100);
 *   arena_free(a);
 */
#ifndef ARENA_H
#define ARENA_H
#include <stddef.h>
#include <stdarg.h>

struct arena;

/* NULL once the client share of the pool is in use. */
struct arena *arena_new(void);
/* For the shim's own work: may use the reserved descriptors. */
struct arena *arena_new_reserved(void);
/* Client arenas that can still be handed out. */
unsigned arena_available(void);
/* Bytes mapped by a's chunks (what holding it costs at most). */
size_t arena_size(const struct arena *a);
void arena_free(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);
/* Arenas currently handed out, and bytes mapped by them (for tests). */
unsigned arena_in_use(void);
size_t arena_mapped(void);
/* Chunks kept warm (tests). */
size_t arena_warm(void);
/* Give the warm chunks back (when the daemon is idle). */
int arena_has_warm(void);
void arena_trim(void);

#endif
