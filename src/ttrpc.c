/*
 * ttrpc.c - ttrpc frames and the server: connections, streams in flight,
 * dispatch by service and method, replies in completion order.
 *
 * Layer: wire (README, "Architecture").
 *
 * Backpressure: a connection with too many calls in flight or too many
 * reply bytes queued (capacity.h), or arriving while the arena pool's client
 * share is used up, is not read until that has drained.  The bytes already
 * read but not yet decoded wait in a small stash; nothing is closed, and
 * no other connection is held up.
 *
 * Replies are queued and written after the batch of events that made them,
 * one writev per connection (FLUSH_BURST at a time for a burst of pipelined
 * calls); epoll's interest in a connection changes only when reading
 * pauses or resumes or its socket fills or drains.
 */
#include "cold.h"
#include "ttrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "capacity.h"
#include "loop.h"
#include "pbcb.h"
#include "slots.h"
#include "state.h"
#include "ttrpc.pb.h"

#define MAX_SERVICES 4
#define READ_CHUNK   4096

void ttrpc_hdr_put(uint8_t o[TTRPC_HDR_LEN], const struct ttrpc_hdr *h)
{
	o[0] = (uint8_t)(h->len >> 24);
	o[1] = (uint8_t)(h->len >> 16);
	o[2] = (uint8_t)(h->len >> 8);
	o[3] = (uint8_t)h->len;
	o[4] = (uint8_t)(h->stream >> 24);
	o[5] = (uint8_t)(h->stream >> 16);
	o[6] = (uint8_t)(h->stream >> 8);
	o[7] = (uint8_t)h->stream;
	o[8] = h->type;
	o[9] = h->flags;
}

void ttrpc_hdr_get(const uint8_t i[TTRPC_HDR_LEN], struct ttrpc_hdr *h)
{
	h->len = (uint32_t)i[0] << 24 | (uint32_t)i[1] << 16 | (uint32_t)i[2] << 8 | i[3];
	h->stream =
		(uint32_t)i[4] << 24 | (uint32_t)i[5] << 16 | (uint32_t)i[6] << 8 | i[7];
	h->type = i[8];
	h->flags = i[9];
}

void ttrpc_dec_reset(struct ttrpc_dec *d)
{
	int reserved = d->reserved;
	arena_free(d->arena);
	memset(d, 0, sizeof(*d));
	d->reserved = reserved;
}

long ttrpc_dec_feed(struct ttrpc_dec *d, const uint8_t *data, size_t n, ttrpc_frame_fn fn,
		    void *ctx)
{
	const uint8_t *start = data;
	d->nomem = 0;
	for (;;) {
		if (d->skip) {
			size_t k = n < d->skip ? n : d->skip;
			d->skip -= k;
			data += k;
			n -= k;
			if (d->skip)
				break;
			d->hgot = 0;
			continue;
		}
		if (d->hgot < TTRPC_HDR_LEN) {
			if (!n)
				break;
			size_t k = TTRPC_HDR_LEN - d->hgot;
			if (k > n)
				k = n;
			memcpy(d->hbuf + d->hgot, data, k);
			d->hgot += k;
			data += k;
			n -= k;
			if (d->hgot < TTRPC_HDR_LEN)
				break;
			ttrpc_hdr_get(d->hbuf, &d->h);
			d->got = 0;
			if (d->h.len > TTRPC_MAX_PAYLOAD) {
				d->skip = d->h.len;
				int r = fn(ctx, &d->h, NULL, NULL);
				if (r < 0)
					return r;
				if (r > 0)
					break;
				continue;
			}
		}
		if (!d->arena) {
			/* the payload goes straight into the request's arena */
			d->arena = d->reserved ? arena_new_reserved() : arena_new();
			d->buf = d->arena ? arena_alloc(d->arena, d->h.len) : NULL;
			if (!d->buf) {
				arena_free(d->arena);
				d->arena = NULL;
				d->nomem = 1; /* the header is kept: feed again later */
				break;
			}
		}
		size_t k = d->h.len - d->got;
		if (k > n)
			k = n;
		memcpy(d->buf + d->got, data, k);
		d->got += k;
		data += k;
		n -= k;
		if (d->got < d->h.len)
			break;
		struct arena *a = d->arena;
		d->arena = NULL;
		d->hgot = 0;
		int r = fn(ctx, &d->h, a, d->buf);
		d->buf = NULL;
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	return data - start;
}

/* ---- server ---- */

struct outbuf {
	struct outbuf *next;
	struct arena *arena; /* freed once written; NULL for none */
	const uint8_t *data;
	size_t len, off, cost;
};

/* Connections live in dense slots (a slot pool: reused through a free
 * list, a generation per use), so a pod's hundreds of connections share a
 * few pages; the table is mapped to the fd limit, the most there can be. */
struct conn {
	struct slot slot;
	int open;
	int fd;
	uint32_t last_stream;
	unsigned calls;	     /* in flight, parked ones included */
	size_t queued;	     /* memory held by replies not yet written */
	int paused;	     /* not read: over a cap, or no arena */
	int listed;	     /* on the wake or starved list */
	int next;	     /* next fd on that list, or -1 */
	int flush_listed;    /* replies queued this turn: on the flush list */
	int next_flush;
	uint32_t ev;	     /* the interest epoll has for it now */
	unsigned nout;	     /* replies queued */
	struct arena *stash; /* bytes read but not decoded while paused */
	const uint8_t *stash_data;
	size_t stash_len;
	struct ttrpc_dec dec;
	struct outbuf *out_head, *out_tail;
};

struct service {
	const char *name;
	const struct ttrpc_method *methods;
};

static struct conn *conns;
static struct slots pool; /* over conns, sized at ttrpc_listen */
#define CONN_GEN(k) slot_gen(&pool, (unsigned)((k) - conns))
/* Paused connections to look at after this batch, and those waiting for
 * an arena; linked through conn.next (a slot keeps its links across a
 * close and reopen, and a listed slot is only ever looked at). */
static int wake_head = -1, starved_head = -1;
/* Connections with replies queued in this loop turn: written after the
 * batch, all of a connection's in one writev. */
static int flush_head = -1;
static struct service services[MAX_SERVICES];
void (*ttrpc_on_close)(int conn, unsigned gen);
static int listen_fd = -1;
static int held; /* ttrpc_hold: nothing is read or accepted */

int ttrpc_register(const char *service, const struct ttrpc_method *methods)
{
	for (int i = 0; i < MAX_SERVICES; i++)
		if (!services[i].name) {
			services[i].name = service;
			services[i].methods = methods;
			return 0;
		}
	return -ENOSPC;
}

unsigned ttrpc_connections(void)
{
	return pool.used;
}

static int conn_over_cap(const struct conn *k)
{
	return k->calls >= LIM_CONN_CALLS || k->queued >= LIM_CONN_QUEUE;
}

/* The interest k wants: reading unless paused or held, writing while
 * replies wait. */
static uint32_t conn_wanted(const struct conn *k)
{
	return (k->paused || held ? 0 : EPOLLIN) | (k->out_head ? EPOLLOUT : 0);
}

/* epoll hears of a change only: reading paused or resumed, the socket
 * filling or draining; never once per reply. */
static void conn_interest(struct conn *k, int fd)
{
	uint32_t ev = conn_wanted(k);
	if (ev != k->ev && loop_mod(fd, ev) == 0)
		k->ev = ev;
}

static void conn_pause(struct conn *k, int fd)
{
	if (!k->paused) {
		k->paused = 1;
		conn_interest(k, fd);
	}
}

/* Something that held k back has eased: have it looked at after this
 * batch (never from inside a reply, which may be deep in a handler). */
static void conn_maybe_ready(struct conn *k)
{
	if (k->paused && !k->listed && !k->dec.nomem && !conn_over_cap(k)) {
		k->listed = 1;
		k->next = wake_head;
		wake_head = (int)(k - conns);
	}
}

static void conn_close(struct conn *k)
{
	int fd = k->fd, slot = (int)(k - conns);
	unsigned gen = CONN_GEN(k);
	loop_del(fd);
	close(fd);
	k->open = 0;
	ttrpc_dec_reset(&k->dec);
	arena_free(k->stash);
	k->stash = NULL;
	for (struct outbuf *o = k->out_head, *n; o; o = n) {
		n = o->next;
		arena_free(o->arena);
	}
	k->out_head = k->out_tail = NULL;
	k->nout = 0;
	k->paused = 0;
	slot_put(&pool, (unsigned)slot);
	/* parked calls of this connection are dropped by their owner */
	if (ttrpc_on_close)
		ttrpc_on_close(slot, gen);
}

#define FLUSH_IOV   64
#define FLUSH_BURST 8 /* replies queued that are written at once */

/* Write what is queued, FLUSH_IOV replies to a writev. */
static int conn_flush(struct conn *k)
{
	int fd = k->fd;
	while (k->out_head) {
		struct iovec iov[FLUSH_IOV];
		int n = 0;
		for (struct outbuf *o = k->out_head; o && n < FLUSH_IOV; o = o->next, n++) {
			iov[n].iov_base = (void *)(o->data + o->off);
			iov[n].iov_len = o->len - o->off;
		}
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break; /* EPOLLOUT brings the rest */
			return -errno;
		}
		for (size_t left = (size_t)w; left && k->out_head;) {
			struct outbuf *o = k->out_head;
			size_t room = o->len - o->off;
			if (left < room) {
				o->off += left;
				break;
			}
			left -= room;
			k->out_head = o->next;
			if (!k->out_head)
				k->out_tail = NULL;
			k->queued -= o->cost;
			k->nout--;
			arena_free(o->arena);
		}
	}
	conn_interest(k, fd);
	conn_maybe_ready(k);
	return 0;
}

/* Queue header+payload (both inside `a`, which the queue then owns). */
static void conn_send(struct conn *k, struct arena *a, uint8_t *frame, size_t len)
{
	struct outbuf *o = arena_alloc(a, sizeof(*o));
	if (!o) {
		arena_free(a);
		return;
	}
	o->arena = a;
	o->data = frame;
	o->len = len;
	o->cost = arena_size(a);
	k->queued += o->cost;
	if (k->out_tail)
		k->out_tail->next = o;
	else
		k->out_head = o;
	k->out_tail = o;
	/* a reply holds its request's arena until written: a burst of
	 * pipelined calls goes out FLUSH_BURST at a time, not all at the end
	 * of the turn */
	if (++k->nout >= FLUSH_BURST && !(k->ev & EPOLLOUT)) {
		if (conn_flush(k) < 0)
			conn_close(k);
		return;
	}
	if (!k->flush_listed) {
		k->flush_listed = 1;
		k->next_flush = flush_head;
		flush_head = (int)(k - conns);
	}
}

static struct conn *conn_get(int idx, unsigned gen)
{
	if (idx < 0 || !slot_live(&pool, (unsigned)idx, gen))
		return NULL;
	struct conn *k = &conns[idx];
	return k->open ? k : NULL;
}

/* Encode Response{status, payload} as one frame and send it. */
static void send_response(struct conn *k, struct arena *a, uint32_t stream, int code,
			  const char *msg, const struct pbbytes *pl)
{
	ttrpc_Response *r = arena_alloc(a, sizeof(*r));
	if (!r) {
		arena_free(a);
		return;
	}
	r->has_status = true;
	r->status.code = code;
	if (msg)
		PB_SETSTR(r->status.message, msg);
	if (pl)
		r->payload = *pl;
	size_t n;
	if (!pb_get_encoded_size(&n, ttrpc_Response_fields, r) || n > TTRPC_MAX_PAYLOAD) {
		/* Too large to send: say so instead. */
		memset(r, 0, sizeof(*r));
		r->has_status = true;
		r->status.code = ST_RESOURCE_EXHAUSTED;
		PB_SETSTR(r->status.message, "response too large");
		pb_get_encoded_size(&n, ttrpc_Response_fields, r);
	}
	uint8_t *frame = arena_alloc(a, TTRPC_HDR_LEN + n);
	if (!frame) {
		arena_free(a);
		return;
	}
	long w = pb_encode_buf(frame + TTRPC_HDR_LEN, n, ttrpc_Response_fields, r);
	if (w < 0) {
		arena_free(a);
		return;
	}
	struct ttrpc_hdr h = { (uint32_t)w, stream, TTRPC_RESPONSE, 0 };
	ttrpc_hdr_put(frame, &h);
	conn_send(k, a, frame, TTRPC_HDR_LEN + (size_t)w);
}

/* One call of k is over (answered or dropped). */
static void call_gone(struct conn *k)
{
	if (k->calls)
		k->calls--;
	conn_maybe_ready(k);
}

static void call_finish(struct call *c, int code, const char *msg,
			const struct pbbytes *pl)
{
	struct conn *k = c->answered ? NULL : conn_get(c->conn, c->gen);
	c->answered = 1;
	if (!k) {
		arena_free(c->arena);
		return;
	}
	if (!c->uncounted)
		call_gone(k);
	send_response(k, c->arena, c->stream, code, msg, pl);
}

void ttrpc_reply(struct call *c, const pb_msgdesc_t *fields, const void *msg)
{
	struct pbbytes pl = { 0 };
	if (c->answered || !conn_get(c->conn, c->gen)) {
		call_finish(c, 0, NULL, NULL); /* nobody to answer: just free */
		return;
	}
	if (fields && pb_encode_arena(c->arena, fields, msg, &pl) < 0) {
		call_finish(c, ST_INTERNAL, "cannot encode response", NULL);
		return;
	}
	call_finish(c, ST_OK, NULL, &pl);
}

void ttrpc_reply_error(struct call *c, int code, const char *fmt, ...)
{
	if (c->answered || !conn_get(c->conn, c->gen)) {
		call_finish(c, 0, NULL, NULL);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	char *m = arena_vprintf(c->arena, fmt, ap);
	va_end(ap);
	call_finish(c, code, m ? m : "error", NULL);
}

void ttrpc_answer_early(struct call *c, int code, const char *msg)
{
	struct conn *k = c->answered ? NULL : conn_get(c->conn, c->gen);
	c->answered = 1;
	if (!k)
		return;
	if (!c->uncounted)
		call_gone(k);
	struct arena *a = arena_new_reserved();
	if (a)
		send_response(k, a, c->stream, code, msg, NULL);
}

void ttrpc_detach(struct call *c, struct ttrpc_peer *p)
{
	struct conn *k = c->answered || c->uncounted ? NULL : conn_get(c->conn, c->gen);
	if (k)
		call_gone(k); /* an address is not work in flight */
	p->conn = c->conn;
	p->gen = c->gen;
	p->stream = c->stream;
	arena_free(c->arena);
}

struct call *ttrpc_attach(const struct ttrpc_peer *p)
{
	if (!conn_get(p->conn, p->gen))
		return NULL;
	struct arena *a = arena_new_reserved();
	struct call *c = a ? arena_alloc(a, sizeof(*c)) : NULL;
	if (!c) {
		arena_free(a);
		return NULL;
	}
	c->arena = a;
	c->conn = p->conn;
	c->gen = p->gen;
	c->stream = p->stream;
	c->method = "";
	c->uncounted = 1;
	return c;
}

void ttrpc_drop(struct call *c)
{
	struct conn *k = c->answered || c->uncounted ? NULL : conn_get(c->conn, c->gen);
	if (k)
		call_gone(k);
	arena_free(c->arena);
}

void *ttrpc_decode(struct call *c, const pb_msgdesc_t *fields, size_t size)
{
	void *m = arena_alloc(c->arena, size);
	if (!m) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	if (pb_decode_arena(c->arena, c->payload.ptr, c->payload.len, fields, m) < 0) {
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid %s request: %s",
				  c->method, pbcb_error ? pbcb_error : "decode");
		return NULL;
	}
	return m;
}

/* An error answered without a request arena (oversized frame). */
static void reply_early(struct conn *k, uint32_t stream, int code, const char *msg)
{
	struct arena *a = arena_new_reserved();
	if (a)
		send_response(k, a, stream, code, msg, NULL);
	else
		log_warn("cannot answer stream %u: no memory", stream);
}

static const struct ttrpc_method *lookup(const char *svc, const char *meth, int *code)
{
	for (int i = 0; i < MAX_SERVICES && services[i].name; i++) {
		if (strcmp(services[i].name, svc) != 0)
			continue;
		for (const struct ttrpc_method *m = services[i].methods; m->name; m++)
			if (strcmp(m->name, meth) == 0)
				return m;
		*code = 1;
		return NULL;
	}
	*code = 0;
	return NULL;
}

/* 0: go on decoding; 1: stop (over a cap); -EPIPE: the connection closed. */
static int on_frame(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
		    uint8_t *payload)
{
	struct conn *k = ctx;
	int idx = (int)(k - conns);
	unsigned gen = CONN_GEN(k);
#define AFTER() (!k->open || CONN_GEN(k) != gen ? -EPIPE : conn_over_cap(k) ? 1 : 0)
	if (!payload) {
		reply_early(k, h->stream, ST_RESOURCE_EXHAUSTED,
			    "message length exceeds maximum of 4194304 bytes");
		return AFTER();
	}
	if (h->type != TTRPC_REQUEST) {
		/* Data frames belong to streaming calls, which we do not serve. */
		arena_free(a);
		return 0;
	}
	if ((h->stream & 1) == 0 || h->stream <= k->last_stream) {
		send_response(k, a, h->stream, ST_INVALID_ARGUMENT, "invalid stream id",
			      NULL);
		return AFTER();
	}
	k->last_stream = h->stream;
	ttrpc_Request *req = arena_alloc(a, sizeof(*req));
	struct call *c = arena_alloc(a, sizeof(*c));
	if (!req || !c) {
		send_response(k, a, h->stream, ST_RESOURCE_EXHAUSTED, "out of memory",
			      NULL);
		return AFTER();
	}
	c->arena = a;
	c->conn = idx;
	c->gen = gen;
	c->stream = h->stream;
	k->calls++;
	if (pb_decode_arena(a, payload, h->len, ttrpc_Request_fields, req) < 0) {
		c->method = "";
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid request: %s",
				  pbcb_error ? pbcb_error : "decode");
		return AFTER();
	}
	c->payload = req->payload;
	c->method = req->method;
	if (req->timeout_nano > 0)
		c->deadline = loop_now_ns() + req->timeout_nano;
	int known_service = 0;
	const struct ttrpc_method *m = lookup(req->service, req->method, &known_service);
	if (!m) {
		if (known_service)
			ttrpc_reply_error(c, ST_UNIMPLEMENTED, "method %s", req->method);
		else
			ttrpc_reply_error(c, ST_UNIMPLEMENTED, "service %s",
					  req->service);
		return AFTER();
	}
	log_debug("%s/%s stream %u", req->service, req->method, h->stream);
	c->fn = m->fn;
	m->fn(c);
	/* A reply that failed to write may have closed the connection: stop
	 * decoding its remaining bytes into a reset decoder. */
	return AFTER();
#undef AFTER
}

/* n bytes into an arena of their own (NULL: none, or no memory). */
static struct arena *hold_bytes(const void *p, size_t n, uint8_t **out)
{
	struct arena *a = n ? arena_new_reserved() : NULL;
	*out = a ? arena_alloc(a, n) : NULL;
	if (!*out) {
		arena_free(a);
		return NULL;
	}
	memcpy(*out, p, n);
	return a;
}

/* Feed bytes to k's decoder; what is left when it must stop is stashed.
 * Returns -1 if k was closed. */
static int conn_feed(struct conn *k, const uint8_t *buf, size_t n)
{
	int fd = k->fd, slot = (int)(k - conns);
	unsigned gen = CONN_GEN(k);
	long used = ttrpc_dec_feed(&k->dec, buf, n, on_frame, k);
	if (!k->open || CONN_GEN(k) != gen)
		return -1;
	if (used < 0) {
		conn_close(k);
		return -1;
	}
	size_t rest = n - (size_t)used;
	if (!rest && !k->dec.nomem && !conn_over_cap(k)) {
		if (buf == k->stash_data)
			k->stash_len = 0;
		return 0;
	}
	/* paused: keep the rest for later */
	if (!rest) {
		if (buf == k->stash_data)
			k->stash_len = 0;
	} else if (buf != k->stash_data) {
		uint8_t *copy;
		struct arena *s = hold_bytes(buf + used, n - (size_t)used, &copy);
		if (!s) {
			log_warn("connection %d: no memory to hold its input, closing",
				 fd);
			conn_close(k);
			return -1;
		}
		k->stash = s;
		k->stash_data = copy;
		k->stash_len = n - (size_t)used;
	} else {
		k->stash_data += used;
		k->stash_len -= (size_t)used;
	}
	if (k->dec.nomem && !k->listed) {
		k->listed = 1;
		k->next = starved_head;
		starved_head = slot;
	}
	conn_pause(k, fd);
	return 0;
}

static void on_conn(int fd, uint32_t events, void *data)
{
	struct conn *k = data;
	if (events & EPOLLOUT) {
		if (conn_flush(k) < 0) {
			conn_close(k);
			return;
		}
	}
	if (held && (events & (EPOLLHUP | EPOLLERR))) {
		/* gone while nothing is read: epoll would report it again and
		 * again until the hold ends */
		conn_close(k);
		return;
	}
	if (k->paused || held || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	uint8_t buf[READ_CHUNK];
	for (int rounds = 0; rounds < 16 && !k->paused; rounds++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(k);
			return;
		}
		if (conn_feed(k, buf, (size_t)n) < 0)
			return;
		if ((size_t)n < sizeof(buf))
			return;
	}
}

/* Connections that may be read again: decode their stash, then watch
 * them again unless they must pause once more. */
static void resume_ready(void)
{
	if (starved_head >= 0 && arena_available() > 0) {
		/* move the starved to the wake list */
		while (starved_head >= 0) {
			int slot = starved_head;
			starved_head = conns[slot].next;
			conns[slot].next = wake_head;
			wake_head = slot;
		}
	}
	while (wake_head >= 0) {
		struct conn *k = &conns[wake_head];
		wake_head = k->next;
		k->listed = 0;
		if (!k->open || !k->paused)
			continue;
		k->dec.nomem = 0;
		if (conn_over_cap(k))
			continue; /* listed again when it drains */
		k->paused = 0;
		if (k->stash) {
			if (conn_feed(k, k->stash_data, k->stash_len) < 0)
				continue;
			if (!k->stash_len) {
				arena_free(k->stash);
				k->stash = NULL;
				k->stash_data = NULL;
			}
		}
		if (!k->paused)
			conn_interest(k, k->fd);
	}
}

static void on_accept(int lfd, uint32_t events, void *data)
{
	(void)events;
	(void)data;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn("accept: %s (the fd limit is %d)",
					 strerror(errno), loop_fd_limit());
			else if (errno != EAGAIN && errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
		    cr.uid != geteuid() || cr.gid != getegid()) {
			log_warn("refusing connection from uid %u", (unsigned)cr.uid);
			close(fd);
			continue;
		}
		int slot = slot_take(&pool, pool.cap);
		if (slot < 0) {
			log_warn("connection on fd %d: no slot left (%u)", fd, pool.cap);
			close(fd);
			continue;
		}
		struct conn *k = &conns[slot];
		/* the lists it may still be on keep their links */
		int listed = k->listed, next = k->next;
		int flush_listed = k->flush_listed, next_flush = k->next_flush;
		struct slot keep = k->slot;
		memset(k, 0, sizeof(*k));
		k->slot = keep;
		k->listed = listed;
		k->next = next;
		k->flush_listed = flush_listed;
		k->next_flush = next_flush;
		k->fd = fd;
		k->open = 1;
		if (loop_add(fd, EPOLLIN, on_conn, k) < 0) {
			close(fd);
			k->open = 0;
			slot_put(&pool, (unsigned)slot);
			continue;
		}
		k->ev = EPOLLIN;
	}
}

/* The replies queued in this turn, a writev per connection. */
static void flush_queued(void)
{
	while (flush_head >= 0) {
		struct conn *k = &conns[flush_head];
		flush_head = k->next_flush;
		k->flush_listed = 0;
		if (k->open && k->out_head && conn_flush(k) < 0)
			conn_close(k);
	}
}

static struct loop_timer again_timer;
static void on_again(void *ctx)
{
	(void)ctx; /* after_batch runs once this batch is over */
}

/* After each batch of events: the replies go out, then the connections
 * that may be read again are, and their replies go out in turn.  A few
 * rounds at most; what is left is taken up at once by the next turn. */
static void after_batch(void)
{
	for (int round = 0; round < 8; round++) {
		flush_queued();
		if (held || (wake_head < 0 && !(starved_head >= 0 && arena_available() > 0)))
			return;
		resume_ready();
	}
	if (flush_head >= 0 || wake_head >= 0)
		loop_timer_set(&again_timer, loop_now_ns(), on_again, NULL);
}

static int conns_init(void)
{
	if (!conns) {
		if (!(conns = loop_fd_table(sizeof(struct conn))))
			return -ENOMEM;
		pool = (struct slots)SLOTS_IN(conns, (unsigned)loop_fd_limit(), struct conn, slot);
	}
	return 0;
}

int ttrpc_listen(int fd)
{
	if (conns_init() < 0)
		return -ENOMEM;
	loop_after_batch = after_batch;
	listen_fd = fd;
	return loop_add(fd, held ? 0 : EPOLLIN, on_accept, NULL);
}

int ttrpc_flush_pending(void)
{
	int left = 0;
	for (unsigned i = 0; i < pool.high; i++)
		if (conns[i].open && conns[i].out_head) {
			if (conn_flush(&conns[i]) < 0)
				continue;
			left += conns[i].out_head != NULL;
		}
	return left;
}

COLD int ttrpc_listener(void)
{
	return listen_fd;
}

COLD unsigned ttrpc_calls(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < pool.high; i++)
		if (conns[i].open)
			n += conns[i].calls;
	return n;
}

COLD void ttrpc_hold(int on)
{
	if (held == on)
		return;
	held = on;
	if (listen_fd >= 0)
		loop_mod(listen_fd, on ? 0 : EPOLLIN);
	for (unsigned i = 0; i < pool.high; i++) {
		struct conn *k = &conns[i];
		if (!k->open)
			continue;
		conn_interest(k, k->fd);
		if (!on)
			conn_maybe_ready(k); /* its stash, if it has one */
	}
}

/*
 * The server's state for an upgrade: the listener, and per connection its
 * slot and generation (detached calls name them), the calls it has in
 * flight, the bytes read but not decoded (its stash and a frame begun) and
 * the replies not yet written.  Detached calls (Waits, the upgrade's own)
 * are their owners' to write.
 */
COLD void ttrpc_save(struct st_w *w)
{
	st_tag(w, "TTRP");
	st_fd(w, listen_fd);
	st_u64(w, pool.gen_next);
	unsigned n = 0;
	for (unsigned i = 0; i < pool.high; i++)
		n += conns[i].open;
	st_u64(w, n);
	for (unsigned i = 0; i < pool.high; i++) {
		struct conn *k = &conns[i];
		if (!k->open)
			continue;
		st_u64(w, i);
		st_u64(w, CONN_GEN(k));
		st_fd(w, k->fd);
		st_u64(w, k->last_stream);
		st_u64(w, k->calls);
		st_bytes(w, k->stash_data, k->stash ? k->stash_len : 0);
		const struct ttrpc_dec *d = &k->dec;
		st_u64(w, d->hgot);
		st_bytes(w, d->hbuf, d->hgot);
		st_bytes(w, d->buf, d->arena ? d->got : 0);
		st_u64(w, d->skip);
		st_u64(w, (uint64_t)d->reserved);
		size_t out = 0;
		for (struct outbuf *o = k->out_head; o; o = o->next)
			out += o->len - o->off;
		st_u64(w, out);
		for (struct outbuf *o = k->out_head; o; o = o->next)
			st_bytes(w, o->data + o->off, o->len - o->off);
	}
}

COLD int ttrpc_load(struct st_r *r, int live)
{
	if (!st_want(r, "TTRP"))
		return -EINVAL;
	int lfd = st_get_fd(r);
	uint32_t gen_next = (uint32_t)st_get(r);
	if (conns_init() < 0)
		return -ENOMEM;
	unsigned n = (unsigned)st_get_max(r, pool.cap, "too many connections");
	if (live && lfd >= 0 && ttrpc_listen(lfd) < 0)
		return -errno;
	for (unsigned j = 0; j < n && !r->err; j++) {
		unsigned i = (unsigned)st_get(r);
		uint32_t gen = (uint32_t)st_get(r);
		int fd = st_get_fd(r);
		uint32_t last = (uint32_t)st_get(r);
		unsigned calls = (unsigned)st_get_max(r, LIM_CONN_CALLS, "too many calls");
		size_t stash_n, hgot, part_n, out;
		const uint8_t *stash = st_get_bytes(r, &stash_n);
		hgot = (size_t)st_get_max(r, TTRPC_HDR_LEN, "a frame header is too long");
		size_t hn;
		const uint8_t *hbuf = st_get_bytes(r, &hn);
		const uint8_t *part = st_get_bytes(r, &part_n);
		size_t skip = (size_t)st_get_max(r, 0xffffffffu, "a frame is too long");
		int reserved = (int)st_get_max(r, 1, "bad reserved flag");
		out = (size_t)st_get(r);
		if (r->err || hn != hgot || slot_claim(&pool, i, gen) < 0) {
			st_fail(r, "a connection does not fit");
			return -EINVAL;
		}
		struct conn *k = &conns[i];
		memset(&k->open, 0, sizeof(*k) - offsetof(struct conn, open));
		k->open = 1;
		k->fd = fd;
		k->next = k->next_flush = -1;
		k->last_stream = last;
		k->calls = calls;
		k->dec.reserved = reserved;
		memcpy(k->dec.hbuf, hbuf, hgot);
		k->dec.hgot = hgot;
		k->dec.skip = skip;
		if (hgot == TTRPC_HDR_LEN && !skip) {
			ttrpc_hdr_get(k->dec.hbuf, &k->dec.h);
			if (part_n > k->dec.h.len || k->dec.h.len > TTRPC_MAX_PAYLOAD) {
				st_fail(r, "a frame begun does not fit");
				return -EINVAL;
			}
			/* the frame begun goes on into its own arena, as if read now */
			k->dec.arena = arena_new_reserved();
			k->dec.buf = k->dec.arena ? arena_alloc(k->dec.arena, k->dec.h.len) : NULL;
			if (!k->dec.buf) {
				st_fail(r, "no memory for a frame begun");
				return -ENOMEM;
			}
			memcpy(k->dec.buf, part, part_n);
			k->dec.got = part_n;
		}
		if (stash_n) {
			uint8_t *d;
			if (!(k->stash = hold_bytes(stash, stash_n, &d))) {
				st_fail(r, "no memory for a connection's input");
				return -ENOMEM;
			}
			k->stash_data = d;
			k->stash_len = stash_n;
			k->paused = 1;
		}
		for (size_t got = 0; got < out && !r->err;) {
			size_t bn;
			const uint8_t *b = st_get_bytes(r, &bn);
			uint8_t *d;
			struct arena *a = bn ? hold_bytes(b, bn, &d) : NULL;
			struct outbuf *o = a ? arena_alloc(a, sizeof(*o)) : NULL;
			if (!o) {
				arena_free(a);
				st_fail(r, bn ? "no memory for a connection's replies"
					      : "a connection's replies do not add up");
				return -ENOMEM;
			}
			o->arena = a;
			o->data = d;
			o->len = bn;
			o->cost = arena_size(a);
			k->queued += o->cost;
			k->nout++;
			if (k->out_tail)
				k->out_tail->next = o;
			else
				k->out_head = o;
			k->out_tail = o;
			got += bn;
		}
		if (conn_over_cap(k))
			k->paused = 1;
	}
	slots_relink(&pool, gen_next);
	return r->err ? -EINVAL : 0;
}

COLD void ttrpc_resume(void)
{
	for (unsigned i = 0; i < pool.high; i++) {
		struct conn *k = &conns[i];
		if (!k->open)
			continue;
		k->ev = conn_wanted(k);
		if (loop_add(k->fd, k->ev, on_conn, k) < 0) {
			log_warn("connection on fd %d: %s: closing it", k->fd, strerror(errno));
			conn_close(k);
			continue;
		}
		conn_maybe_ready(k);
	}
	/* a batch at once: the stashes are decoded, the replies written */
	loop_timer_set(&again_timer, loop_now_ns(), on_again, NULL);
}
