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
		p->free_head = p->s[i].next;
	} else if (p->high < p->cap) {
		i = (int)p->high++;
	} else {
		return -1;
	}
	if (++p->gen_next == 0)
		p->gen_next = 1;
	p->s[i].gen = p->gen_next;
	p->s[i].next = -1;
	p->used++;
	return i;
}

int slot_put(struct slots *p, unsigned i)
{
	if (i >= p->cap || !p->s[i].gen)
		return p->used == 0;
	p->s[i].gen = 0;
	p->s[i].next = p->free_head;
	p->free_head = (int)i;
	p->used--;
	return p->used == 0;
}

void slots_reset(struct slots *p)
{
	if (p->used)
		return;
	pages_release(p->s, (size_t)p->high * sizeof(p->s[0]));
	p->high = 0;
	p->free_head = -1;
}
