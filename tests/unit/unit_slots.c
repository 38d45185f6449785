/*
 * unit_slots.c - unit tests: the slot pool (slots.c) that every table of
 * the daemon uses: handles, the limit kept for the owner, the free list,
 * and starting over once empty.
 */
#include "unit.h"

#include "slots.h"

void test_slots(void)
{
	begin("slots: handles go stale, the limit holds, an empty pool starts over");
	static struct slot s[8];
	struct slots p = SLOTS_BESIDE(s, 8);
	int a = slot_take(&p, 8), b = slot_take(&p, 8);
	CHECK(a == 0 && b == 1 && p.used == 2 && p.high == 2);
	uint32_t ga = slot_gen(&p, 0), gb = slot_gen(&p, 1);
	CHECK(ga && gb && ga != gb && slot_live(&p, 0, ga) && !slot_live(&p, 0, gb));
	CHECK(slot_put(&p, 0) == 0 && !slot_live(&p, 0, ga) && !slot_used(&p, 0));
	int c = slot_take(&p, 8); /* from the free list */
	CHECK(c == 0 && slot_gen(&p, 0) != ga && !slot_live(&p, 0, ga));
	CHECK(slot_take(&p, 2) == -1); /* 2 in use: the rest is the owner's */
	int d = slot_take(&p, 8);
	CHECK(d == 2);
	CHECK(slot_put(&p, 5) == 0); /* never taken: nothing happens */
	CHECK(slot_put(&p, 0) == 0 && slot_put(&p, 1) == 0 && slot_put(&p, 2) == 1);
	CHECK(slot_put(&p, 2) == 1 && p.used == 0); /* twice: harmless */
	uint32_t last = slot_gen(&p, 2) ? 0 : p.gen_next;
	slots_reset(&p);
	CHECK(p.high == 0 && slot_take(&p, 8) == 0 && slot_gen(&p, 0) == last + 1);
	for (int i = 1; i < 8; i++)
		CHECK(slot_take(&p, 8) == i);
	CHECK(slot_take(&p, 8) == -1 && p.used == 8);
	slots_reset(&p); /* not while in use */
	CHECK(p.high == 8 && slot_used(&p, 7));
	p.gen_next = UINT32_MAX; /* the counter wraps past 0 */
	slot_put(&p, 3);
	CHECK(slot_take(&p, 8) == 3 && slot_gen(&p, 3) == 1);

	/* slots inside the elements: the element's own fields are its owner's */
	static struct elem {
		int before;
		struct slot slot;
		char after[20];
	} el[4];
	struct slots q = SLOTS_IN(el, 4, struct elem, slot);
	int e0 = slot_take(&q, 4), e1 = slot_take(&q, 4);
	CHECK(e0 == 0 && e1 == 1 && el[1].slot.gen == slot_gen(&q, 1) && el[1].slot.gen);
	el[0].before = 7;
	CHECK(slot_put(&q, 0) == 0 && el[0].before == 7 && !el[0].slot.gen);
	CHECK(slot_take(&q, 4) == 0 && slot_live(&q, 0, el[0].slot.gen));
	el[0].before = 7;
	memset(el[0].after, 'x', sizeof(el[0].after));
	uint32_t g0 = el[0].slot.gen;
	slot_clear(&q, 0); /* the element, not its slot */
	CHECK(el[0].before == 0 && el[0].after[0] == 0 && el[0].after[19] == 0);
	CHECK(el[0].slot.gen == g0 && slot_used(&q, 0));

	/* handles: never 0, the index back while that use is current */
	uint32_t h = slot_handle(&q, 0, 12), h1 = slot_handle(&q, 1, 12);
	CHECK(h && h1 && h != h1);
	CHECK(slot_by_handle(&q, h, 12) == 0 && slot_by_handle(&q, h1, 12) == 1);
	CHECK(slot_by_handle(&q, 0, 12) == -1);
	slot_put(&q, 0);
	CHECK(slot_by_handle(&q, h, 12) == -1); /* released */
	CHECK(slot_take(&q, 4) == 0 && slot_by_handle(&q, h, 12) == -1); /* reused */
	CHECK(slot_by_handle(&q, (uint32_t)4 << 12 | 1, 12) == -1); /* never taken */
	end();
}
