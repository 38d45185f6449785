/*
 * unit_roundtrip.c - unit tests: every message through nanopb and back.
 */
#include "unit.h"

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

void test_roundtrip(void)
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
