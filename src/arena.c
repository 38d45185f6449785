/*
 * arena.c - per-request bump allocator over mmap'd chunks.
 *
 * Layer: base (README, "Architecture").
 *
 * Arena descriptors come from a fixed pool (capacity.h) handed out lazily,
 * with a free list; the last LIM_RESERVED are kept for the shim's own work
 * (arena_new_reserved), so that no client can take the memory an event or
 * a kill --all needs.  The first chunk is small because most requests
 * (State, Kill, Wait) need a few hundred bytes; later chunks grow to fit.
 *
 * Released first chunks go to a small warm list and are reused as they
 * are (the used part zeroed again) instead of being unmapped and mapped
 * afresh: a request then costs no mmap, no page fault and no munmap.  The
 * list is bounded in count and only takes chunks whose touched part is
 * small, so what it keeps resident stays a few pages.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "capacity.h"
#include "pages.h"

#define POOL	   (LIM_ARENAS + LIM_RESERVED)
#define CHUNK_MIN  (64 * 1024)
#define WARM_MAX   8 /* a burst of replies (ttrpc.c FLUSH_BURST) needs no mmap */
#define WARM_TOUCH (16 * 1024) /* a chunk touched beyond this is unmapped */
#define ALIGN	   16

struct chunk {
	struct chunk *next;
	size_t size; /* bytes mapped, header included */
	size_t used; /* bytes used, header included */
};

struct arena {
	struct chunk *head;
	struct arena *next_free;
	int in_use;
};

/* Descriptors never handed out yet are taken in order from pool_next, so
 * the pool's untouched tail costs no resident memory; released ones go on
 * the free list. */
static struct arena pool[POOL] PAGE_ALIGNED;
static struct arena *free_list;
static unsigned pool_next;
static unsigned in_use;
static size_t mapped;
static struct chunk *warm[WARM_MAX];
static unsigned nwarm;

static struct arena *take(void)
{
	struct arena *a = free_list;
	if (a)
		free_list = a->next_free;
	else if (pool_next < POOL)
		a = &pool[pool_next++];
	else
		return NULL;
	a->next_free = NULL;
	a->head = NULL;
	a->in_use = 1;
	in_use++;
	return a;
}

struct arena *arena_new(void)
{
	if (in_use >= LIM_ARENAS)
		return NULL;
	return take();
}

struct arena *arena_new_reserved(void)
{
	return take();
}

unsigned arena_available(void)
{
	return in_use >= LIM_ARENAS ? 0 : LIM_ARENAS - in_use;
}

static void chunk_release(struct chunk *c)
{
	if (c->size == CHUNK_MIN && c->used <= WARM_TOUCH && nwarm < WARM_MAX) {
		warm[nwarm++] = c;
		return;
	}
	mapped -= c->size;
	munmap(c, c->size);
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *next = c->next;
		chunk_release(c);
		c = next;
	}
	a->head = NULL;
	a->in_use = 0;
	a->next_free = free_list;
	free_list = a;
	/* all free again after a crowd (10 000 Waits answered at once): the
	 * descriptors it spread over go back, and the pool starts again */
	if (--in_use == 0 && pool_next * sizeof(pool[0]) >= PAGES_RELEASE_MIN) {
		pages_release(pool, pool_next * sizeof(pool[0]));
		pool_next = 0;
		free_list = NULL;
	}
}

static size_t align_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

static struct chunk *chunk_new(size_t size, size_t hdr)
{
	struct chunk *c;
	if (size == CHUNK_MIN && nwarm) {
		c = warm[--nwarm];
		/* memory from arena_alloc is zeroed: clear what was used */
		memset((char *)c + hdr, 0, c->used - hdr);
	} else {
		void *m = pages_map(size, 0);
		if (!m)
			return NULL;
		c = m;
		c->size = size;
		mapped += size;
	}
	c->used = hdr;
	c->next = NULL;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	if (!a || n > ((size_t)1 << 30))
		return NULL;
	n = align_up(n ? n : 1, ALIGN);
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t hdr = align_up(sizeof(struct chunk), ALIGN);
		size_t size = align_up(hdr + n, 4096);
		if (size < CHUNK_MIN)
			size = CHUNK_MIN;
		if (!(c = chunk_new(size, hdr)))
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c + c->used;
	c->used += n;
	return p;
}

size_t arena_size(const struct arena *a)
{
	size_t n = 0;
	for (const struct chunk *c = a ? a->head : NULL; c; c = c->next)
		n += c->size;
	return n;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *p = arena_alloc(a, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

unsigned arena_in_use(void)
{
	return in_use;
}

size_t arena_mapped(void)
{
	return mapped;
}

size_t arena_warm(void)
{
	return nwarm;
}

int arena_has_warm(void)
{
	return nwarm > 0;
}

void arena_trim(void)
{
	while (nwarm) {
		struct chunk *c = warm[--nwarm];
		mapped -= c->size;
		munmap(c, c->size);
	}
}
