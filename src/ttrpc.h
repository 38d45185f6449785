/*
 * ttrpc.h - ttrpc framing, and the server side of the task service.
 *
 * Framing: a 10-byte big-endian header (length, stream id, type, flags) and
 * a payload of at most 4 MiB.  ttrpc_dec_feed() turns any split or coalesced
 * byte stream into whole frames, each payload in its own arena.
 *
 * Server: ttrpc_register() a service's methods, ttrpc_listen() on a
 * listening socket.  Every request becomes a `struct call` living in its
 * arena; the handler answers with ttrpc_reply()/ttrpc_reply_error() at once,
 * or keeps the call and answers later (Wait, or a request waiting for runc).
 * Answering frees the arena.  If the connection closes first, a parked call
 * whose owner set `cancel` is cancelled and freed; any other call is freed
 * when answered and its answer dropped.
 */
#ifndef TTRPC_H
#define TTRPC_H
#include <stdint.h>
#include <stddef.h>
#include <pb.h>
#include "arena.h"
#include "pbtypes.h"

#define TTRPC_HDR_LEN	  10
#define TTRPC_MAX_PAYLOAD (4u << 20)
enum { TTRPC_REQUEST = 1, TTRPC_RESPONSE = 2, TTRPC_DATA = 3 };

/* gRPC status codes used by the shim. */
enum {
	ST_OK = 0,
	ST_CANCELED = 1,
	ST_UNKNOWN = 2,
	ST_INVALID_ARGUMENT = 3,
	ST_DEADLINE_EXCEEDED = 4,
	ST_NOT_FOUND = 5,
	ST_ALREADY_EXISTS = 6,
	ST_RESOURCE_EXHAUSTED = 8,
	ST_FAILED_PRECONDITION = 9,
	ST_UNIMPLEMENTED = 12,
	ST_INTERNAL = 13,
	ST_UNAVAILABLE = 14,
};

struct ttrpc_hdr {
	uint32_t len;
	uint32_t stream;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_hdr_put(uint8_t out[TTRPC_HDR_LEN], const struct ttrpc_hdr *h);
void ttrpc_hdr_get(const uint8_t in[TTRPC_HDR_LEN], struct ttrpc_hdr *h);

struct ttrpc_dec {
	uint8_t hbuf[TTRPC_HDR_LEN];
	size_t hgot;
	struct ttrpc_hdr h;
	struct arena *arena;
	uint8_t *buf;
	size_t got;
	size_t skip; /* bytes of an oversized payload still to discard */
};

/*
 * Called once per frame.  For an oversized frame `a` and `payload` are
 * NULL (the payload is discarded).  Otherwise the callee owns `a`.
 * A negative return stops decoding and is returned by ttrpc_dec_feed.
 */
typedef int (*ttrpc_frame_fn)(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
			      uint8_t *payload);
int ttrpc_dec_feed(struct ttrpc_dec *d, const uint8_t *data, size_t n, ttrpc_frame_fn fn,
		   void *ctx);
void ttrpc_dec_reset(struct ttrpc_dec *d);

struct call;
typedef void (*ttrpc_method_fn)(struct call *c);
struct ttrpc_method {
	const char *name;
	ttrpc_method_fn fn;
};

struct call {
	struct arena *arena;
	struct call *next, *prev; /* all calls not yet answered */
	int conn;
	unsigned gen;
	uint32_t stream;
	int dead;			/* its connection is gone */
	void (*cancel)(struct call *c); /* set by a handler that parks it */
	void *owner;			/* for the handler's own use */
	struct pbbytes payload;		/* the request message */
	const char *method;
	ttrpc_method_fn fn; /* its handler, to run it again later */
};

int ttrpc_register(const char *service, const struct ttrpc_method *methods);
int ttrpc_listen(int fd);
/* Number of open connections, for Shutdown and tests. */
unsigned ttrpc_connections(void);
/* Called when the last connection has flushed and closed, if set. */
extern void (*ttrpc_on_idle)(void);

/* Decode the request message of `c` into a zeroed struct from its arena. */
void *ttrpc_decode(struct call *c, const pb_msgdesc_t *fields, size_t size);
void ttrpc_reply(struct call *c, const pb_msgdesc_t *fields, const void *msg);
void ttrpc_reply_error(struct call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answer calls whose connection is gone are freed; returns 1 if c is dead. */
int ttrpc_call_dead(const struct call *c);
/* Write everything still queued, for a clean exit. */
int ttrpc_flush_pending(void);

#endif
