/*
 * ttrpc.c - ttrpc frames and the server: connections, streams in flight,
 * dispatch by service and method, replies in completion order.
 */
#include "ttrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "pbcb.h"
#include "ttrpc.pb.h"

#define MAX_CONN     64
#define MAX_SERVICES 4
#define READ_CHUNK   8192

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
	arena_free(d->arena);
	memset(d, 0, sizeof(*d));
}

int ttrpc_dec_feed(struct ttrpc_dec *d, const uint8_t *data, size_t n, ttrpc_frame_fn fn,
		   void *ctx)
{
	while (n > 0) {
		if (d->skip) {
			size_t k = n < d->skip ? n : d->skip;
			d->skip -= k;
			data += k;
			n -= k;
			if (!d->skip)
				d->hgot = 0;
			continue;
		}
		if (d->hgot < TTRPC_HDR_LEN) {
			size_t k = TTRPC_HDR_LEN - d->hgot;
			if (k > n)
				k = n;
			memcpy(d->hbuf + d->hgot, data, k);
			d->hgot += k;
			data += k;
			n -= k;
			if (d->hgot < TTRPC_HDR_LEN)
				return 0;
			ttrpc_hdr_get(d->hbuf, &d->h);
			d->got = 0;
			if (d->h.len > TTRPC_MAX_PAYLOAD) {
				d->skip = d->h.len;
				int r = fn(ctx, &d->h, NULL, NULL);
				if (r < 0)
					return r;
				continue;
			}
			d->arena = arena_new();
			d->buf = d->arena ? arena_alloc(d->arena, d->h.len) : NULL;
			if (!d->buf) {
				arena_free(d->arena);
				d->arena = NULL;
				return -ENOMEM;
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
			return 0;
		struct arena *a = d->arena;
		d->arena = NULL;
		d->hgot = 0;
		int r = fn(ctx, &d->h, a, d->buf);
		d->buf = NULL;
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- server ---- */

struct outbuf {
	struct outbuf *next;
	struct arena *arena; /* freed once written; NULL for none */
	const uint8_t *data;
	size_t len, off;
};

struct conn {
	int fd;
	unsigned gen;
	uint32_t last_stream;
	struct ttrpc_dec dec;
	struct outbuf *out_head, *out_tail;
};

struct service {
	const char *name;
	const struct ttrpc_method *methods;
};

static struct conn conns[MAX_CONN];
static unsigned conn_gen;
static unsigned nconns;
static struct service services[MAX_SERVICES];
static struct call *calls; /* doubly linked, unanswered */
void (*ttrpc_on_idle)(void);

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
	return nconns;
}

static void call_unlink(struct call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (calls == c)
		calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void conn_close(struct conn *k)
{
	int idx = (int)(k - conns);
	loop_del(k->fd);
	close(k->fd);
	k->fd = -1;
	ttrpc_dec_reset(&k->dec);
	for (struct outbuf *o = k->out_head, *n; o; o = n) {
		n = o->next;
		arena_free(o->arena);
	}
	k->out_head = k->out_tail = NULL;
	for (struct call *c = calls, *n; c; c = n) {
		n = c->next;
		if (c->conn != idx || c->gen != k->gen || c->dead)
			continue;
		c->dead = 1;
		if (c->cancel) {
			c->cancel(c);
			call_unlink(c);
			arena_free(c->arena);
		}
	}
	nconns--;
	if (!nconns && ttrpc_on_idle)
		ttrpc_on_idle();
}

static int conn_flush(struct conn *k)
{
	while (k->out_head) {
		struct outbuf *o = k->out_head;
		ssize_t w = write(k->fd, o->data + o->off, o->len - o->off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return loop_mod(k->fd, EPOLLIN | EPOLLOUT);
			return -errno;
		}
		o->off += (size_t)w;
		if (o->off < o->len)
			continue;
		k->out_head = o->next;
		if (!k->out_head)
			k->out_tail = NULL;
		arena_free(o->arena);
	}
	return loop_mod(k->fd, EPOLLIN);
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
	if (k->out_tail)
		k->out_tail->next = o;
	else
		k->out_head = o;
	k->out_tail = o;
	if (conn_flush(k) < 0)
		conn_close(k);
}

static struct conn *call_conn(const struct call *c)
{
	if (c->dead || c->conn < 0 || c->conn >= MAX_CONN)
		return NULL;
	struct conn *k = &conns[c->conn];
	return (k->fd >= 0 && k->gen == c->gen) ? k : NULL;
}

int ttrpc_call_dead(const struct call *c)
{
	return call_conn(c) == NULL;
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

static void call_finish(struct call *c, int code, const char *msg,
			const struct pbbytes *pl)
{
	call_unlink(c);
	struct conn *k = call_conn(c);
	if (!k) {
		arena_free(c->arena);
		return;
	}
	send_response(k, c->arena, c->stream, code, msg, pl);
}

void ttrpc_reply(struct call *c, const pb_msgdesc_t *fields, const void *msg)
{
	struct pbbytes pl = { 0 };
	if (fields && pb_encode_arena(c->arena, fields, msg, &pl) < 0) {
		call_finish(c, ST_INTERNAL, "cannot encode response", NULL);
		return;
	}
	call_finish(c, ST_OK, NULL, &pl);
}

void ttrpc_reply_error(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = arena_vprintf(c->arena, fmt, ap);
	va_end(ap);
	call_finish(c, code, m ? m : "error", NULL);
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

/* An error answered without a request arena (pool exhausted, oversized). */
static void reply_early(struct conn *k, uint32_t stream, int code, const char *msg)
{
	struct arena *a = arena_new();
	if (!a) {
		/* Nothing to answer with: drop the connection, not the shim. */
		conn_close(k);
		return;
	}
	send_response(k, a, stream, code, msg, NULL);
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

static int on_frame(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
		    uint8_t *payload)
{
	struct conn *k = ctx;
	int idx = (int)(k - conns);
	unsigned gen = k->gen;
	if (!payload) {
		reply_early(k, h->stream, ST_RESOURCE_EXHAUSTED,
			    "message length exceeds maximum of 4194304 bytes");
		return k->fd < 0 || k->gen != gen ? -EPIPE : 0;
	}
	if (h->type != TTRPC_REQUEST) {
		/* Data frames belong to streaming calls, which we do not serve. */
		arena_free(a);
		return 0;
	}
	if ((h->stream & 1) == 0 || h->stream <= k->last_stream) {
		send_response(k, a, h->stream, ST_INVALID_ARGUMENT, "invalid stream id",
			      NULL);
		return k->fd < 0 ? -EPIPE : 0;
	}
	k->last_stream = h->stream;
	ttrpc_Request *req = arena_alloc(a, sizeof(*req));
	struct call *c = arena_alloc(a, sizeof(*c));
	if (!req || !c) {
		send_response(k, a, h->stream, ST_RESOURCE_EXHAUSTED, "out of memory",
			      NULL);
		return 0;
	}
	c->arena = a;
	c->conn = idx;
	c->gen = gen;
	c->stream = h->stream;
	c->next = calls;
	if (calls)
		calls->prev = c;
	calls = c;
	if (pb_decode_arena(a, payload, h->len, ttrpc_Request_fields, req) < 0) {
		c->method = "";
		ttrpc_reply_error(c, ST_INVALID_ARGUMENT, "invalid request: %s",
				  pbcb_error ? pbcb_error : "decode");
		return k->fd < 0 || k->gen != gen ? -EPIPE : 0;
	}
	c->payload = req->payload;
	c->method = req->method;
	int known_service;
	const struct ttrpc_method *m = lookup(req->service, req->method, &known_service);
	if (!m) {
		if (known_service)
			ttrpc_reply_error(c, ST_UNIMPLEMENTED, "method %s", req->method);
		else
			ttrpc_reply_error(c, ST_UNIMPLEMENTED, "service %s",
					  req->service);
		return k->fd < 0 || k->gen != gen ? -EPIPE : 0;
	}
	log_debug("%s/%s stream %u", req->service, req->method, h->stream);
	c->fn = m->fn;
	m->fn(c);
	/* A reply that failed to write may have closed the connection: stop
	 * decoding its remaining bytes into a reset decoder. */
	return k->fd < 0 || k->gen != gen ? -EPIPE : 0;
}

static void on_conn(int fd, uint32_t events, void *data)
{
	struct conn *k = data;
	(void)fd;
	if (events & EPOLLOUT) {
		if (conn_flush(k) < 0) {
			conn_close(k);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	uint8_t buf[READ_CHUNK];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(k->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(k);
			return;
		}
		unsigned gen = k->gen;
		if (ttrpc_dec_feed(&k->dec, buf, (size_t)n, on_frame, k) < 0) {
			if (k->fd >= 0 && k->gen == gen)
				conn_close(k);
			return;
		}
		if (k->fd < 0 || k->gen != gen)
			return;
		if ((size_t)n < sizeof(buf))
			return;
	}
}

static void on_accept(int lfd, uint32_t events, void *data)
{
	(void)events;
	(void)data;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
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
		struct conn *k = NULL;
		for (int i = 0; i < MAX_CONN; i++)
			if (conns[i].fd < 0) {
				k = &conns[i];
				break;
			}
		if (!k) {
			log_warn("too many connections");
			close(fd);
			continue;
		}
		memset(k, 0, sizeof(*k));
		k->fd = fd;
		k->gen = ++conn_gen;
		if (loop_add(fd, EPOLLIN, on_conn, k) < 0) {
			close(fd);
			k->fd = -1;
			continue;
		}
		nconns++;
	}
}

int ttrpc_listen(int fd)
{
	for (int i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	return loop_add(fd, EPOLLIN, on_accept, NULL);
}

int ttrpc_flush_pending(void)
{
	int left = 0;
	for (int i = 0; i < MAX_CONN; i++)
		if (conns[i].fd >= 0 && conns[i].out_head) {
			if (conn_flush(&conns[i]) < 0)
				continue;
			left += conns[i].out_head != NULL;
		}
	return left;
}
