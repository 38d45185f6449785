/*
 * json.h - the few JSON reads the shim needs, on top of jsmn.
 *
 * Layer: base (README, "Architecture").
 *
 * All functions take the document as (pointer, length), write strings
 * unescaped and NUL-terminated into a caller buffer of `cap` bytes, and
 * return 0, -ENOENT when the item is absent, or another negative errno.
 * Token arrays are bounded; larger documents are counted first and the
 * tokens taken from the arena given.
 */
#ifndef JSON_H
#define JSON_H
#include <stddef.h>
#include "arena.h"

/* config.json: .annotations[key] */
int json_annotation(struct arena *a, const char *js, size_t len, const char *key,
		    char *out, size_t cap);
/* A top-level string member of an object. */
int json_top_string(struct arena *a, const char *js, size_t len, const char *key,
		    char *out, size_t cap);
/* runc's log.json: msg of the last line whose level is "error". */
int json_log_last_error(const char *js, size_t len, char *out, size_t cap);
/* `runc ps --format json`: an array of integers; returns the count. */
int json_int_array(struct arena *a, const char *js, size_t len, int *out, int max);
/* config.json: 1 if linux.namespaces has a pid namespace of its own (no
 * path), 0 if not, negative errno on a parse error. */
int json_own_pidns(struct arena *a, const char *js, size_t len);
/* Value of a hex digit, or -1 (JSON \u escapes, URL %XX escapes). */
int json_hex_digit(char c);
/* Escape s into out as a JSON string body (no quotes); returns length. */
size_t json_escape(const char *s, char *out, size_t cap);

#endif
