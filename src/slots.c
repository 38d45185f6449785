/*
 * slots.c - slot pools with generation handles (see slots.h).
 *
 * Layer: base (README, "Architecture").
 */
#include "slots.h"

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

void slots_reset(struct slots *p)
{
	if (p->used)
		return;
	if (p->beside) /* an array of their own: the pool's to give back */
		pages_release(p->base, (size_t)p->high * p->stride);
	p->high = 0;
	p->free_head = -1;
}
