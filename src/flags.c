/*
 * flags.c - Go-style flag parsing.
 *
 * Layer: face (README, "Architecture").
 */
#include "flags.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct spec {
	const char *name;
	int is_bool;
	size_t off; /* into struct shim_flags */
};

#define S(n, b, field)                                                                   \
	{                                                                                \
		n, b, offsetof(struct shim_flags, field)                                 \
	}
static const struct spec specs[] = {
	S("namespace", 0, namespace),
	S("id", 0, id),
	S("address", 0, address),
	S("publish-binary", 0, publish_binary),
	S("bundle", 0, bundle),
	S("socket", 0, socket),
	S("debug-socket", 0, debug_socket),
	S("debug", 1, debug),
	S("v", 1, version),
	S("version", 1, version),
	S("info", 1, info),
	S("dry-run", 1, dry_run),
	S("upgrade-check", 1, upgrade_check),
	S("upgrade-state", 0, upgrade_state),
};

static int parse_bool(const char *v, int *out)
{
	static const char *t[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *f[] = { "0", "f", "F", "false", "FALSE", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, t[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(v, f[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int flags_parse(struct shim_flags *f, int argc, char **argv)
{
	memset(f, 0, sizeof(*f));
	f->namespace = f->id = f->address = f->publish_binary = "";
	f->bundle = f->socket = f->debug_socket = f->upgrade_state = "";
	f->action = "";
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0)
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		const char *name = a + 1;
		if (*name == '-')
			name++;
		if (*name == '-' || *name == '=') {
			snprintf(f->error, sizeof(f->error), "bad flag syntax: %.60s", a);
			return -1;
		}
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		const struct spec *s = NULL;
		for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++)
			if (strlen(specs[k].name) == nl &&
			    strncmp(specs[k].name, name, nl) == 0)
				s = &specs[k];
		if (!s) {
			snprintf(f->error, sizeof(f->error),
				 "flag provided but not defined: -%.*s",
				 (int)(nl > 60 ? 60 : nl), name);
			return -1;
		}
		char *field = (char *)f + s->off;
		if (s->is_bool) {
			int v = 1;
			if (eq && parse_bool(eq + 1, &v) < 0) {
				snprintf(f->error, sizeof(f->error),
					 "invalid boolean value %.40s for -%s", eq + 1,
					 s->name);
				return -1;
			}
			*(int *)field = v;
			continue;
		}
		const char *v;
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			snprintf(f->error, sizeof(f->error),
				 "flag needs an argument: -%s", s->name);
			return -1;
		}
		*(const char **)field = v;
	}
	if (i < argc)
		f->action = argv[i];
	/* `upgrade [-dry-run] [PATH]`: the command's own words after it */
	for (int k = i + 1; k < argc && strcmp(f->action, "upgrade") == 0; k++) {
		if (strcmp(argv[k], "-dry-run") == 0 || strcmp(argv[k], "--dry-run") == 0)
			f->dry_run = 1;
		else if (argv[k][0] != '-' && !f->upgrade_path)
			f->upgrade_path = argv[k];
		else {
			snprintf(f->error, sizeof(f->error), "upgrade: unknown argument %.60s",
				 argv[k]);
			return -1;
		}
	}
	return 0;
}
