/*
 * options.c - a container's runtime options, from the Any containerd
 * passes to Create (and to `start` on its stdin).
 *
 * Layer: base (README, "Architecture").
 */
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pbcb.h"
#include "runtimeoptions_v1.pb.h"
#include "toml.h"

#define TOML_FILE_MAX (64 * 1024)

/* Copy a TOML string into a fixed options field, refusing truncation. */
#define TOML_SET(dst, kv)                                                                \
	(strlen((kv)->str) < sizeof(dst) ? (PB_SETSTR(dst, (kv)->str), 0) : -1)

/*
 * CRI's options for runtime types other than io.containerd.runc.v2: the
 * handler's options table as TOML.  The keys runc's Options has are taken
 * (as containerd would name them in the table); anything else is an error
 * that names the key, never silently dropped.
 */
static int options_from_toml(struct arena *a, const char *text, size_t len,
			     containerd_runc_v1_Options *opt, const char **why)
{
	struct toml t = { text, len, 0, 1 };
	struct toml_kv kv;
	char *buf = arena_alloc(a, 4096);
	int r;
	if (!buf)
		return -ENOMEM;
	while ((r = toml_next(&t, &kv, buf, 4096)) > 0) {
		int bad = 0;
		const int s = kv.type == TOML_STRING, b = kv.type == TOML_BOOL,
			  n = kv.type == TOML_INT;
		if (!strcmp(kv.key, "BinaryName") && s)
			bad = TOML_SET(opt->binary_name, &kv);
		else if (!strcmp(kv.key, "Root") && s)
			bad = TOML_SET(opt->root, &kv);
		else if (!strcmp(kv.key, "ShimCgroup") && s)
			bad = TOML_SET(opt->shim_cgroup, &kv);
		else if (!strcmp(kv.key, "CriuPath") && s)
			bad = TOML_SET(opt->criu_path, &kv);
		else if (!strcmp(kv.key, "CriuImagePath") && s)
			bad = TOML_SET(opt->criu_image_path, &kv);
		else if (!strcmp(kv.key, "CriuWorkPath") && s)
			bad = TOML_SET(opt->criu_work_path, &kv);
		else if (!strcmp(kv.key, "SystemdCgroup") && b)
			opt->systemd_cgroup = kv.num;
		else if (!strcmp(kv.key, "NoPivotRoot") && b)
			opt->no_pivot_root = kv.num;
		else if (!strcmp(kv.key, "NoNewKeyring") && b)
			opt->no_new_keyring = kv.num;
		else if (!strcmp(kv.key, "IoUid") && n && kv.num >= 0 &&
			 kv.num <= UINT32_MAX)
			opt->io_uid = (uint32_t)kv.num;
		else if (!strcmp(kv.key, "IoGid") && n && kv.num >= 0 &&
			 kv.num <= UINT32_MAX)
			opt->io_gid = (uint32_t)kv.num;
		else
			bad = 1;
		if (bad) {
			*why = arena_printf(a,
					    "runtime options: %s is not a runc option "
					    "of that type",
					    kv.key);
			return -EINVAL;
		}
	}
	if (r < 0)
		*why = arena_printf(a,
				    "runtime options: line %u is not a TOML key = value "
				    "this shim reads",
				    t.line);
	return r;
}

/* The TOML of a runtimeoptions.v1.Options: its body, else its file. */
static int runtimeoptions_toml(struct arena *a, const runtimeoptions_v1_Options *ro,
			       containerd_runc_v1_Options *opt, const char **why)
{
	if (ro->config_body.len || !ro->config_path[0])
		return options_from_toml(a, (const char *)ro->config_body.ptr,
					 ro->config_body.len, opt, why);
	char *text = arena_alloc(a, TOML_FILE_MAX);
	int fd = text ? open(ro->config_path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = fd < 0 ? -1 : read(fd, text, TOML_FILE_MAX);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0 || n == TOML_FILE_MAX) {
		*why = arena_printf(a, "runtime options file %.200s: %s", ro->config_path,
				    n < 0 ? strerror(e) : "too large");
		return n < 0 ? -e : -EFBIG;
	}
	return options_from_toml(a, text, (size_t)n, opt, why);
}

int options_decode(struct arena *a, const google_protobuf_Any *any,
		   containerd_runc_v1_Options **out, const char **why)
{
	*out = NULL;
	const char *url = any->type_url;
	const char *slash = strrchr(url, '/');
	if (slash)
		url = slash + 1;
	if (strcmp(url, "containerd.runc.v1.Options") == 0) {
		if (!any->value.len)
			return 0;
		containerd_runc_v1_Options *opt = arena_alloc(a, sizeof(*opt));
		if (!opt || pb_decode_arena(a, any->value.ptr, any->value.len,
					    containerd_runc_v1_Options_fields, opt) < 0) {
			*why = "runtime options: containerd.runc.v1.Options does not "
			       "decode";
			return -EINVAL;
		}
		*out = opt;
		return 0;
	}
	if (strcmp(url, "runtimeoptions.v1.Options") == 0) {
		runtimeoptions_v1_Options *ro = arena_alloc(a, sizeof(*ro));
		containerd_runc_v1_Options *opt = arena_alloc(a, sizeof(*opt));
		if (!ro || !opt ||
		    pb_decode_arena(a, any->value.ptr, any->value.len,
				    runtimeoptions_v1_Options_fields, ro) < 0) {
			*why = "runtime options: runtimeoptions.v1.Options does not "
			       "decode";
			return -EINVAL;
		}
		memset(opt, 0, sizeof(*opt));
		int r = runtimeoptions_toml(a, ro, opt, why);
		if (r < 0)
			return r;
		*out = opt;
		return 0;
	}
	if (any->value.len || any->type_url[0]) {
		*why = arena_printf(a, "runtime options of type %.200s: not runc's",
				    any->type_url);
		return -EPROTONOSUPPORT;
	}
	return 0;
}
