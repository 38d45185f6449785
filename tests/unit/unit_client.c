/*
 * unit_client.c - a ttrpc client for the unit tests of the server and of
 * what parks calls: requests written by hand, answers read while the loop
 * runs.
 */
#include "unit.h"

int unit_client_send_timeout(int fd, uint32_t stream, const char *svc, const char *meth,
			     const void *payload, size_t plen, int64_t timeout_nano)
{
	struct arena *a = arena_new();
	ttrpc_Request *r = arena_alloc(a, sizeof(*r));
	PB_SETSTR(r->service, svc);
	PB_SETSTR(r->method, meth);
	r->payload.ptr = payload;
	r->payload.len = plen;
	r->timeout_nano = timeout_nano;
	struct pbbytes b;
	pb_encode_arena(a, ttrpc_Request_fields, r, &b);
	uint8_t *f = arena_alloc(a, b.len + 10);
	struct ttrpc_hdr h = { (uint32_t)b.len, stream, TTRPC_REQUEST, 0 };
	ttrpc_hdr_put(f, &h);
	memcpy(f + 10, b.ptr, b.len);
	ssize_t w = write(fd, f, b.len + 10);
	arena_free(a);
	return w == (ssize_t)(b.len + 10) ? 0 : -1;
}

int unit_client_recv(int fd, int *code, char *msg, size_t msgcap, ttrpc_KeyValue *kv)
{
	/* what came after the last answer read (one client fd at a time) */
	static uint8_t buf[8192];
	static size_t have;
	static int from = -1;
	if (from != fd)
		have = 0;
	from = fd;
	for (int i = 0; i < 200; i++) {
		if (have < 10 ||
		    have < 10 + ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
				 (size_t)buf[2] << 8 | buf[3])) {
			loop_run_once(10);
			ssize_t n =
				recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
			if (n > 0)
				have += (size_t)n;
		}
		if (have >= 10) {
			struct ttrpc_hdr h;
			ttrpc_hdr_get(buf, &h);
			if (have >= 10 + h.len) {
				struct arena *a = arena_new();
				ttrpc_Response *r = arena_alloc(a, sizeof(*r));
				int ok = pb_decode_arena(a, buf + 10, h.len,
							 ttrpc_Response_fields, r);
				*code = ok == 0 ? r->status.code : -1;
				snprintf(msg, msgcap, "%s", r->status.message);
				if (kv && r->payload.len)
					pb_decode_arena(a, r->payload.ptr, r->payload.len,
							ttrpc_KeyValue_fields, kv);
				arena_free(a);
				memmove(buf, buf + 10 + h.len, have - 10 - h.len);
				have -= 10 + h.len;
				return (int)h.stream;
			}
		}
	}
	return -1;
}

int unit_client_send(int fd, uint32_t stream, const char *svc, const char *meth,
		     const void *payload, size_t plen)
{
	return unit_client_send_timeout(fd, stream, svc, meth, payload, plen, 0);
}

/* A ttrpc server on a new socket under a new folder; returns a connected
 * client fd (path gets the folder, to remove). */
int unit_server_socket(char *path, size_t cap)
{
	snprintf(path, cap, "/tmp/shim-unit-XXXXXX");
	if (!mkdtemp(path))
		return -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 8) < 0 || ttrpc_listen(lfd) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}
