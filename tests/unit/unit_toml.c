/*
 * unit_toml.c - unit tests: the TOML reader of runtime options.
 */
#include "unit.h"

void test_toml(void)
{
	begin("toml: a flat table of strings, booleans and integers; errors named");
	static const char body[] = "# c\n\nBinaryName = \"/usr/bin/r\\u00e9\\\"x\\\"\"\n"
				   "Root='/run/c'  # trailing\r\nSystemdCgroup = true\n"
				   "IoUid = 1_000\nNoPivotRoot=false";
	struct toml t = { body, sizeof(body) - 1, 0, 1 };
	struct toml_kv kv;
	char buf[128];
	CHECK(toml_next(&t, &kv, buf, sizeof(buf)) == 1 &&
	      !strcmp(kv.key, "BinaryName") && kv.type == TOML_STRING &&
	      !strcmp(kv.str, "/usr/bin/r\xc3\xa9\"x\""));
	CHECK(toml_next(&t, &kv, buf, sizeof(buf)) == 1 && !strcmp(kv.key, "Root") &&
	      !strcmp(kv.str, "/run/c"));
	CHECK(toml_next(&t, &kv, buf, sizeof(buf)) == 1 && kv.type == TOML_BOOL &&
	      kv.num == 1);
	CHECK(toml_next(&t, &kv, buf, sizeof(buf)) == 1 && kv.type == TOML_INT &&
	      kv.num == 1000);
	CHECK(toml_next(&t, &kv, buf, sizeof(buf)) == 1 && kv.type == TOML_BOOL &&
	      kv.num == 0);
	CHECK(toml_next(&t, &kv, buf, sizeof(buf)) == 0);
	static const char *const bad[] = { "[table]\n",	    "a = [1]\n", "a = \"open\n",
					   "a = \"\\q\"\n", "= 1\n",	 "a = 1 2\n",
					   "a = 1.5\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml b = { bad[i], strlen(bad[i]), 0, 1 };
		CHECK(toml_next(&b, &kv, buf, sizeof(buf)) == -EINVAL);
	}
	/* a backslash before a NUL byte (found by the fuzzer) */
	static const char nul[] = "a = \"\\\0\"\n";
	struct toml z = { nul, sizeof(nul) - 1, 0, 1 };
	CHECK(toml_next(&z, &kv, buf, sizeof(buf)) == -EINVAL);
	char tiny[4];
	struct toml l = { "a = \"long\"", 10, 0, 1 };
	CHECK(toml_next(&l, &kv, tiny, sizeof(tiny)) < 0);
	end();
}
