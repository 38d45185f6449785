/*
 * unit_server.c - unit tests: the ttrpc server over a real unix socket.
 */
#include "unit.h"

static struct call *parked;

static void m_echo(struct call *c)
{
	ttrpc_KeyValue *kv =
		ttrpc_decode(c, ttrpc_KeyValue_fields, sizeof(ttrpc_KeyValue));
	if (!kv)
		return;
	ttrpc_reply(c, ttrpc_KeyValue_fields, kv);
}

static void m_park(struct call *c)
{
	parked = c; /* answered later, like Wait */
}

static const struct ttrpc_method test_methods[] = {
	{ "Echo", m_echo },
	{ "Park", m_park },
	{ NULL, NULL },
};

void test_server(void)
{
	begin("ttrpc server: dispatch, errors, oversized frames, out of order");
	CHECK(loop_init() == 0);
	CHECK(ttrpc_register("test.Svc", test_methods) == 0);
	char path[] = "/tmp/shim-unit-XXXXXX";
	CHECK(mkdtemp(path) != NULL);
	char sock[96];
	snprintf(sock, sizeof(sock), "%s/s", path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 8) == 0);
	CHECK(ttrpc_listen(lfd) == 0);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);

	int code;
	char msg[256];
	ttrpc_KeyValue kv;
	memset(&kv, 0, sizeof(kv));
	ttrpc_KeyValue in;
	memset(&in, 0, sizeof(in));
	PB_SETSTR(in.key, "k");
	PB_SETSTR(in.value, "v");
	uint8_t pl[600];
	long pn = pb_encode_buf(pl, sizeof(pl), ttrpc_KeyValue_fields, &in);

	/* a parked call does not hold up later ones */
	CHECK(unit_client_send(fd, 1, "test.Svc", "Park", "", 0) == 0);
	CHECK(unit_client_send(fd, 3, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), &kv) == 3);
	CHECK(code == 0 && strcmp(kv.key, "k") == 0 && strcmp(kv.value, "v") == 0);
	CHECK(parked != NULL);
	if (parked)
		ttrpc_reply(parked, NULL, NULL);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 1 && code == 0);

	CHECK(unit_client_send(fd, 5, "test.Nope", "Echo", "", 0) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 5);
	CHECK(code == 12 && strstr(msg, "service"));
	CHECK(unit_client_send(fd, 7, "test.Svc", "Nope", "", 0) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 7);
	CHECK(code == 12 && strstr(msg, "method"));
	static const uint8_t junk[] = { 0x0a, 0x50, 'x' };
	CHECK(unit_client_send(fd, 9, "test.Svc", "Echo", junk, sizeof(junk)) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 9 && code == 3);
	/* even and reused stream ids */
	CHECK(unit_client_send(fd, 10, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 10 && code == 3);
	CHECK(unit_client_send(fd, 9, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 9 && code == 3);
	/* an undecodable envelope */
	uint8_t hb[10 + 3];
	struct ttrpc_hdr h = { 3, 11, TTRPC_REQUEST, 0 };
	ttrpc_hdr_put(hb, &h);
	memcpy(hb + 10, junk, 3);
	CHECK(write(fd, hb, sizeof(hb)) == (ssize_t)sizeof(hb));
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 11 && code == 3);

	/* oversized: RESOURCE_EXHAUSTED, and the connection stays usable */
	struct ttrpc_hdr bigh = { TTRPC_MAX_PAYLOAD + 10, 13, TTRPC_REQUEST, 0 };
	ttrpc_hdr_put(hb, &bigh);
	CHECK(write(fd, hb, 10) == 10);
	static uint8_t zeros[65536];
	size_t left = bigh.len;
	int resp = -1;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (left) {
		size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
		ssize_t w = write(fd, zeros, k);
		if (w > 0)
			left -= (size_t)w;
		loop_run_once(1);
	}
	fcntl(fd, F_SETFL, 0);
	resp = unit_client_recv(fd, &code, msg, sizeof(msg), NULL);
	CHECK(resp == 13 && code == 8);
	CHECK(unit_client_send(fd, 15, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), &kv) == 15 && code == 0);

	/* a client that disconnects mid-request leaves nothing behind */
	CHECK(unit_client_send(fd, 17, "test.Svc", "Park", "", 0) == 0);
	for (int i = 0; i < 5; i++)
		loop_run_once(5);
	CHECK(write(fd, hb, 5) == 5); /* half a header */
	close(fd);
	for (int i = 0; i < 20 && ttrpc_connections(); i++)
		loop_run_once(10);
	CHECK(ttrpc_connections() == 0);
	if (parked) /* the parked call is answered into the void */
		ttrpc_reply(parked, NULL, NULL);
	CHECK(arena_in_use() == 0);
	unlink(sock);
	rmdir(path);
	end();
}
