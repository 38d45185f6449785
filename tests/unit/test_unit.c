/*
 * test_unit.c - unit tests for the codecs, framing, arena, pages, flags,
 * socket address, JSON helpers and the ttrpc server (over a real unix
 * socket).
 *
 * Prints "ok NAME" / "FAIL NAME: ..." per check group and ends with
 * "N passed, N failed"; exits 1 on any failure.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <pb_common.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "arena.h"
#include "bootstrap.h"
#include "capacity.h"
#include "containerd_events_task.pb.h"
#include "copy.h"
#include "containerd_runc_v1_options.pb.h"
#include "containerd_runtime_bootstrap_v1.pb.h"
#include "containerd_services_events_ttrpc_v1.pb.h"
#include "containerd_task_v2.pb.h"
#include "containerd_v1_types_task.pb.h"
#include "flags.h"
#include "json.h"
#include "loop.h"
#include "idmap.h"
#include "mount.h"
#include "pages.h"
#include "pbcb.h"
#include "sha256.h"
#include "task.h"
#include "toml.h"
#include "ttrpc.h"
#include "ttrpc.pb.h"

#include "check.h"

/* ---------------------------------------------------------------- sha256 */
static void test_sha256(void)
{
	begin("sha256 vectors");
	char hex[65];
	sha256_hex("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015"
			  "ad") == 0);
	sha256_hex("", 0, hex);
	CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
			  "55") == 0);
	char a[1000];
	memset(a, 'a', sizeof(a));
	sha256_hex(a, sizeof(a), hex);
	CHECK(strcmp(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737e"
			  "a3") == 0);
	end();
}

/* ------------------------------------------------------- socket address */
static void test_socket_address(void)
{
	begin("socket address computed the Go shim's way");
	char out[256];
	CHECK(socket_address("/run/containerd/s", "/run/containerd/containerd.sock",
			     "default", "c1", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "unix:///run/containerd/s/"
			  "d25aa4ef11a84e954e74a5bcff06557d0b6ea8d0c00243896f29826694bbd8"
			  "88") == 0);
	/* filepath.Join cleans the path first */
	CHECK(socket_address("/run/containerd/s", "/run/containerd//containerd.sock/",
			     "k8s.io", "pod-abc", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "unix:///run/containerd/s/"
			  "7e60d492144f3b695f74c9f6a7d2f715090f0d816e4136891519082b9ec662"
			  "e1") == 0);
	char longdir[200];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	CHECK(socket_address(longdir, "/a", "b", "c", out, sizeof(out)) == -ENAMETOOLONG);
	end();

	begin("path_clean matches filepath.Clean");
	struct {
		const char *in, *out;
	} cases[] = {
		{ "a//b/./c/..", "a/b" },
		{ "/../x", "/x" },
		{ "", "." },
		{ "../a", "../a" },
		{ "/a/b/../../..", "/" },
		{ "a/../..", ".." },
		{ "/a/", "/a" },
		{ "./", "." },
		{ "/", "/" },
		{ "abc/def/../../../ghi", "../ghi" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		path_clean(buf);
		if (strcmp(buf, cases[i].out) != 0) {
			printf("  path_clean(%s) = %s, want %s\n", cases[i].in, buf,
			       cases[i].out);
			group_failed = 1;
		}
	}
	end();
}

/* ----------------------------------------------------------------- flags */
static void test_flags(void)
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
	end();

	begin("container id validation");
	CHECK(task_valid_id("abc") && task_valid_id("a-b.c_d") && task_valid_id("A1"));
	CHECK(!task_valid_id("") && !task_valid_id("a/b") && !task_valid_id(".."));
	CHECK(!task_valid_id("a..b") && !task_valid_id("-a") && !task_valid_id("a-"));
	CHECK(!task_valid_id("a b") && !task_valid_id("../etc"));
	char longid[80];
	memset(longid, 'x', 77);
	longid[77] = 0;
	CHECK(!task_valid_id(longid));
	longid[76] = 0;
	CHECK(task_valid_id(longid));
	end();
}

/* ----------------------------------------------------------------- arena */
static void test_arena(void)
{
	begin("arena");
	unsigned base = arena_in_use();
	struct arena *a = arena_new();
	CHECK(a != NULL);
	char *p = arena_alloc(a, 10);
	CHECK(p && ((uintptr_t)p & 15) == 0);
	int zero = 1;
	for (int i = 0; i < 10; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	memset(p, 'x', 10);
	char *big = arena_alloc(a, 1 << 20); /* larger than a chunk */
	CHECK(big != NULL);
	big[(1 << 20) - 1] = 1;
	char *s = arena_printf(a, "%s-%d", "id", 42);
	CHECK(s && strcmp(s, "id-42") == 0);
	CHECK(arena_alloc(a, (size_t)1 << 31) == NULL);
	CHECK(arena_in_use() == base + 1);
	CHECK(arena_mapped() >= (1 << 20));
	arena_free(a);
	CHECK(arena_in_use() == base);
	/* the big chunk is unmapped; the small one may be kept warm */
	CHECK(arena_mapped() <= arena_warm() * 65536 && arena_warm() <= 4);

	/* a warm chunk comes back zeroed */
	a = arena_new();
	p = arena_alloc(a, 64);
	zero = 1;
	for (int i = 0; i < 64; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	arena_free(a);

	/* the client share runs out; the reserved one is still there */
	static struct arena *all[LIM_ARENAS + 1];
	int n = 0;
	while (n < LIM_ARENAS + 1 && (all[n] = arena_new()) != NULL)
		n++;
	CHECK(n == LIM_ARENAS && arena_available() == 0);
	struct arena *r = arena_new_reserved();
	CHECK(r != NULL && arena_alloc(r, 10) != NULL);
	arena_free(r);
	for (int i = 0; i < n; i++)
		arena_free(all[i]);
	CHECK(arena_in_use() == 0);
	a = arena_new();
	CHECK(a != NULL);
	arena_free(a);
	end();
}

/* --------------------------------------------------------------- framing */
struct got_frame {
	struct ttrpc_hdr h;
	size_t len;
	uint8_t data[64];
	int oversized;
};
static struct got_frame got[16];
static int ngot;

static int collect(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
		   uint8_t *payload)
{
	(void)ctx;
	struct got_frame *g = &got[ngot++];
	g->h = *h;
	g->oversized = payload == NULL;
	if (payload) {
		g->len = h->len < sizeof(g->data) ? h->len : sizeof(g->data);
		memcpy(g->data, payload, g->len);
	}
	arena_free(a);
	return 0;
}

static size_t frame(uint8_t *out, uint32_t stream, uint8_t type, const char *payload,
		    size_t len)
{
	struct ttrpc_hdr h = { (uint32_t)len, stream, type, 0 };
	ttrpc_hdr_put(out, &h);
	memcpy(out + TTRPC_HDR_LEN, payload, len);
	return TTRPC_HDR_LEN + len;
}

static int frames_ok(void)
{
	return ngot == 3 && got[0].h.stream == 1 && got[0].len == 5 &&
	       memcmp(got[0].data, "hello", 5) == 0 && got[1].h.stream == 3 &&
	       got[1].len == 0 && got[2].h.stream == 5 && got[2].h.type == 2 &&
	       got[2].len == 11 && memcmp(got[2].data, "hello world", 11) == 0;
}

static void test_framing(void)
{
	begin("frame header encode/decode");
	uint8_t hb[10];
	struct ttrpc_hdr h = { 0x01020304, 0x0a0b0c0d, 1, 2 }, h2;
	ttrpc_hdr_put(hb, &h);
	CHECK(hb[0] == 1 && hb[3] == 4 && hb[4] == 0x0a && hb[7] == 0x0d && hb[8] == 1 &&
	      hb[9] == 2);
	ttrpc_hdr_get(hb, &h2);
	CHECK(h2.len == h.len && h2.stream == h.stream && h2.type == 1 && h2.flags == 2);
	end();

	uint8_t buf[256];
	size_t n = 0;
	n += frame(buf + n, 1, 1, "hello", 5);
	n += frame(buf + n, 3, 1, "", 0);
	n += frame(buf + n, 5, 2, "hello world", 11);

	begin("frames coalesced in one read");
	struct ttrpc_dec d;
	memset(&d, 0, sizeof(d));
	ngot = 0;
	CHECK(ttrpc_dec_feed(&d, buf, n, collect, NULL) >= 0);
	CHECK(frames_ok());
	ttrpc_dec_reset(&d);
	end();

	begin("frames split byte by byte");
	ngot = 0;
	for (size_t i = 0; i < n; i++)
		CHECK(ttrpc_dec_feed(&d, buf + i, 1, collect, NULL) >= 0);
	CHECK(frames_ok());
	ttrpc_dec_reset(&d);
	end();

	begin("frames split at every position");
	for (size_t cut = 1; cut < n; cut++) {
		ngot = 0;
		CHECK(ttrpc_dec_feed(&d, buf, cut, collect, NULL) >= 0);
		CHECK(ttrpc_dec_feed(&d, buf + cut, n - cut, collect, NULL) >= 0);
		CHECK(frames_ok());
	}
	ttrpc_dec_reset(&d);
	CHECK(arena_in_use() == 0);
	end();

	begin("oversized frame is reported and skipped");
	ngot = 0;
	struct ttrpc_hdr big = { TTRPC_MAX_PAYLOAD + 1, 7, 1, 0 };
	uint8_t bh[10];
	ttrpc_hdr_put(bh, &big);
	CHECK(ttrpc_dec_feed(&d, bh, 10, collect, NULL) >= 0);
	CHECK(ngot == 1 && got[0].oversized && got[0].h.stream == 7);
	static uint8_t junk[65536];
	size_t left = big.len;
	while (left) {
		size_t k = left < sizeof(junk) ? left : sizeof(junk);
		CHECK(ttrpc_dec_feed(&d, junk, k, collect, NULL) >= 0);
		left -= k;
	}
	CHECK(ngot == 1);
	ngot = 0;
	CHECK(ttrpc_dec_feed(&d, buf, n, collect, NULL) >= 0);
	CHECK(frames_ok());
	ttrpc_dec_reset(&d);
	end();
}

/* ------------------------------------------------------ nanopb round trip */

/* Fill every static field of a message with non-default values. */
static void fill(const pb_msgdesc_t *desc, void *msg, int depth)
{
	pb_field_iter_t it;
	if (!pb_field_iter_begin(&it, desc, msg))
		return;
	do {
		pb_type_t t = it.type;
		if (PB_ATYPE(t) != PB_ATYPE_STATIC || PB_HTYPE(t) == PB_HTYPE_ONEOF)
			continue;
		int count = 1;
		if (PB_HTYPE(t) == PB_HTYPE_REPEATED) {
			count = it.array_size < 2 ? (int)it.array_size : 2;
			*(pb_size_t *)it.pSize = (pb_size_t)count;
		} else if (PB_HTYPE(t) == PB_HTYPE_OPTIONAL && it.pSize) {
			*(bool *)it.pSize = true;
		}
		for (int k = 0; k < count; k++) {
			char *p = (char *)it.pData + (size_t)k * it.data_size;
			switch (PB_LTYPE(t)) {
			case PB_LTYPE_BOOL: *(bool *)p = true; break;
			case PB_LTYPE_VARINT:
			case PB_LTYPE_UVARINT:
			case PB_LTYPE_SVARINT:
			case PB_LTYPE_FIXED32:
			case PB_LTYPE_FIXED64:
				if (it.data_size == 8)
					*(int64_t *)p = 1234567890123LL + k;
				else if (it.data_size == 4)
					*(int32_t *)p = 3 + k;
				else
					*(uint8_t *)p = 1;
				break;
			case PB_LTYPE_STRING:
				snprintf(p, it.data_size, "s%d-%.*s", k,
					 (int)(it.data_size > 8 ? 3 : 0), "xyz");
				break;
			case PB_LTYPE_SUBMESSAGE:
				if (depth < 4)
					fill(it.submsg_desc, p, depth + 1);
				break;
			default: break;
			}
		}
	} while (pb_field_iter_next(&it));
}

static int roundtrip(const pb_msgdesc_t *desc, size_t size, const void *src)
{
	struct arena *a = arena_new();
	struct pbbytes e1, e2;
	void *back = arena_alloc(a, size);
	int ok = pb_encode_arena(a, desc, src, &e1) == 0 && e1.len > 0 &&
		 pb_decode_arena(a, e1.ptr, e1.len, desc, back) == 0 &&
		 pb_encode_arena(a, desc, back, &e2) == 0 && e1.len == e2.len &&
		 memcmp(e1.ptr, e2.ptr, e1.len) == 0;
	arena_free(a);
	return ok;
}

#define MSG(T)                                                                           \
	{                                                                                \
#T, &T##_msg, sizeof(T)                                                  \
	}
static const struct {
	const char *name;
	const pb_msgdesc_t *desc;
	size_t size;
} messages[] = {
	MSG(ttrpc_Request),
	MSG(ttrpc_Response),
	MSG(ttrpc_KeyValue),
	MSG(google_rpc_Status),
	MSG(google_protobuf_Any),
	MSG(google_protobuf_Timestamp),
	MSG(containerd_types_Mount),
	MSG(containerd_v1_types_ProcessInfo),
	MSG(containerd_task_v2_CreateTaskRequest),
	MSG(containerd_task_v2_CreateTaskResponse),
	MSG(containerd_task_v2_DeleteRequest),
	MSG(containerd_task_v2_DeleteResponse),
	MSG(containerd_task_v2_ExecProcessRequest),
	MSG(containerd_task_v2_ResizePtyRequest),
	MSG(containerd_task_v2_StateRequest),
	MSG(containerd_task_v2_StateResponse),
	MSG(containerd_task_v2_KillRequest),
	MSG(containerd_task_v2_CloseIORequest),
	MSG(containerd_task_v2_PidsRequest),
	MSG(containerd_task_v2_CheckpointTaskRequest),
	MSG(containerd_task_v2_UpdateTaskRequest),
	MSG(containerd_task_v2_StartRequest),
	MSG(containerd_task_v2_StartResponse),
	MSG(containerd_task_v2_WaitRequest),
	MSG(containerd_task_v2_WaitResponse),
	MSG(containerd_task_v2_StatsRequest),
	MSG(containerd_task_v2_StatsResponse),
	MSG(containerd_task_v2_ConnectRequest),
	MSG(containerd_task_v2_ConnectResponse),
	MSG(containerd_task_v2_ShutdownRequest),
	MSG(containerd_task_v2_PauseRequest),
	MSG(containerd_task_v2_ResumeRequest),
	MSG(containerd_events_TaskCreate),
	MSG(containerd_events_TaskStart),
	MSG(containerd_events_TaskDelete),
	MSG(containerd_events_TaskIO),
	MSG(containerd_events_TaskExit),
	MSG(containerd_events_TaskOOM),
	MSG(containerd_events_TaskExecAdded),
	MSG(containerd_events_TaskExecStarted),
	MSG(containerd_events_TaskPaused),
	MSG(containerd_events_TaskResumed),
	MSG(containerd_events_TaskCheckpointed),
	MSG(containerd_services_events_ttrpc_v1_Envelope),
	MSG(containerd_services_events_ttrpc_v1_ForwardRequest),
	MSG(containerd_runc_v1_Options),
	MSG(containerd_runc_v1_CheckpointOptions),
	MSG(containerd_runc_v1_ProcessDetails),
	MSG(containerd_runtime_bootstrap_v1_BootstrapParams),
};

static void test_roundtrip(void)
{
	begin("every message type round-trips through nanopb");
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		struct arena *a = arena_new();
		void *m = arena_alloc(a, messages[i].size);
		fill(messages[i].desc, m, 0);
		if (!roundtrip(messages[i].desc, messages[i].size, m)) {
			printf("  %s does not round-trip (%s)\n", messages[i].name,
			       pbcb_error ? pbcb_error : "");
			group_failed = 1;
		}
		arena_free(a);
	}
	end();

	begin("callback fields: Any value, mount options, request payload");
	struct arena *a = arena_new();
	containerd_task_v2_CreateTaskRequest *c = arena_alloc(a, sizeof(*c));
	PB_SETSTR(c->id, "c1");
	c->rootfs_count = 1;
	PB_SETSTR(c->rootfs[0].type, "overlay");
	pbstrlist_add(a, &c->rootfs[0].options, "ro", 2);
	pbstrlist_add(a, &c->rootfs[0].options, "lowerdir=/a:/b", 14);
	c->has_options = true;
	PB_SETSTR(c->options.type_url, "containerd.runc.v1.Options");
	static const uint8_t val[] = { 0x3a, 3, 'a', 'b', 'c' }; /* root = "abc" */
	c->options.value.ptr = val;
	c->options.value.len = sizeof(val);
	ttrpc_Request *req = arena_alloc(a, sizeof(*req));
	PB_SETSTR(req->service, "containerd.task.v2.Task");
	PB_SETSTR(req->method, "Create");
	CHECK(pb_encode_arena(a, containerd_task_v2_CreateTaskRequest_fields, c,
			      &req->payload) == 0);
	struct pbbytes wire;
	CHECK(pb_encode_arena(a, ttrpc_Request_fields, req, &wire) == 0);
	ttrpc_Request *r2 = arena_alloc(a, sizeof(*r2));
	CHECK(pb_decode_arena(a, wire.ptr, wire.len, ttrpc_Request_fields, r2) == 0);
	CHECK(strcmp(r2->method, "Create") == 0);
	containerd_task_v2_CreateTaskRequest *c2 = arena_alloc(a, sizeof(*c2));
	CHECK(pb_decode_arena(a, r2->payload.ptr, r2->payload.len,
			      containerd_task_v2_CreateTaskRequest_fields, c2) == 0);
	CHECK(c2->rootfs_count == 1 && c2->rootfs[0].options.n == 2);
	CHECK(c2->rootfs[0].options.head &&
	      strcmp(c2->rootfs[0].options.head->s, "ro") == 0 &&
	      strcmp(c2->rootfs[0].options.tail->s, "lowerdir=/a:/b") == 0);
	containerd_runc_v1_Options *o = arena_alloc(a, sizeof(*o));
	CHECK(c2->options.value.len == sizeof(val) &&
	      pb_decode_arena(a, c2->options.value.ptr, c2->options.value.len,
			      containerd_runc_v1_Options_fields, o) == 0 &&
	      strcmp(o->root, "abc") == 0);
	arena_free(a);
	end();

	begin("PidsResponse carries exec ids as ProcessDetails");
	a = arena_new();
	struct pbpid pids[2] = { { 10, NULL }, { 11, "exec1" } };
	containerd_task_v2_PidsResponse pr;
	memset(&pr, 0, sizeof(pr));
	pr.processes.v = pids;
	pr.processes.n = 2;
	struct pbbytes enc;
	CHECK(pb_encode_arena(a, containerd_task_v2_PidsResponse_fields, &pr, &enc) == 0);
	/* Walk it as a sequence of ProcessInfo messages by hand. */
	pb_istream_t is = pb_istream_from_buffer(enc.ptr, enc.len);
	int seen = 0;
	while (is.bytes_left) {
		pb_wire_type_t wt;
		uint32_t tag;
		bool eof;
		if (!pb_decode_tag(&is, &wt, &tag, &eof) || tag != 1)
			break;
		pb_istream_t sub;
		if (!pb_make_string_substream(&is, &sub))
			break;
		containerd_v1_types_ProcessInfo *pi = arena_alloc(a, sizeof(*pi));
		pbcb_arena = a;
		bool ok = pb_decode(&sub, containerd_v1_types_ProcessInfo_fields, pi);
		pb_close_string_substream(&is, &sub);
		if (!ok)
			break;
		if (seen == 0)
			CHECK(pi->pid == 10 && !pi->has_info);
		if (seen == 1) {
			CHECK(pi->pid == 11 && pi->has_info &&
			      strcmp(pi->info.type_url,
				     "containerd.runc.v1.ProcessDetails") == 0);
			containerd_runc_v1_ProcessDetails det;
			memset(&det, 0, sizeof(det));
			CHECK(pb_decode_arena(a, pi->info.value.ptr, pi->info.value.len,
					      containerd_runc_v1_ProcessDetails_fields,
					      &det) == 0 &&
			      strcmp(det.exec_id, "exec1") == 0);
		}
		seen++;
	}
	CHECK(seen == 2);
	arena_free(a);
	end();

	begin("undecodable and oversized input is an error, not a crash");
	a = arena_new();
	static const uint8_t bad1[] = { 0x0a, 0x7f, 'a' }; /* truncated string */
	ttrpc_Request *rq = arena_alloc(a, sizeof(*rq));
	CHECK(pb_decode_arena(a, bad1, sizeof(bad1), ttrpc_Request_fields, rq) < 0);
	uint8_t bad2[300];
	bad2[0] = 0x0a; /* service, 200 bytes: over its 128 bound */
	bad2[1] = 0xc8;
	bad2[2] = 0x01;
	memset(bad2 + 3, 'x', 200);
	CHECK(pb_decode_arena(a, bad2, 203, ttrpc_Request_fields, rq) < 0);
	static const uint8_t bad3[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	CHECK(pb_decode_arena(a, bad3, sizeof(bad3), ttrpc_Request_fields, rq) < 0);
	arena_free(a);
	end();
}

/* ------------------------------------------------------------------ json */
static void test_json(void)
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

/* ------------------------------------------------------------- mounts */

/* opts from a NULL-terminated list */
static struct pbstrlist mopts_of(struct arena *a, const char *const *v)
{
	struct pbstrlist l = { 0 };
	for (; *v; v++)
		pbstrlist_add(a, &l, *v, strlen(*v));
	return l;
}

/* a forked child can make a user namespace (not so under qemu-user, whose
 * threads make unshare(CLONE_NEWUSER) fail with EINVAL) */
static int userns_possible(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	int ws = -1;
	return pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* the loop device backed by file, from sysfs ("" if none) */
static void loop_of(const char *file, char *dev, size_t cap)
{
	dev[0] = 0;
	for (int i = 0; i < 256 && !dev[0]; i++) {
		char p[128], b[1024];
		snprintf(p, sizeof(p), "/sys/block/loop%d/loop/backing_file", i);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(b, sizeof(b), f)) {
			b[strcspn(b, "\n")] = 0;
			if (!strcmp(b, file))
				snprintf(dev, cap, "loop%d", i);
		}
		fclose(f);
	}
}

static void test_mount_kinds(void)
{
	begin("idmap lists, fuse helper argv");
	CHECK(idmap_valid("0:100000:65536"));
	CHECK(idmap_valid("0:1000:1,1:100000:65535"));
	CHECK(!idmap_valid("0:1"));
	CHECK(!idmap_valid("0:1:0"));
	CHECK(!idmap_valid("a:b:c"));
	CHECK(!idmap_valid("0:1:2,"));
	CHECK(!idmap_valid("0:1:2:3"));
	CHECK(!idmap_valid(""));
	CHECK(!idmap_valid("0:99999999999:1"));
	struct arena *a = arena_new();
	static const char *const fo[] = { "lowerdir=/l", "upperdir=/u", NULL };
	struct pbstrlist fl = mopts_of(a, fo);
	const char *argv[16];
	CHECK(mount_helper_argv("fuse3.fuse-overlayfs", "overlay", &fl, "/t", argv, 16) == 9);
	CHECK(!strcmp(argv[0], "mount.fuse3") && !strcmp(argv[1], "overlay") &&
	      !strcmp(argv[2], "/t") && !strcmp(argv[3], "-o") &&
	      !strcmp(argv[4], "lowerdir=/l") && !strcmp(argv[6], "upperdir=/u") &&
	      !strcmp(argv[7], "-t") && !strcmp(argv[8], "fuse-overlayfs") &&
	      argv[9] == NULL);
	CHECK(mount_helper_argv("fuse.sshfs", "h:/", &fl, "/t", argv, 16) == 9 &&
	      !strcmp(argv[0], "mount.fuse") && !strcmp(argv[8], "sshfs"));
	CHECK(mount_helper_argv("overlay", "overlay", &fl, "/t", argv, 16) == 0);
	CHECK(mount_helper_argv("fuse3.x", "s", &fl, "/t", argv, 4) == -E2BIG);
	static const char *const half[] = { "bind", "uidmap=0:1:1", NULL };
	struct pbstrlist hl = mopts_of(a, half);
	CHECK(mount_apply("none", "/", &hl, "/nonexistent-target") == -EINVAL);
	end();

	if (geteuid() != 0) {
		arena_free(a);
		return;
	}
	char base[] = "/tmp/shim-unit-mnt-XXXXXX";
	CHECK(mkdtemp(base) != NULL);
	char img[128], target[128], probe[192], dev[32];
	snprintf(target, sizeof(target), "%s/rootfs", base);
	mkdir(target, 0755);

	begin("loop: an ext4 image mounted read-only, the device detached at unmount");
	snprintf(img, sizeof(img), "%s/img.ext4", base);
	sh("mkdir -p %s/content/etc && echo hi >%s/content/etc/hello", base, base);
	if (sh("mkfs.ext4 -q -F -d %s/content %s 8M >/dev/null 2>&1", base, img) != 0) {
		printf("# skip loop: mkfs.ext4 failed\n");
	} else {
		static const char *const lo[] = { "loop", "ro", NULL };
		struct pbstrlist ll = mopts_of(a, lo);
		int r = mount_apply("ext4", img, &ll, target);
		CHECK(r == 0);
		snprintf(probe, sizeof(probe), "%s/etc/hello", target);
		CHECK(access(probe, R_OK) == 0);
		struct statvfs sv;
		CHECK(statvfs(target, &sv) == 0 && (sv.f_flag & ST_RDONLY));
		loop_of(img, dev, sizeof(dev));
		CHECK(dev[0] != 0);
		CHECK(mount_unmount_all(target) == 0);
		for (int i = 0; i < 200 && dev[0]; i++) {
			usleep(10000);
			loop_of(img, dev, sizeof(dev));
		}
		CHECK(dev[0] == 0); /* autoclear */
		/* a missing image is an error, and takes no device */
		snprintf(probe, sizeof(probe), "%s/missing.img", base);
		CHECK(mount_apply("ext4", probe, &ll, target) == -ENOENT);
	}
	end();

	begin("idmapped bind and overlay: root's files show as the mapped root");
	skip_if(syscall(428 /* open_tree: the same number on every architecture */, -1, "", 0) < 0 &&
			errno == ENOSYS,
		"no open_tree(2) here (kernel before 5.2, or qemu-user)");
	char lower[160], upper[160], work[160], opt[600];
	snprintf(lower, sizeof(lower), "%s/layers/1/fs", base);
	sh("mkdir -p %s/layers/1/fs %s/layers/2/fs %s/up %s/wk && touch %s/layers/1/fs/f "
	   "%s/layers/2/fs/g && chown 0:0 %s/layers/1/fs/f",
	   base, base, base, base, base, base, base);
	static const char *const bi[] = { "bind", "uidmap=0:100000:65536",
					   "gidmap=0:200000:65536", NULL };
	struct pbstrlist bl = mopts_of(a, bi);
	struct stat st;
	int r = mount_apply("none", lower, &bl, target);
	CHECK(r == 0);
	snprintf(probe, sizeof(probe), "%s/f", target);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000 && st.st_gid == 200000);
	CHECK(mount_unmount_all(target) == 0);
	CHECK(stat(probe, &st) < 0);

	snprintf(upper, sizeof(upper), "%s/up", base);
	snprintf(work, sizeof(work), "%s/wk", base);
	snprintf(opt, sizeof(opt), "lowerdir=%s/layers/2/fs:%s/layers/1/fs", base, base);
	char up[200], wk[200];
	snprintf(up, sizeof(up), "upperdir=%s", upper);
	snprintf(wk, sizeof(wk), "workdir=%s", work);
	const char *ov[] = { "index=off", opt, up, wk, "uidmap=0:100000:65536",
			     "gidmap=0:100000:65536", NULL };
	struct pbstrlist ol = mopts_of(a, ov);
	r = mount_apply("overlay", "overlay", &ol, target);
	CHECK(r == 0);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000);
	snprintf(probe, sizeof(probe), "%s/g", target);
	CHECK(stat(probe, &st) == 0);
	/* the idmapped lower tree was only a step: nothing left in base */
	CHECK(sh("ls -a %s | grep -q idmapped", base) != 0);
	CHECK(mount_unmount_all(target) == 0);
	/* lowerdirs whose common prefix is not a directory: ".../fs", ".../fsx" */
	sh("mkdir -p %s/layers/1/fsx && touch %s/layers/1/fsx/h", base, base);
	snprintf(opt, sizeof(opt), "lowerdir=%s/layers/1/fsx:%s/layers/1/fs", base, base);
	ov[1] = opt;
	ol = mopts_of(a, ov);
	CHECK(mount_apply("overlay", "overlay", &ol, target) == 0);
	snprintf(probe, sizeof(probe), "%s/h", target);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000);
	snprintf(probe, sizeof(probe), "%s/f", target);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000);
	CHECK(mount_unmount_all(target) == 0);
	end();

	begin("read-only bind in a user namespace keeps its locked flags");
	skip_if(!userns_possible(),
		"no user namespace here (disabled, or qemu-user: a threaded process)");
	char src[160];
	snprintf(src, sizeof(src), "%s/locked", base);
	mkdir(src, 0755);
	CHECK(mount("tmpfs", src, "tmpfs", MS_NODEV | MS_NOSUID | MS_NOEXEC, "size=64k") == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char m[64];
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			_exit(10);
		int fd = open("/proc/self/setgroups", O_WRONLY);
		if (fd >= 0 && (write(fd, "deny", 4) != 4 || close(fd) < 0))
			_exit(11);
		snprintf(m, sizeof(m), "0 0 1");
		fd = open("/proc/self/uid_map", O_WRONLY);
		if (fd < 0 || write(fd, m, strlen(m)) < 0)
			_exit(12);
		close(fd);
		fd = open("/proc/self/gid_map", O_WRONLY);
		if (fd < 0 || write(fd, m, strlen(m)) < 0)
			_exit(13);
		close(fd);
		static const char *const ro[] = { "bind", "ro", NULL };
		struct arena *ca = arena_new();
		struct pbstrlist rl = mopts_of(ca, ro);
		if (mount_apply("none", src, &rl, target) != 0)
			_exit(14);
		struct statvfs v;
		if (statvfs(target, &v) < 0 || !(v.f_flag & ST_RDONLY) ||
		    !(v.f_flag & ST_NODEV) || !(v.f_flag & ST_NOEXEC))
			_exit(15);
		_exit(0);
	}
	int ws = -1;
	CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		printf("# userns child: status %d\n", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	umount2(src, MNT_DETACH);
	end();

	sh("umount -R %s/rootfs 2>/dev/null; rm -rf %s", base, base);
	arena_free(a);
}

static void test_mount(void)
{
	begin("overlay lowerdir compaction");
	char data[8192], dir[256];
	snprintf(data, sizeof(data), "lowerdir=/a/b:/a/c,upperdir=/u");
	mount_compact_lowerdir(data, dir, sizeof(dir));
	CHECK(dir[0] == 0 && strcmp(data, "lowerdir=/a/b:/a/c,upperdir=/u") == 0);
	size_t n = (size_t)snprintf(data, sizeof(data), "index=off,lowerdir=");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(
			data + n, sizeof(data) - n,
			"%s/var/lib/containerd/"
			"io.containerd.snapshotter.v1.overlayfs/snapshots/%d/fs",
			i ? ":" : "", 1000 + i);
	snprintf(data + n, sizeof(data) - n, ",upperdir=/up,workdir=/wk");
	mount_compact_lowerdir(data, dir, sizeof(dir));
	CHECK(strcmp(dir, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/"
			  "snapshots/") == 0);
	CHECK(strncmp(data, "index=off,lowerdir=1000/fs:1001/fs:", 35) == 0);
	CHECK(strstr(data, ":1079/fs,upperdir=/up,workdir=/wk") != NULL);
	CHECK(strlen(data) < 4096 - 512);
	end();

	if (geteuid() != 0)
		return;
	begin("overlay with 70 long lowerdirs mounts (root)");
	char base[] = "/tmp/shim-unit-ovl-XXXXXX";
	CHECK(mkdtemp(base) != NULL);
	struct arena *a = arena_new();
	struct pbstrlist opts = { 0 };
	char *ld = arena_alloc(a, 16384);
	size_t l = (size_t)snprintf(ld, 16384, "lowerdir=");
	char path[512];
	for (int i = 0; i < 70; i++) {
		snprintf(path, sizeof(path),
			 "%s/a-rather-long-snapshot-directory-name-%03d", base, i);
		mkdir(path, 0755);
		if (i == 69) {
			char f[600];
			snprintf(f, sizeof(f), "%s/bottom", path);
			close(open(f, O_CREAT | O_WRONLY, 0644));
		}
		l += (size_t)snprintf(ld + l, 16384 - l, "%s%s", i ? ":" : "", path);
	}
	CHECK(l > 4096);
	pbstrlist_add(a, &opts, ld, l);
	char target[128], probe[160];
	snprintf(target, sizeof(target), "%s/rootfs", base);
	mkdir(target, 0755);
	char cwd[512];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	int r = mount_apply("overlay", "overlay", &opts, target);
	CHECK(r == 0);
	char now[512];
	CHECK(getcwd(now, sizeof(now)) != NULL && strcmp(cwd, now) == 0);
	snprintf(probe, sizeof(probe), "%s/bottom", target);
	CHECK(r != 0 || access(probe, F_OK) == 0);
	CHECK(mount_unmount_all(target) == 0);
	CHECK(access(probe, F_OK) != 0);
	for (int i = 0; i < 70; i++) {
		snprintf(path, sizeof(path),
			 "%s/a-rather-long-snapshot-directory-name-%03d", base, i);
		if (i == 69) {
			char f[600];
			snprintf(f, sizeof(f), "%s/bottom", path);
			unlink(f);
		}
		rmdir(path);
	}
	rmdir(target);
	rmdir(base);
	arena_free(a);
	end();
	test_mount_kinds();
}

/* --------------------------------------------------------- ttrpc server */
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

static int client_send(int fd, uint32_t stream, const char *svc, const char *meth,
		       const void *payload, size_t plen)
{
	struct arena *a = arena_new();
	ttrpc_Request *r = arena_alloc(a, sizeof(*r));
	PB_SETSTR(r->service, svc);
	PB_SETSTR(r->method, meth);
	r->payload.ptr = payload;
	r->payload.len = plen;
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

/* Run the loop until a response arrives on fd; returns its stream id. */
static int client_recv(int fd, int *code, char *msg, size_t msgcap, ttrpc_KeyValue *kv)
{
	uint8_t buf[8192];
	size_t have = 0;
	for (int i = 0; i < 200; i++) {
		loop_run_once(10);
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
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
				return (int)h.stream;
			}
		}
	}
	return -1;
}

static void test_server(void)
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
	CHECK(client_send(fd, 1, "test.Svc", "Park", "", 0) == 0);
	CHECK(client_send(fd, 3, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), &kv) == 3);
	CHECK(code == 0 && strcmp(kv.key, "k") == 0 && strcmp(kv.value, "v") == 0);
	CHECK(parked != NULL);
	if (parked)
		ttrpc_reply(parked, NULL, NULL);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 1 && code == 0);

	CHECK(client_send(fd, 5, "test.Nope", "Echo", "", 0) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 5);
	CHECK(code == 12 && strstr(msg, "service"));
	CHECK(client_send(fd, 7, "test.Svc", "Nope", "", 0) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 7);
	CHECK(code == 12 && strstr(msg, "method"));
	static const uint8_t junk[] = { 0x0a, 0x50, 'x' };
	CHECK(client_send(fd, 9, "test.Svc", "Echo", junk, sizeof(junk)) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 9 && code == 3);
	/* even and reused stream ids */
	CHECK(client_send(fd, 10, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 10 && code == 3);
	CHECK(client_send(fd, 9, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 9 && code == 3);
	/* an undecodable envelope */
	uint8_t hb[10 + 3];
	struct ttrpc_hdr h = { 3, 11, TTRPC_REQUEST, 0 };
	ttrpc_hdr_put(hb, &h);
	memcpy(hb + 10, junk, 3);
	CHECK(write(fd, hb, sizeof(hb)) == (ssize_t)sizeof(hb));
	CHECK(client_recv(fd, &code, msg, sizeof(msg), NULL) == 11 && code == 3);

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
	resp = client_recv(fd, &code, msg, sizeof(msg), NULL);
	CHECK(resp == 13 && code == 8);
	CHECK(client_send(fd, 15, "test.Svc", "Echo", pl, (size_t)pn) == 0);
	CHECK(client_recv(fd, &code, msg, sizeof(msg), &kv) == 15 && code == 0);

	/* a client that disconnects mid-request leaves nothing behind */
	CHECK(client_send(fd, 17, "test.Svc", "Park", "", 0) == 0);
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

/* ------------------------------------------------------------ copy engine */
static int loop_order[4], loop_order_n;
static void loop_order_cb(void *ctx)
{
	if (loop_order_n < 4)
		loop_order[loop_order_n++] = (int)(intptr_t)ctx;
}

static int copy_ended_n;
static void copy_ended_cb(void *ctx, int tag)
{
	copy_ended_n++;
}

/* Stream `total` bytes through a copy in `chunk`-sized writes, reading
 * `rchunk` at a time every `rskip`-th loop round; returns the bytes read
 * (all checked against the pattern) or -1. */
static long copy_stream(size_t total, size_t chunk, size_t rchunk, int rskip)
{
	int a[2], b[2];
	if (pipe2(a, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(b, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	int err;
	copy_ended_n = 0;
	struct copy *c =
		copy_start(a[0], b[1], copy_ended_cb, NULL, 1, COPY_GROW_SRC, &err);
	if (!c)
		return -1;
	static unsigned char wbuf[65536], rbuf[65536];
	size_t sent = 0, got = 0;
	long bad = 0;
	for (int round = 0; round < 2000000 && (got < total || !copy_ended_n); round++) {
		if (sent < total) {
			size_t k = total - sent < chunk ? total - sent : chunk;
			for (size_t i = 0; i < k; i++)
				wbuf[i] = (unsigned char)((sent + i) * 7 + 3);
			ssize_t w = write(a[1], wbuf, k);
			if (w > 0)
				sent += (size_t)w;
			if (sent == total)
				close(a[1]);
		}
		if (round % rskip == 0) {
			ssize_t r = read(b[0], rbuf, rchunk);
			for (ssize_t i = 0; i < r; i++)
				bad += rbuf[i] !=
				       (unsigned char)((got + (size_t)i) * 7 + 3);
			if (r > 0)
				got += (size_t)r;
		}
		loop_run_once(sent < total ? 0 : 1);
	}
	close(b[0]);
	return bad ? -1 : (long)got;
}

static void test_copy(void)
{
	begin("copy engine: small writes, slow and fast readers, all bytes in order");
	CHECK(copy_stream(8 << 20, 4096, 32768, 1) == 8 << 20 && copy_ended_n == 1);
	CHECK(copy_stream(4 << 20, 65536, 4096, 3) == 4 << 20 && copy_ended_n == 1);
	CHECK(copy_stream(100, 1, 100, 1) == 100 && copy_ended_n == 1);
	CHECK(copy_stream(3 << 20, 1 << 16, 1 << 16, 50) == 3 << 20 && copy_ended_n == 1);
	end();

	begin("copy engine: a reader that goes away; finish moves what is buffered");
	signal(SIGPIPE, SIG_IGN); /* as in the daemon */
	int a[2], b[2], err;
	CHECK(pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0 &&
	      pipe2(b, O_CLOEXEC | O_NONBLOCK) == 0);
	copy_ended_n = 0;
	struct copy *c = copy_start(a[0], b[1], copy_ended_cb, NULL, 0, 0, &err);
	CHECK(c != NULL);
	close(b[0]); /* EPIPE: the copy drains its source until EOF */
	static char junk[4096];
	for (int i = 0; i < 10; i++) {
		CHECK(write(a[1], junk, sizeof(junk)) == (ssize_t)sizeof(junk));
		loop_run_once(2);
	}
	close(a[1]);
	for (int i = 0; i < 50 && !copy_ended_n; i++)
		loop_run_once(2);
	CHECK(copy_ended_n == 1);
	CHECK(pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0 &&
	      pipe2(b, O_CLOEXEC | O_NONBLOCK) == 0);
	c = copy_start(a[0], b[1], copy_ended_cb, NULL, 0, 0, &err);
	CHECK(c && write(a[1], "hello", 5) == 5);
	copy_finish(c); /* no loop round: finish moves it */
	char got[8] = { 0 };
	CHECK(read(b[0], got, sizeof(got)) == 5 && memcmp(got, "hello", 5) == 0);
	CHECK(read(b[0], got, 1) == 0); /* both ends closed by the copy */
	close(a[1]);
	close(b[0]);
	end();

	begin("copy engine: at EOF a FIFO keeps its content until a late reader has it");
	char dir[] = "/tmp/copy-fifo.XXXXXX", fifo[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/out", dir);
	CHECK(mkfifo(fifo, 0600) == 0 && pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0);
	int w = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* as procio.c does */
	copy_ended_n = 0;
	c = copy_start(a[0], w, copy_ended_cb, NULL, 1, COPY_GROW_SRC, &err);
	static unsigned char pat[40000];
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i * 13 + 1);
	CHECK(c && write(a[1], pat, sizeof(pat)) == (ssize_t)sizeof(pat));
	uint64_t mark, given;
	copy_counts(c, &mark, &given);
	CHECK(mark == sizeof(pat) && given == 0); /* all in the source, none read */
	close(a[1]);
	for (int i = 0; i < 30; i++)
		loop_run_once(2);
	/* in the FIFO, nobody has read it: the copy has not ended */
	copy_counts(c, &mark, &given);
	CHECK(copy_ended_n == 0 && mark == sizeof(pat) && given == 0);
	int r = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	static unsigned char back[sizeof(pat) + 1];
	size_t n = 0;
	for (int i = 0; i < 200 && n < sizeof(pat); i++) {
		ssize_t k = read(r, back + n, sizeof(back) - n);
		if (k > 0)
			n += (size_t)k;
		loop_run_once(2);
	}
	CHECK(n == sizeof(pat) && memcmp(back, pat, n) == 0);
	for (int i = 0; i < 200 && !copy_ended_n; i++)
		loop_run_once(2);
	CHECK(copy_ended_n == 1);			      /* ended once emptied ... */
	CHECK(read(r, back, 1) == 0);			      /* ... with EOF for the reader */
	close(r);
	unlink(fifo);
	rmdir(dir);
	end();

	begin("copy engine: a grown FIFO nobody drains costs no CPU (no shrink retry spin)");
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(mkfifo(fifo, 0600) == 0 && pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0);
	w = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	r = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	c = copy_start(a[0], w, copy_ended_cb, NULL, 1, COPY_GROW_SRC, &err);
	/* stream fast enough for the pipes to grow to 1 MiB, then stop reading */
	static unsigned char blk[65536];
	for (int i = 0; i < 400; i++) {
		ssize_t k = write(a[1], blk, sizeof(blk));
		(void)k;
		while (read(r, back, sizeof(back)) > 0)
			;
		loop_run_once(0);
	}
	for (int i = 0; i < 40; i++) { /* fill: more than 64 KiB waits in the FIFO */
		ssize_t k = write(a[1], blk, sizeof(blk));
		(void)k;
		loop_run_once(1);
	}
	int waiting = 0;
	CHECK(ioctl(w, FIONREAD, &waiting) == 0 && waiting > 65536);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	int64_t until = loop_now_ns() + 2500000000LL; /* past the 1 s idle shrink */
	int wakeups = 0;
	while (loop_now_ns() < until)
		wakeups += loop_run_once(100) > 0;
	getrusage(RUSAGE_SELF, &ru1);
	long us = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000L +
		  (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
		  (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000L +
		  (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	printf("# 2.5 s with a full grown FIFO: %d wakeups, %ld us of CPU\n", wakeups, us);
	CHECK(wakeups < 20); /* the old retry fired thousands of times */
	copy_finish(c);
	close(a[1]);
	close(r);
	unlink(fifo);
	rmdir(dir);
	end();

	begin("loop deadlines: in order, moved, cancelled");
	loop_order_n = 0;
	struct loop_timer t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	int64_t now = loop_now_ns();
	loop_timer_set(&t1, now + 30000000, loop_order_cb, (void *)1);
	loop_timer_set(&t2, now + 10000000, loop_order_cb, (void *)2);
	loop_timer_set(&t3, now + 20000000, loop_order_cb, (void *)3);
	loop_timer_set(&t1, now + 5000000, loop_order_cb, (void *)1); /* moved first */
	loop_timer_cancel(&t3);
	loop_timer_cancel(&t3); /* twice: harmless */
	for (int i = 0; i < 50 && loop_order_n < 2; i++)
		loop_run_once(10);
	CHECK(loop_order_n == 2 && loop_order[0] == 1 && loop_order[1] == 2);
	CHECK(!t1.at && !t2.at && !t3.at);
	end();
}

/* ------------------------------------------------------------------- toml */
static void test_toml(void)
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

/* 1 if the mapping that holds addr has VmFlags flag, 0 if not, -1 if no
 * mapping of /proc/self/smaps holds it */
static int vma_flag(const void *addr, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, r = -1;
	unsigned long lo, hi, a = (unsigned long)addr;
	if (!f)
		return -1;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			char want[8];
			snprintf(want, sizeof(want), " %s", flag);
			r = 0;
			for (char *p = line + 8; (p = strstr(p, want)); p += strlen(want))
				if (p[strlen(want)] == ' ' || p[strlen(want)] == '\n')
					r = 1;
		}
	}
	fclose(f);
	return r;
}

static char pages_bss[1 << 17];

static void test_pages(void)
{
	begin("pages: our mappings and .bss are kept out of transparent huge pages");
	skip_if(access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0,
		"this kernel has no transparent huge pages");
	skip_if(getenv("QEMU_USER") != NULL, "qemu-user takes madvise advice without passing it on");
	size_t len = 4u << 20;
	char *p = pages_map(len, MAP_NORESERVE);
	CHECK(p != NULL);
	if (p) {
		p[0] = 1;
		p[len - 1] = 1;
		CHECK(p[1] == 0 && p[len / 2] == 0);
		CHECK(vma_flag(p, "nh") == 1);
		CHECK(vma_flag(p + len - 1, "nh") == 1);
		munmap(p, len);
	}
	/* a plain mapping does not have the flag: the check can tell */
	char *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q != MAP_FAILED);
	if (q != MAP_FAILED) {
		q[0] = 1;
		CHECK(vma_flag(q, "nh") == 0);
		munmap(q, len);
	}
	pages_init();
	pages_bss[sizeof(pages_bss) / 2] = 1;
	CHECK(vma_flag(pages_bss + sizeof(pages_bss) / 2, "nh") == 1);
	end();
}

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
	test_copy();
	test_toml();
	return check_summary();
}
