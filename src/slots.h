/*
 * slots.h - the one kind of table the daemon keeps: a fixed array of
 * elements (the owner's), each with a `struct slot` (its generation and
 * free-list link) either inside the element (SLOTS_IN: no page of its
 * own) or in an array beside the elements (SLOTS_BESIDE: a scan of which
 * are in use reads that small array only).  Used for containers and
 * processes, parked calls, runc jobs and connections.
 *
 * Layer: base (README, "Architecture").
 *
 * Slots are taken from 0 up (`high`) and recycled through a free list, so
 * the untouched tail of a large table costs no memory.  A slot's
 * generation comes from one counter per pool and is never 0 while the
 * slot is in use, so (index, generation) names one use of a slot: a
 * handle kept past the slot's release never matches a later use.  Once
 * every slot is free again, slots_reset() may start over from 0 (the
 * owner releases its elements' pages; generations go on from the
 * counter).
 *
 *   static struct thing things[N];     // struct thing { struct slot slot; ... }
 *   static struct slots pool = SLOTS_IN(things, N, struct thing, slot);
 *   (or: static struct slot meta[N]; ... = SLOTS_BESIDE(meta, N);)
 *   int i = slot_take(&pool, N);        // -1: full
 *   uint32_t gen = slot_gen(&pool, i);  // for a handle
 *   if (slot_live(&pool, i, gen)) ...   // still that use of it
 *   if (slot_put(&pool, i)) ...         // 1: the pool is empty now
 */
#ifndef SLOTS_H
#define SLOTS_H
#include <stddef.h>
#include <stdint.h>

struct slot {
	uint32_t gen; /* 0: free */
	int32_t next; /* free list */
};

struct slots {
	char *base;	   /* slot i is at base + i * stride */
	size_t stride;
	size_t off;	   /* SLOTS_IN: the slot's offset in its element */
	int beside;	   /* the slots are an array of their own (the pool's) */
	unsigned cap;	   /* set once the array is there (0: none yet) */
	unsigned high;	   /* slots taken at least once since the start */
	unsigned used;	   /* slots in use now */
	int free_head;	   /* -1: empty */
	uint32_t gen_next; /* the last generation given */
};

#define SLOTS_BESIDE(arr, n) { (char *)(arr), sizeof(struct slot), 0, 1, (n), 0, 0, -1, 0 }
#define SLOTS_IN(arr, n, type, member)                                                  \
	{ (char *)(arr) + offsetof(type, member), sizeof(type), offsetof(type, member), 0, \
	  (n), 0, 0, -1, 0 }

/* A free slot (its generation set), or -1 when `limit` are in use already
 * (limit <= cap: what is above it is kept for the owner's own work). */
int slot_take(struct slots *p, unsigned limit);
/* Give slot i back; 1 if no slot is in use any more. */
int slot_put(struct slots *p, unsigned i);
/* SLOTS_IN: zero element i but for its slot (a slot just taken). */
void slot_clear(const struct slots *p, unsigned i);
/* A handle of slot i for who keeps it past a call: its index and the low
 * gen_bits of its generation, never 0; slot_by_handle() gives the index
 * back while that use of the slot is current, else -1. */
uint32_t slot_handle(const struct slots *p, unsigned i, unsigned gen_bits);
int slot_by_handle(const struct slots *p, uint32_t h, unsigned gen_bits);
/* Start over from slot 0, every slot free (only when none is in use;
 * the owner releases its elements' pages, those of a SLOTS_IN pool's
 * slots with them). */
void slots_reset(struct slots *p);
/* An idle daemon gives back the pages of an empty pool (its elements'
 * for SLOTS_IN, its slots' for SLOTS_BESIDE) and starts it over from 0;
 * slots_trimmable(): there are some to give back. */
int slots_trimmable(const struct slots *p);
void slots_trim(struct slots *p);
/* An upgrade's new image takes slot i with generation gen again (the
 * handles that name it must still match); -1 if it is in use or out of
 * range.  slots_relink() then rebuilds the free list and sets the
 * generation counter where the old image left it. */
int slot_claim(struct slots *p, unsigned i, uint32_t gen);
void slots_relink(struct slots *p, uint32_t gen_next);

static inline struct slot *slot_at(const struct slots *p, unsigned i)
{
	return (struct slot *)(void *)(p->base + (size_t)i * p->stride);
}
static inline uint32_t slot_gen(const struct slots *p, unsigned i)
{
	return slot_at(p, i)->gen;
}
static inline int slot_used(const struct slots *p, unsigned i)
{
	return i < p->cap && slot_at(p, i)->gen != 0;
}
/* (i, gen) names the use of slot i that is current now. */
static inline int slot_live(const struct slots *p, unsigned i, uint32_t gen)
{
	return gen && i < p->cap && slot_at(p, i)->gen == gen;
}

#endif
