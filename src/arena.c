/*
 * arena.c - per-request bump allocator over mmap'd chunks.
 *
 * Arena descriptors come from a fixed pool with a free list; the pool size
 * bounds how many requests can be in flight at once.  The first chunk is
 * small because most requests (State, Kill, Wait) need a few hundred bytes;
 * later chunks grow to fit.  mmap hands out zeroed pages that only become
 * resident when touched, so an oversized chunk costs address space only.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_MAX 256
#define CHUNK_MIN (64 * 1024)
#define ALIGN	  16

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
static struct arena pool[ARENA_MAX];
static struct arena *free_list;
static unsigned pool_next;
static unsigned in_use;
static size_t mapped;

struct arena *arena_new(void)
{
	struct arena *a = free_list;
	if (a)
		free_list = a->next_free;
	else if (pool_next < ARENA_MAX)
		a = &pool[pool_next++];
	else
		return NULL;
	a->next_free = NULL;
	a->head = NULL;
	a->in_use = 1;
	in_use++;
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *next = c->next;
		mapped -= c->size;
		munmap(c, c->size);
		c = next;
	}
	a->head = NULL;
	a->in_use = 0;
	a->next_free = free_list;
	free_list = a;
	in_use--;
}

static size_t align_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
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
		void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		c = m;
		c->size = size;
		c->used = hdr;
		c->next = a->head;
		a->head = c;
		mapped += size;
	}
	void *p = (char *)c + c->used;
	c->used += n;
	return p;
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
