/*
 * unit_arena.c - unit tests: the per-request arena.
 */
#include "unit.h"

void test_arena(void)
{
	begin("arena");
	unsigned base = arena_in_use();
	struct arena *a = arena_new();
	CHECK(a != NULL);
	char *p = arena_alloc(a, 10);
	CHECK(p && ((uintptr_t)p & 15) == 0);
	int zero = 1;
	for (int i = 0; i < 10; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	memset(p, 'x', 10);
	char *big = arena_alloc(a, 1 << 20); /* larger than a chunk */
	CHECK(big != NULL);
	big[(1 << 20) - 1] = 1;
	char *s = arena_printf(a, "%s-%d", "id", 42);
	CHECK(s && strcmp(s, "id-42") == 0);
	CHECK(arena_alloc(a, (size_t)1 << 31) == NULL);
	CHECK(arena_in_use() == base + 1);
	CHECK(arena_mapped() >= (1 << 20));
	arena_free(a);
	CHECK(arena_in_use() == base);
	/* the big chunk is unmapped; the small one may be kept warm */
	CHECK(arena_mapped() <= arena_warm() * 65536 && arena_warm() <= 4);

	/* a warm chunk comes back zeroed */
	a = arena_new();
	p = arena_alloc(a, 64);
	zero = 1;
	for (int i = 0; i < 64; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	arena_free(a);

	/* the client share runs out; the reserved one is still there */
	static struct arena *all[LIM_ARENAS + 1];
	int n = 0;
	while (n < LIM_ARENAS + 1 && (all[n] = arena_new()) != NULL)
		n++;
	CHECK(n == LIM_ARENAS && arena_available() == 0);
	struct arena *r = arena_new_reserved();
	CHECK(r != NULL && arena_alloc(r, 10) != NULL);
	arena_free(r);
	for (int i = 0; i < n; i++)
		arena_free(all[i]);
	CHECK(arena_in_use() == 0);
	a = arena_new();
	CHECK(a != NULL);
	arena_free(a);
	end();
}
