/*
 * events.c - event queue and forwarding client.
 *
 * Layer: wire (README, "Architecture").
 *
 * Each queued event holds the complete encoded ttrpc Request (service,
 * method, ForwardRequest payload, timeout) in its own mapping; only the
 * frame header, which carries the stream id, is written at send time.
 */
#include "cold.h"
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "containerd_services_events_ttrpc_v1.pb.h"
#include "capacity.h"
#include "log.h"
#include "loop.h"
#include "pages.h"
#include "pbcb.h"
#include "state.h"
#include "ttrpc.h"
#include "ttrpc.pb.h"

#define SEND_TIMEOUT_S	5
#define REFUSED_RETRIES 5

struct event {
	struct event *next;
	size_t map_len;
	size_t len;
	int refused; /* times containerd answered with an error */
	uint8_t data[];
};

static char address[108];
static char ns[256];
static struct event *head, *tail;
static unsigned queued;
static int fd = -1;
static struct loop_timer timer; /* a retry's, or a send's deadline */
static int connecting;
static int in_flight;	/* the head has been sent, answer awaited */
static size_t sent_off; /* bytes of header+body written */
static uint8_t hdr[TTRPC_HDR_LEN];
static uint32_t next_stream = 1;
static uint32_t cur_stream;
static unsigned backoff_ms;
static struct ttrpc_dec dec;
static int held; /* events_hold: nothing more is sent */
/* the page of the last event answered, for the next one: a container's
 * few events do not map and unmap a page each; unmapped when idle */
static struct event *spare;
static uint32_t watching; /* what the loop watches fd for */

static void kick(void);

/* e joins the end of the queue. */
static void enqueue(struct event *e)
{
	if (tail)
		tail->next = e;
	else
		head = e;
	tail = e;
	queued++;
}

static void on_timer(void *ctx);

static void arm_timer(unsigned ms)
{
	loop_timer_set(&timer, loop_now_ns() + (int64_t)ms * 1000000LL, on_timer, NULL);
}

static void disarm_timer(void)
{
	loop_timer_cancel(&timer);
}

static void disconnect(void)
{
	if (fd >= 0) {
		loop_del(fd);
		close(fd);
	}
	fd = -1;
	watching = 0;
	connecting = 0;
	in_flight = 0;
	sent_off = 0;
	ttrpc_dec_reset(&dec);
}

/* Try again later, backing off up to 5 s. */
static void retry_later(void)
{
	disconnect();
	backoff_ms = backoff_ms ? backoff_ms * 2 : 100;
	if (backoff_ms > 5000)
		backoff_ms = 5000;
	arm_timer(backoff_ms);
}

static struct event *event_map(size_t map_len)
{
	struct event *e = map_len == 4096 ? spare : NULL;
	if (e)
		spare = NULL;
	else
		e = pages_map(map_len, 0);
	if (e) /* the spare's header is the last event's */
		*e = (struct event){ .map_len = map_len };
	return e;
}

/* e's page is kept as the spare when it is one page and none is kept */
static void event_unmap(struct event *e)
{
	if (e->map_len == 4096 && !spare)
		spare = e;
	else
		munmap(e, e->map_len);
}

static void pop_head(void)
{
	struct event *e = head;
	head = e->next;
	if (!head)
		tail = NULL;
	queued--;
	event_unmap(e);
	in_flight = 0;
	sent_off = 0;
}

int events_trimmable(void)
{
	return spare != NULL;
}

void events_trim(void)
{
	if (spare)
		munmap(spare, spare->map_len);
	spare = NULL;
}

static int on_response(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
		       uint8_t *payload)
{
	(void)ctx;
	if (!payload)
		return -EMSGSIZE;
	if (h->type != TTRPC_RESPONSE || !in_flight || h->stream != cur_stream) {
		arena_free(a);
		return 0;
	}
	ttrpc_Response *r = arena_alloc(a, sizeof(*r));
	int code = ST_UNKNOWN;
	if (r && pb_decode_arena(a, payload, h->len, ttrpc_Response_fields, r) == 0)
		code = r->status.code;
	if (code == ST_OK) {
		pop_head();
		backoff_ms = 0;
		disarm_timer();
	} else {
		log_warn("forward event: containerd answered code %d: %s", code,
			 r ? r->status.message : "");
		in_flight = 0;
		sent_off = 0;
		if (++head->refused >= REFUSED_RETRIES) {
			log_error("dropping event after %d refusals", head->refused);
			pop_head();
		}
	}
	arena_free(a);
	return 0;
}

static void on_socket(int sfd, uint32_t events, void *data)
{
	(void)sfd;
	(void)data;
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		retry_later();
		return;
	}
	if (connecting && (events & EPOLLOUT)) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			retry_later();
			return;
		}
		connecting = 0;
	}
	if (events & EPOLLIN) {
		uint8_t buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			retry_later();
			return;
		}
		if (ttrpc_dec_feed(&dec, buf, (size_t)n, on_response, NULL) < 0) {
			retry_later();
			return;
		}
	}
	kick();
}

static void on_timer(void *ctx)
{
	(void)ctx;
	if (in_flight || connecting) {
		log_warn("forward event: no answer from containerd, reconnecting");
		retry_later();
		return;
	}
	kick();
}

static int do_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(address);
	if (!n || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, address, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			int e = errno;
			close(fd);
			fd = -1;
			return -e;
		}
		connecting = 1;
	}
	if (loop_add(fd, EPOLLIN | EPOLLOUT, on_socket, NULL) < 0) {
		close(fd);
		fd = -1;
		return -EMFILE;
	}
	watching = EPOLLIN | EPOLLOUT;
	return 0;
}

/* fd watched for ev: told to the loop only when it changes, not after
 * every event sent and every answer read */
static void watch(uint32_t ev)
{
	if (ev != watching && loop_mod(fd, ev) == 0)
		watching = ev;
}

static void kick(void)
{
	if (!head) {
		if (fd >= 0)
			watch(EPOLLIN);
		return;
	}
	if (fd < 0) {
		if (backoff_ms && timer.at)
			return; /* a retry is already scheduled */
		int r = do_connect();
		if (r < 0) {
			log_debug("connect %s: %s", address, strerror(-r));
			retry_later();
			return;
		}
	}
	if (connecting)
		return;
	if (!in_flight && held)
		return;
	if (!in_flight) {
		cur_stream = next_stream;
		next_stream += 2;
		struct ttrpc_hdr h = { (uint32_t)head->len, cur_stream, TTRPC_REQUEST,
				       0 };
		ttrpc_hdr_put(hdr, &h);
		in_flight = 1;
		sent_off = 0;
		arm_timer(SEND_TIMEOUT_S * 1000);
	}
	size_t total = TTRPC_HDR_LEN + head->len;
	while (sent_off < total) {
		struct iovec iov[2];
		int cnt = 0;
		if (sent_off < TTRPC_HDR_LEN) {
			iov[cnt].iov_base = hdr + sent_off;
			iov[cnt++].iov_len = TTRPC_HDR_LEN - sent_off;
			iov[cnt].iov_base = head->data;
			iov[cnt++].iov_len = head->len;
		} else {
			iov[cnt].iov_base = head->data + (sent_off - TTRPC_HDR_LEN);
			iov[cnt++].iov_len = total - sent_off;
		}
		ssize_t w = writev(fd, iov, cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				watch(EPOLLIN | EPOLLOUT);
				return;
			}
			retry_later();
			return;
		}
		sent_off += (size_t)w;
	}
	watch(EPOLLIN);
}

int events_init(const char *addr, const char *namespace)
{
	if (!addr)
		addr = "";
	if (strncmp(addr, "unix://", 7) == 0)
		addr += 7;
	snprintf(address, sizeof(address), "%s", addr);
	snprintf(ns, sizeof(ns), "%s", namespace ? namespace : "");
	dec.reserved = 1;
	return 0;
}

unsigned events_pending(void)
{
	return queued;
}

int events_publish(const char *topic, const pb_msgdesc_t *fields, const void *msg,
		   const char *type_url)
{
	/* the shim's own work: never short of an arena because of a client */
	struct arena *a = arena_new_reserved();
	if (!a) {
		log_error("event %s: no memory to encode it", topic);
		return -ENOMEM;
	}
	int r = -ENOMEM;
	containerd_services_events_ttrpc_v1_ForwardRequest *fw =
		arena_alloc(a, sizeof(*fw));
	ttrpc_Request *req = arena_alloc(a, sizeof(*req));
	if (!fw || !req)
		goto out;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fw->has_envelope = true;
	fw->envelope.has_timestamp = true;
	fw->envelope.timestamp.seconds = ts.tv_sec;
	fw->envelope.timestamp.nanos = (int32_t)ts.tv_nsec;
	PB_SETSTR(fw->envelope.namespace, ns);
	PB_SETSTR(fw->envelope.topic, topic);
	fw->envelope.has_event = true;
	PB_SETSTR(fw->envelope.event.type_url, type_url);
	if ((r = pb_encode_arena(a, fields, msg, &fw->envelope.event.value)) < 0)
		goto out;
	PB_SETSTR(req->service, "containerd.services.events.ttrpc.v1.Events");
	PB_SETSTR(req->method, "Forward");
	req->timeout_nano = (int64_t)SEND_TIMEOUT_S * 1000000000LL;
	if ((r = pb_encode_arena(
		     a, containerd_services_events_ttrpc_v1_ForwardRequest_fields, fw,
		     &req->payload)) < 0)
		goto out;
	size_t n;
	if (!pb_get_encoded_size(&n, ttrpc_Request_fields, req)) {
		r = -EINVAL;
		goto out;
	}
	/* The queue is bounded by memory only: a long containerd outage must
	 * not lose exits.  Say so when it grows unusually long. */
	if (queued == LIM_EVENTS)
		log_warn("%u events queued: containerd has not taken any for a while",
			 queued);
	size_t map_len = (sizeof(struct event) + n + 4095) & ~(size_t)4095;
	struct event *e = event_map(map_len);
	if (!e) {
		log_error("event %s lost: no memory to queue it", topic);
		r = -ENOMEM;
		goto out;
	}
	long w = pb_encode_buf(e->data, n, ttrpc_Request_fields, req);
	if (w < 0) {
		event_unmap(e);
		r = -EINVAL;
		goto out;
	}
	e->len = (size_t)w;
	enqueue(e);
	log_debug("event %s queued", topic);
	r = 0;
	kick();
out:
	arena_free(a);
	return r;
}

COLD void events_hold(int on)
{
	held = on;
	if (!on)
		kick();
}

COLD int events_busy(void)
{
	return in_flight;
}

/* The queue, in order, each event as the encoded request it is; the one
 * sent and answered is gone already (the upgrade waits for its answer). */
COLD void events_save(struct st_w *w)
{
	st_tag(w, "EVTS");
	st_u64(w, next_stream);
	st_u64(w, queued);
	for (struct event *e = head; e; e = e->next) {
		st_bytes(w, e->data, e->len);
		st_u64(w, (uint64_t)e->refused);
	}
}

COLD int events_load(struct st_r *r)
{
	if (!st_want(r, "EVTS"))
		return -EINVAL;
	next_stream = (uint32_t)st_get(r) | 1;
	unsigned n = (unsigned)st_get(r);
	for (unsigned i = 0; i < n && !r->err; i++) {
		size_t len;
		const uint8_t *data = st_get_bytes(r, &len);
		int refused = (int)st_get_max(r, REFUSED_RETRIES, "bad event retries");
		size_t map_len = (sizeof(struct event) + len + 4095) & ~(size_t)4095;
		struct event *e = r->err ? NULL : event_map(map_len);
		if (!e) {
			st_fail(r, "no memory for an event");
			break;
		}
		e->len = len;
		e->refused = refused;
		memcpy(e->data, data, len);
		enqueue(e);
	}
	return r->err ? -EINVAL : 0;
}

COLD void events_resume(void)
{
	kick();
}
