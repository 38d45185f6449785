/*
 * fuzz_input.c - libFuzzer target for everything the shim parses from
 * outside: ttrpc frames (split at a fuzzer-chosen point), the Request
 * envelope, every task request message, and the JSON readers.
 *
 *   make fuzz            # FUZZ_SECONDS=60 by default
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "containerd_runc_v1_options.pb.h"
#include "containerd_runtime_bootstrap_v1.pb.h"
#include "containerd_task_v2.pb.h"
#include "json.h"
#include "pbcb.h"
#include "runtimeoptions_v1.pb.h"
#include "options.h"
#include "toml.h"
#include "ttrpc.h"
#include "ttrpc.pb.h"

struct msg {
	const pb_msgdesc_t *desc;
	size_t size;
};
#define M(T)                                                                             \
	{                                                                                \
		&T##_msg, sizeof(T)                                                      \
	}
static const struct msg msgs[] = {
	M(containerd_task_v2_CreateTaskRequest),
	M(containerd_task_v2_StartRequest),
	M(containerd_task_v2_DeleteRequest),
	M(containerd_task_v2_ExecProcessRequest),
	M(containerd_task_v2_ResizePtyRequest),
	M(containerd_task_v2_StateRequest),
	M(containerd_task_v2_KillRequest),
	M(containerd_task_v2_CloseIORequest),
	M(containerd_task_v2_PidsRequest),
	M(containerd_task_v2_CheckpointTaskRequest),
	M(containerd_task_v2_UpdateTaskRequest),
	M(containerd_task_v2_WaitRequest),
	M(containerd_task_v2_StatsRequest),
	M(containerd_task_v2_ConnectRequest),
	M(containerd_task_v2_ShutdownRequest),
	M(containerd_task_v2_PauseRequest),
	M(containerd_runc_v1_Options),
	M(runtimeoptions_v1_Options),
	M(containerd_runc_v1_CheckpointOptions),
	M(containerd_runtime_bootstrap_v1_BootstrapParams),
	M(ttrpc_Response),
};

static int on_frame(void *ctx, const struct ttrpc_hdr *h, struct arena *a,
		    uint8_t *payload)
{
	(void)ctx;
	if (!payload)
		return 0;
	ttrpc_Request *req = arena_alloc(a, sizeof(*req));
	if (req && pb_decode_arena(a, payload, h->len, ttrpc_Request_fields, req) == 0) {
		const struct msg *m =
			&msgs[(h->stream >> 1) % (sizeof(msgs) / sizeof(msgs[0]))];
		void *dst = arena_alloc(a, m->size);
		if (dst)
			pb_decode_arena(a, req->payload.ptr, req->payload.len, m->desc,
					dst);
	}
	arena_free(a);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = data[0] % (size);
	struct ttrpc_dec d;
	memset(&d, 0, sizeof(d));
	ttrpc_dec_feed(&d, data + 1, cut ? cut - 1 : 0, on_frame, NULL);
	ttrpc_dec_feed(&d, data + (cut ? cut : 1), size - (cut ? cut : 1), on_frame,
		       NULL);
	ttrpc_dec_reset(&d);

	/* the same bytes as JSON documents */
	struct arena *a = arena_new();
	char out[256];
	int ints[64];
	json_annotation(a, (const char *)data, size, "io.containerd.runc.v2.group", out,
			sizeof(out));
	json_top_string(a, (const char *)data, size, "root", out, sizeof(out));
	json_log_last_error((const char *)data, size, out, sizeof(out));
	json_int_array(a, (const char *)data, size, ints, 64);
	json_own_pidns(a, (const char *)data, size);
	struct toml t = { (const char *)data, size, 0, 1 };
	struct toml_kv kv;
	char tb[256];
	for (int i = 0; i < 64 && toml_next(&t, &kv, tb, sizeof(tb)) > 0; i++)
		;
	/* and as the payload of each options type Create takes */
	static const char *const urls[] = { "containerd.runc.v1.Options",
					     "runtimeoptions.v1.Options", "other" };
	for (size_t i = 0; i < 3; i++) {
		google_protobuf_Any any;
		memset(&any, 0, sizeof(any));
		snprintf(any.type_url, sizeof(any.type_url), "%s", urls[i]);
		any.value.ptr = data;
		any.value.len = size;
		containerd_runc_v1_Options *opt;
		const char *why;
		options_decode(a, &any, &opt, &why);
	}
	arena_free(a);
	if (arena_in_use() != 0)
		__builtin_trap(); /* an arena leaked */
	return 0;
}
