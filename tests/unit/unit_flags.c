/*
 * unit_flags.c - unit tests: command-line flags as the Go shim takes them.
 */
#include "unit.h"

#include "container.h"

void test_flags(void)
{
	begin("flags with Go flag syntax");
	struct shim_flags f;
	char *a1[] = { "shim",
		       "-namespace",
		       "ns1",
		       "-id=c1",
		       "--address",
		       "/run/c.sock",
		       "-publish-binary",
		       "/usr/bin/containerd",
		       "-debug",
		       "start",
		       NULL };
	CHECK(flags_parse(&f, 10, a1) == 0);
	CHECK(strcmp(f.namespace, "ns1") == 0 && strcmp(f.id, "c1") == 0);
	CHECK(strcmp(f.address, "/run/c.sock") == 0 && f.debug == 1);
	CHECK(strcmp(f.action, "start") == 0);
	char *a2[] = { "shim", "-debug=false", "--namespace=x", "-bundle", "/b", "delete",
		       NULL };
	CHECK(flags_parse(&f, 6, a2) == 0);
	CHECK(f.debug == 0 && strcmp(f.bundle, "/b") == 0 &&
	      strcmp(f.action, "delete") == 0);
	char *a3[] = { "shim", "-nosuch", NULL };
	CHECK(flags_parse(&f, 2, a3) < 0 && strstr(f.error, "not defined"));
	char *a4[] = { "shim", "-id", NULL };
	CHECK(flags_parse(&f, 2, a4) < 0 && strstr(f.error, "needs an argument"));
	char *a5[] = { "shim", "-debug=maybe", NULL };
	CHECK(flags_parse(&f, 2, a5) < 0);
	char *a6[] = { "shim", "-v", NULL };
	CHECK(flags_parse(&f, 2, a6) == 0 && f.version == 1 && f.action[0] == 0);
	char *a7[] = { "shim", "-namespace", "n", "start", "-id", "late", NULL };
	CHECK(flags_parse(&f, 6, a7) == 0 && strcmp(f.action, "start") == 0 &&
	      f.id[0] == 0);
	/* the upgrade command's own words come after it */
	char *a8[] = { "shim", "upgrade", "-dry-run", "/usr/bin/x", NULL };
	CHECK(flags_parse(&f, 4, a8) == 0 && f.dry_run && strcmp(f.upgrade_path, "/usr/bin/x") == 0);
	char *a9[] = { "shim", "upgrade", "-bogus", NULL };
	CHECK(flags_parse(&f, 3, a9) < 0 && strstr(f.error, "unknown argument"));
	char *a10[] = { "shim", "-namespace", "n", "-upgrade-state", "5", NULL };
	CHECK(flags_parse(&f, 5, a10) == 0 && strcmp(f.upgrade_state, "5") == 0 &&
	      !f.upgrade_path);
	end();

	begin("container id validation");
	CHECK(id_valid("abc") && id_valid("a-b.c_d") && id_valid("A1"));
	CHECK(!id_valid("") && !id_valid("a/b") && !id_valid(".."));
	CHECK(!id_valid("a..b") && !id_valid("-a") && !id_valid("a-"));
	CHECK(!id_valid("a b") && !id_valid("../etc"));
	char longid[80];
	memset(longid, 'x', 77);
	longid[77] = 0;
	CHECK(!id_valid(longid));
	longid[76] = 0;
	CHECK(id_valid(longid));
	end();
}
