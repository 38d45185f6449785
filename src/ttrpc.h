/*
 * ttrpc.h - ttrpc framing, and the server side of the task service.
 *
 * Layer: wire (README, "Architecture").
 *
 * Framing: a 10-byte big-endian header (length, stream id, type, flags) and
 * a payload of at most 4 MiB.  ttrpc_dec_feed() turns any split or coalesced
 * byte stream into whole frames, each payload in its own arena.
 *
 * Server: ttrpc_register() a service's methods, ttrpc_listen() on a
 * listening socket.  Every request becomes a `struct call` living in its
 * arena; the handler answers with ttrpc_reply()/ttrpc_reply_error() at once,
 * or parks the call and answers later.  Answering frees the arena; an
 * answer to a call whose connection is gone is dropped.  A call answered
 * early (ttrpc_answer_early: a deadline) keeps its arena until its owner
 * replies or drops it, which then only frees it.  A parked call that needs
 * nothing but its address can be detached (its arena freed) and attached
 * again to be answered.  The server owns no parked calls: it tells their
 * owner when a connection closes (ttrpc_on_close).
 */
#ifndef TTRPC_H
#define TTRPC_H
#include <stdint.h>
#include <stddef.h>
#include <pb.h>
#include "arena.h"
#include "pbtypes.h"
#include "status.h"

#define TTRPC_HDR_LEN	  10
#define TTRPC_MAX_PAYLOAD (4u << 20)
enum { TTRPC_REQUEST = 1, TTRPC_RESPONSE = 2, TTRPC_DATA = 3 };


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
	size_t skip;  /* bytes of an oversized payload still to discard */
	int nomem;    /* stopped: no arena for the next frame (feed again) */
	int reserved; /* take arenas from the reserved share */
};

/*
 * Called once per frame.  For an oversized frame `a` and `payload` are
 * NULL (the payload is discarded).  Otherwise the callee owns `a`.
 * A negative return stops decoding and is returned by ttrpc_dec_feed; a
 * positive one stops it after this frame.
 */
typedef int (*ttrpc_frame_fn)(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
			      uint8_t *payload);
/* Returns the bytes consumed (all of them unless fn stopped it or no
 * arena was left, d->nomem), or fn's negative return. */
long ttrpc_dec_feed(struct ttrpc_dec *d, const uint8_t *data, size_t n, ttrpc_frame_fn fn,
		    void *ctx);
void ttrpc_dec_reset(struct ttrpc_dec *d);

struct call;
typedef void (*ttrpc_method_fn)(struct call *c);
struct ttrpc_method {
	const char *name;
	ttrpc_method_fn fn;
};

struct op;

struct call {
	struct arena *arena;
	int conn; /* connection slot and generation */
	unsigned gen;
	uint32_t stream;
	int answered;		/* answered early: a reply only frees it */
	int64_t deadline;	/* CLOCK_MONOTONIC ns from timeout_nano, or 0 */
	struct op *op;		/* the handler's work in flight for it (task_core.h) */
	struct pbbytes payload; /* the request message */
	const char *method;
	ttrpc_method_fn fn; /* its handler, to run it again later */
	int uncounted;	    /* attached again: left its connection's count */
};

/* Where a detached call is answered. */
struct ttrpc_peer {
	int conn;
	unsigned gen;
	uint32_t stream;
};

int ttrpc_register(const char *service, const struct ttrpc_method *methods);
int ttrpc_listen(int fd);
/* Number of open connections, for Shutdown and tests. */
unsigned ttrpc_connections(void);
/* Set by the owner of parked calls: connection (conn, gen) has closed. */
extern void (*ttrpc_on_close)(int conn, unsigned gen);

/* Decode the request message of `c` into a zeroed struct from its arena. */
void *ttrpc_decode(struct call *c, const pb_msgdesc_t *fields, size_t size);
void ttrpc_reply(struct call *c, const pb_msgdesc_t *fields, const void *msg);
void ttrpc_reply_error(struct call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error answer now, from a reserved arena; c stays the caller's until
 * it replies (which then only frees it) or drops it. */
void ttrpc_answer_early(struct call *c, int code, const char *msg);
/* Free c without answering (its connection closed, or it was answered
 * early). */
void ttrpc_drop(struct call *c);
/* Keep only c's address (its arena is freed); ttrpc_attach() gives a call
 * to answer it with (NULL if the connection is gone); to give it up, just
 * forget the address.  A detached call no longer counts toward its
 * connection's calls in flight (LIM_CONN_CALLS): it is not work, and
 * 10 000 Waits parked on containerd's one connection must not stop the
 * State, Kill or Delete sent behind them.  Its reply still counts among
 * the queued bytes. */
void ttrpc_detach(struct call *c, struct ttrpc_peer *p);
struct call *ttrpc_attach(const struct ttrpc_peer *p);
/* Write everything still queued, for a clean exit. */
int ttrpc_flush_pending(void);

/* An upgrade in place (upgrade.c).  ttrpc_hold(1): nothing more is read
 * or accepted (what arrives waits in the sockets), replies still go out;
 * ttrpc_hold(0) serves again.  ttrpc_calls(): calls in flight (detached
 * ones not counted). */
struct st_w;
struct st_r;
void ttrpc_hold(int on);
unsigned ttrpc_calls(void);
/* The listening socket's fd (-1: none yet). */
int ttrpc_listener(void);
/* Write the server's state (detached calls are their owners'); read
 * it back in the new image (live 0: only check it, for a check run, with
 * nothing registered), then ttrpc_resume() watches the connections. */
void ttrpc_save(struct st_w *w);
int ttrpc_load(struct st_r *r, int live);
void ttrpc_resume(void);

#endif
