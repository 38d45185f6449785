/*
 * unit_framing.c - unit tests: ttrpc framing: frames in, frames out.
 */
#include "unit.h"

struct got_frame {
	struct ttrpc_hdr h;
	size_t len;
	uint8_t data[64];
	int oversized;
};
static struct got_frame got[16];
static int ngot;

static int collect(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
		   uint8_t *payload)
{
	(void)ctx;
	struct got_frame *g = &got[ngot++];
	g->h = *h;
	g->oversized = payload == NULL;
	if (payload) {
		g->len = h->len < sizeof(g->data) ? h->len : sizeof(g->data);
		memcpy(g->data, payload, g->len);
	}
	arena_free(a);
	return 0;
}

static size_t frame(uint8_t *out, uint32_t stream, uint8_t type, const char *payload,
		    size_t len)
{
	struct ttrpc_hdr h = { (uint32_t)len, stream, type, 0 };
	ttrpc_hdr_put(out, &h);
	memcpy(out + TTRPC_HDR_LEN, payload, len);
	return TTRPC_HDR_LEN + len;
}

static int frames_ok(void)
{
	return ngot == 3 && got[0].h.stream == 1 && got[0].len == 5 &&
	       memcmp(got[0].data, "hello", 5) == 0 && got[1].h.stream == 3 &&
	       got[1].len == 0 && got[2].h.stream == 5 && got[2].h.type == 2 &&
	       got[2].len == 11 && memcmp(got[2].data, "hello world", 11) == 0;
}

void test_framing(void)
{
	begin("frame header encode/decode");
	uint8_t hb[10];
	struct ttrpc_hdr h = { 0x01020304, 0x0a0b0c0d, 1, 2 }, h2;
	ttrpc_hdr_put(hb, &h);
	CHECK(hb[0] == 1 && hb[3] == 4 && hb[4] == 0x0a && hb[7] == 0x0d && hb[8] == 1 &&
	      hb[9] == 2);
	ttrpc_hdr_get(hb, &h2);
	CHECK(h2.len == h.len && h2.stream == h.stream && h2.type == 1 && h2.flags == 2);
	end();

	uint8_t buf[256];
	size_t n = 0;
	n += frame(buf + n, 1, 1, "hello", 5);
	n += frame(buf + n, 3, 1, "", 0);
	n += frame(buf + n, 5, 2, "hello world", 11);

	begin("frames coalesced in one read");
	struct ttrpc_dec d;
	memset(&d, 0, sizeof(d));
	ngot = 0;
	CHECK(ttrpc_dec_feed(&d, buf, n, collect, NULL) >= 0);
	CHECK(frames_ok());
	ttrpc_dec_reset(&d);
	end();

	begin("frames split byte by byte");
	ngot = 0;
	for (size_t i = 0; i < n; i++)
		CHECK(ttrpc_dec_feed(&d, buf + i, 1, collect, NULL) >= 0);
	CHECK(frames_ok());
	ttrpc_dec_reset(&d);
	end();

	begin("frames split at every position");
	for (size_t cut = 1; cut < n; cut++) {
		ngot = 0;
		CHECK(ttrpc_dec_feed(&d, buf, cut, collect, NULL) >= 0);
		CHECK(ttrpc_dec_feed(&d, buf + cut, n - cut, collect, NULL) >= 0);
		CHECK(frames_ok());
	}
	ttrpc_dec_reset(&d);
	CHECK(arena_in_use() == 0);
	end();

	begin("oversized frame is reported and skipped");
	ngot = 0;
	struct ttrpc_hdr big = { TTRPC_MAX_PAYLOAD + 1, 7, 1, 0 };
	uint8_t bh[10];
	ttrpc_hdr_put(bh, &big);
	CHECK(ttrpc_dec_feed(&d, bh, 10, collect, NULL) >= 0);
	CHECK(ngot == 1 && got[0].oversized && got[0].h.stream == 7);
	static uint8_t junk[65536];
	size_t left = big.len;
	while (left) {
		size_t k = left < sizeof(junk) ? left : sizeof(junk);
		CHECK(ttrpc_dec_feed(&d, junk, k, collect, NULL) >= 0);
		left -= k;
	}
	CHECK(ngot == 1);
	ngot = 0;
	CHECK(ttrpc_dec_feed(&d, buf, n, collect, NULL) >= 0);
	CHECK(frames_ok());
	ttrpc_dec_reset(&d);
	end();
}
