/*
 * toml.h - the little of TOML that a flat options table needs: `key =
 * value` lines with basic ("...") or literal ('...') strings, booleans and
 * integers; comments and blank lines are skipped.  Enough for CRI's
 * runtime options (runtimeoptions.v1.Options.config_body).
 *
 * Layer: base (README, "Architecture").
 *
 *   struct toml t = { body, len };
 *   struct toml_kv kv;
 *   while ((r = toml_next(&t, &kv, buf, sizeof(buf))) > 0) ...
 */
#ifndef TOML_H
#define TOML_H
#include <stddef.h>
#include <stdint.h>

struct toml {
	const char *s;
	size_t n, off;
	unsigned line;
};

enum toml_type { TOML_STRING, TOML_BOOL, TOML_INT };

struct toml_kv {
	char key[64];
	enum toml_type type;
	const char *str; /* TOML_STRING: decoded into the caller's buffer */
	int64_t num;	 /* TOML_BOOL (0/1), TOML_INT */
};

/* 1 and the next pair, 0 at the end, -EINVAL (t->line says where) for
 * what this reader does not take: tables, arrays, dates, bad escapes. */
int toml_next(struct toml *t, struct toml_kv *kv, char *buf, size_t cap);

#endif
