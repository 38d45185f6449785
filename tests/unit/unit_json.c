/*
 * unit_json.c - unit tests: the JSON helpers over jsmn.
 */
#include "unit.h"

void test_json(void)
{
	begin("json: annotations, log.json, runc ps");
	struct arena *a = arena_new();
	const char *cfg = "{\"ociVersion\":\"1.0\",\"process\":{\"args\":[\"sh\",\"-c\"],"
			  "\"env\":[\"A=1\"]},\"annotations\":{\"x\":\"y\","
			  "\"io.containerd.runc.v2.group\":\"pod\\u00e9\\\"1\"}}";
	char out[64];
	CHECK(json_annotation(a, cfg, strlen(cfg), "io.containerd.runc.v2.group", out,
			      sizeof(out)) == 0);
	CHECK(strcmp(out, "pod\xc3\xa9\"1") == 0);
	CHECK(json_annotation(a, cfg, strlen(cfg), "nope", out, sizeof(out)) == -ENOENT);
	CHECK(json_annotation(a, "{\"a\":", 5, "x", out, sizeof(out)) < 0);
	CHECK(json_top_string(a, "{\"root\":\"/r\",\"b\":1}", 19, "root", out,
			      sizeof(out)) == 0 &&
	      strcmp(out, "/r") == 0);
	/* a document larger than the stack token array */
	char big[20000];
	size_t n = (size_t)snprintf(big, sizeof(big), "{\"l\":[");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%d,", i);
	n += (size_t)snprintf(big + n - 1, sizeof(big) - n,
			      "],\"annotations\":{\"k\":\"v\"}}") -
	     1;
	CHECK(json_annotation(a, big, n, "k", out, sizeof(out)) == 0 &&
	      strcmp(out, "v") == 0);

	const char *log = "{\"level\":\"error\",\"msg\":\"first\",\"time\":\"t\"}\n"
			  "{\"level\":\"info\",\"msg\":\"noise\"}\n"
			  "{\"level\":\"error\",\"msg\":\"exec: \\\"x\\\": not found\"}\n"
			  "garbage line\n";
	CHECK(json_log_last_error(log, strlen(log), out, sizeof(out)) == 0);
	CHECK(strcmp(out, "exec: \"x\": not found") == 0);
	CHECK(json_log_last_error("{}", 2, out, sizeof(out)) == -ENOENT);

	int pids[8];
	CHECK(json_int_array(a, "[1,22,333]\n", 11, pids, 8) == 3 && pids[2] == 333);
	CHECK(json_int_array(a, "null", 4, pids, 8) < 0);
	CHECK(json_int_array(a, "[1,\"x\"]", 7, pids, 8) < 0);
	char esc[64];
	json_escape("a\"b\\c\n", esc, sizeof(esc));
	CHECK(strcmp(esc, "a\\\"b\\\\c\\u000a") == 0);
	arena_free(a);
	end();
}
