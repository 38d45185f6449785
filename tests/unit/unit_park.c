/*
 * unit_park.c - unit tests: calls that wait (park.c), over the real ttrpc
 * server: answered once when woken, at their deadline, or dropped with
 * their connection; a Delete waiting for output goes on at its deadline.
 */
#include "unit.h"

#include "park.h"

static const struct ref exit_of = { 1, 1 }, drain_of = { 2, 1 };
static int resumed;

static void answer(struct call *c, struct ref r)
{
	resumed++;
	ttrpc_reply(c, NULL, NULL);
}

static void m_wait(struct call *c)
{
	park_call(c, PARK_EXIT, exit_of, answer);
}

static void m_drain(struct call *c)
{
	park_call(c, PARK_DRAIN, drain_of, answer);
}

static void m_wake(struct call *c)
{
	park_wake(PARK_EXIT, exit_of);
	ttrpc_reply(c, NULL, NULL);
}

static const struct ttrpc_method park_methods[] = {
	{ "Wait", m_wait },
	{ "Drain", m_drain },
	{ "Wake", m_wake },
	{ NULL, NULL },
};

void test_park(void)
{
	begin("park: woken once, deadlines, dropped with the connection");
	CHECK(loop_init() == 0 && park_init() == 0);
	CHECK(ttrpc_register("test.Park", park_methods) == 0);
	char dir[64];
	int fd = unit_server_socket(dir, sizeof(dir));
	CHECK(fd >= 0);
	int code = -1;
	char msg[256];

	/* two Waits parked; a Wake answers both, once */
	CHECK(unit_client_send(fd, 1, "test.Park", "Wait", "", 0) == 0);
	CHECK(unit_client_send(fd, 3, "test.Park", "Wait", "", 0) == 0);
	for (int i = 0; i < 10; i++)
		loop_run_once(2);
	CHECK(unit_client_send(fd, 5, "test.Park", "Wake", "", 0) == 0);
	int seen = 0;
	for (int k = 0; k < 3; k++) {
		int s = unit_client_recv(fd, &code, msg, sizeof(msg), NULL);
		CHECK(code == 0);
		seen |= s == 1 ? 1 : s == 3 ? 2 : s == 5 ? 4 : 8;
	}
	CHECK(seen == 7 && resumed == 2);

	/* a Wait with a deadline: DEADLINE_EXCEEDED (4), not resumed */
	resumed = 0;
	CHECK(unit_client_send_timeout(fd, 7, "test.Park", "Wait", "", 0, 30000000) == 0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 7);
	CHECK(code == 4 && resumed == 0);
	/* a Delete waiting for output goes on at its deadline: resumed */
	CHECK(unit_client_send_timeout(fd, 9, "test.Park", "Drain", "", 0, 30000000) ==
	      0);
	CHECK(unit_client_recv(fd, &code, msg, sizeof(msg), NULL) == 9);
	CHECK(code == 0 && resumed == 1);

	/* a parked Wait whose connection closes is gone: a Wake later finds
	 * nothing (and nothing is touched: ASan would tell) */
	resumed = 0;
	CHECK(unit_client_send(fd, 11, "test.Park", "Wait", "", 0) == 0);
	for (int i = 0; i < 10; i++)
		loop_run_once(2);
	close(fd);
	for (int i = 0; i < 20 && ttrpc_connections(); i++)
		loop_run_once(10);
	CHECK(ttrpc_connections() == 0);
	park_wake(PARK_EXIT, exit_of);
	CHECK(resumed == 0 && park_room());
	CHECK(arena_in_use() == 0);
	char sock[96];
	snprintf(sock, sizeof(sock), "%s/s", dir);
	unlink(sock);
	rmdir(dir);
	end();
}
