/*
 * slots.c - slot pools with generation handles (see slots.h).
 *
 * Layer: base (README, "Architecture").
 */
#include "cold.h"
#include "slots.h"

#include <string.h>

#include "pages.h"

int slot_take(struct slots *p, unsigned limit)
{
	int i;
	if (p->used >= limit || !p->cap)
		return -1;
	if (p->free_head >= 0) {
		i = p->free_head;
		p->free_head = slot_at(p, (unsigned)i)->next;
	} else if (p->high < p->cap) {
		i = (int)p->high++;
	} else {
		return -1;
	}
	if (++p->gen_next == 0)
		p->gen_next = 1;
	slot_at(p, (unsigned)i)->gen = p->gen_next;
	slot_at(p, (unsigned)i)->next = -1;
	p->used++;
	return i;
}

int slot_put(struct slots *p, unsigned i)
{
	struct slot *s = i < p->cap ? slot_at(p, i) : NULL;
	if (!s || !s->gen)
		return p->used == 0;
	s->gen = 0;
	s->next = p->free_head;
	p->free_head = (int)i;
	p->used--;
	return p->used == 0;
}

void slot_clear(const struct slots *p, unsigned i)
{
	char *elem = (char *)slot_at(p, i) - p->off;
	memset(elem, 0, p->off);
	memset(elem + p->off + sizeof(struct slot), 0,
	       p->stride - p->off - sizeof(struct slot));
}

uint32_t slot_handle(const struct slots *p, unsigned i, unsigned gen_bits)
{
	uint32_t mask = (1u << gen_bits) - 1;
	return (uint32_t)(i + 1) << gen_bits | (slot_gen(p, i) & mask);
}

int slot_by_handle(const struct slots *p, uint32_t h, unsigned gen_bits)
{
	uint32_t mask = (1u << gen_bits) - 1;
	uint32_t i = (h >> gen_bits) - 1;
	if (!h || !slot_used(p, i) || (slot_gen(p, i) & mask) != (h & mask))
		return -1;
	return (int)i;
}

void slots_reset(struct slots *p)
{
	if (p->used)
		return;
	if (p->beside) /* an array of their own: the pool's to give back */
		pages_release(p->base, (size_t)p->high * p->stride);
	p->high = 0;
	p->free_head = -1;
}

COLD int slot_claim(struct slots *p, unsigned i, uint32_t gen)
{
	if (!gen || i >= p->cap || slot_at(p, i)->gen)
		return -1;
	/* slots below i not yet taken join the free list in slots_relink */
	while (p->high <= i)
		slot_at(p, p->high++)->gen = 0;
	slot_at(p, i)->gen = gen;
	slot_at(p, i)->next = -1;
	p->used++;
	return 0;
}

COLD void slots_relink(struct slots *p, uint32_t gen_next)
{
	p->free_head = -1;
	for (unsigned i = p->high; i-- > 0;)
		if (!slot_at(p, i)->gen) {
			slot_at(p, i)->next = p->free_head;
			p->free_head = (int)i;
		}
	p->gen_next = gen_next;
}

int slots_trimmable(const struct slots *p)
{
	return !p->used && p->high;
}

void slots_trim(struct slots *p)
{
	if (!slots_trimmable(p))
		return;
	pages_release_head(p->base - p->off, (size_t)p->high * p->stride,
			   (size_t)p->cap * p->stride);
	slots_reset(p);
}
