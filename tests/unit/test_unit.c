/*
 * test_unit.c - the unit tests' binary: the groups of tests/unit/unit_*.c
 * (one file per module of src/), run in turn.
 *
 * Prints "ok NAME" / "FAIL NAME: ..." per check group and ends with
 * "N passed, N failed"; exits 1 on any failure.
 */
#define CHECK_MAIN
#include "unit.h"

int main(void)
{
	test_sha256();
	test_socket_address();
	test_flags();
	test_arena();
	test_pages();
	test_framing();
	test_roundtrip();
	test_json();
	test_mount();
	test_server();
	test_park();
	test_spawn();
	test_slots();
	test_state();
	test_runc();
	test_copy();
	test_toml();
	return check_summary();
}
