/*
 * unit_state.c - unit tests: the upgrade's state stream (state.c) and the
 * slot claims its readers make (slots.c): what is written reads back, and
 * a short, foreign or lying stream fails cleanly at the first bad part.
 */
#include "unit.h"

#include "slots.h"
#include "state.h"

void test_state(void)
{
	begin("state: what is written reads back, fds listed once each");
	struct st_w w;
	st_w_init(&w);
	st_tag(&w, "ABCD");
	st_u64(&w, 0x0123456789abcdefULL);
	st_str(&w, "hello");
	st_str(&w, NULL);
	st_fd(&w, 7);
	st_fd(&w, -1);
	st_bytes(&w, "a\0b", 3);
	for (int i = 0; i < 20000; i++) /* past the first mapping: it grows */
		st_u64(&w, (uint64_t)i);
	CHECK(w.err == 0 && w.nfds == 1 && w.fds[0] == 7);
	struct st_r r = { w.buf, w.len, NULL };
	CHECK(st_want(&r, "ABCD"));
	CHECK(st_get(&r) == 0x0123456789abcdefULL);
	CHECK(strcmp(st_get_str(&r), "hello") == 0 && strcmp(st_get_str(&r), "") == 0);
	CHECK(st_get_fd(&r) == 7 && st_get_fd(&r) == -1);
	size_t n;
	const char *b = st_get_bytes(&r, &n);
	CHECK(b && n == 3 && b[2] == 'b');
	int ok = 1;
	for (int i = 0; i < 20000; i++)
		ok &= st_get(&r) == (uint64_t)i;
	CHECK(ok && r.left == 0 && !r.err);
	end();

	begin("state: a short stream, a wrong tag, a lying length fail once, cleanly");
	struct st_r s1 = { w.buf, 10, NULL }; /* ends inside the first number */
	CHECK(st_want(&s1, "ABCD") && st_get(&s1) == 0 && s1.err);
	CHECK(st_get(&s1) == 0 && !st_want(&s1, "ABCD")); /* reads on as zeros */
	struct st_r s2 = { w.buf, w.len, NULL };
	CHECK(!st_want(&s2, "ABCE") && s2.err);
	uint8_t lie[16] = { 0 };
	lie[7] = 0x7f; /* a string of 2^63 bytes */
	struct st_r s3 = { lie, sizeof(lie), NULL };
	CHECK(st_get_bytes(&s3, &n) == NULL && n == 0 && s3.err);
	struct st_r s4 = { w.buf + 4, 8, NULL }; /* a value over its bound */
	CHECK(st_get_max(&s4, 10, "too big") == 0 && strcmp(s4.err, "too big") == 0);
	uint8_t nul[12] = { 3, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 'b', 0 };
	struct st_r s5 = { nul, sizeof(nul), NULL }; /* a NUL inside a string */
	CHECK(strcmp(st_get_str(&s5), "") == 0 && s5.err);
	st_w_free(&w);
	CHECK(w.buf == NULL && w.len == 0);
	end();

	begin("slots: an upgrade claims the same slots and generations again");
	static struct slot sl[8];
	struct slots p = SLOTS_BESIDE(sl, 8);
	CHECK(slot_claim(&p, 5, 42) == 0 && slot_claim(&p, 2, 7) == 0);
	CHECK(slot_claim(&p, 5, 43) == -1 && slot_claim(&p, 9, 1) == -1 &&
	      slot_claim(&p, 3, 0) == -1);
	slots_relink(&p, 100);
	CHECK(p.used == 2 && p.high == 6 && slot_live(&p, 5, 42) && slot_live(&p, 2, 7));
	int got[4];
	for (int i = 0; i < 4; i++)
		got[i] = slot_take(&p, 8);
	/* the free ones below high first, lowest first; then above */
	CHECK(got[0] == 0 && got[1] == 1 && got[2] == 3 && got[3] == 4);
	CHECK(slot_gen(&p, 0) == 101 && slot_take(&p, 8) == 6);
	end();
}
