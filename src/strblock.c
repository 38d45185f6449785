/*
 * strblock.c - string blocks in one lazily mapped region.
 *
 * Layer: base (README, "Architecture").
 *
 * Blocks come in power-of-two classes from 1 KiB to 32 KiB, carved from
 * the region in order and reused through a free list per class, so a
 * freed container's pages serve the next one; pages never touched cost
 * nothing.
 */
#include "strblock.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "capacity.h"
#include "pages.h"

#define CLASSES	 6 /* 1, 2, 4, 8, 16, 32 KiB */
#define MIN_SIZE 1024
#define MAX_STR	 (16 * 1024)
/* enough for every container and process to have several blocks */
#define REGION ((size_t)(LIM_CONTAINERS * 40 + LIM_PROCS * 12) * 1024)

struct sblk {
	struct sblk *next;
	uint32_t cap, used; /* bytes after the header */
};

static char *region;
static size_t carved;
static struct sblk *free_blocks[CLASSES];

static int class_of(size_t size)
{
	int c = 0;
	while (((size_t)MIN_SIZE << c) < size && c < CLASSES - 1)
		c++;
	return c;
}

static struct sblk *blk_new(size_t want)
{
	int c = class_of(want + sizeof(struct sblk));
	size_t size = (size_t)MIN_SIZE << c;
	struct sblk *k = free_blocks[c];
	if (k) {
		free_blocks[c] = k->next;
	} else {
		if (!region) {
			void *m = pages_map(REGION, MAP_NORESERVE);
			if (!m)
				return NULL;
			region = m;
		}
		if (REGION - carved < size)
			return NULL;
		k = (struct sblk *)(region + carved);
		carved += size;
	}
	k->next = NULL;
	k->cap = (uint32_t)(size - sizeof(*k));
	k->used = 0;
	return k;
}

const char *strblock_add(struct strblock *b, size_t first, const char *s)
{
	size_t n = strlen(s);
	if (!n)
		return "";
	if (n >= MAX_STR)
		return NULL;
	struct sblk *k = b->head;
	if (!k || k->cap - k->used < n + 1) {
		size_t want = n + 1;
		if (!k && first > want + sizeof(*k))
			want = first - sizeof(*k);
		if (!(k = blk_new(want)))
			return NULL;
		k->next = b->head;
		b->head = k;
	}
	char *d = (char *)(k + 1) + k->used;
	memcpy(d, s, n + 1);
	k->used += (uint32_t)(n + 1);
	return d;
}

void strblock_free(struct strblock *b)
{
	while (b->head) {
		struct sblk *k = b->head;
		b->head = k->next;
		int c = class_of(k->cap + sizeof(*k));
		k->next = free_blocks[c];
		free_blocks[c] = k;
	}
}
