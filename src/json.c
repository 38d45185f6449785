/*
 * json.c - jsmn-based readers for config.json, log.json and runc output.
 *
 * Layer: base (README, "Architecture").
 */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#include "jsmn.h"

#define SMALL_TOKENS 64

/* Tokenize js into toks (from arena a when the stack array is too small). */
static int tokenize(struct arena *a, const char *js, size_t len, jsmntok_t *small,
		    jsmntok_t **toks)
{
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, js, len, small, SMALL_TOKENS);
	if (n >= 0) {
		*toks = small;
		return n;
	}
	if (n != JSMN_ERROR_NOMEM || !a)
		return -EINVAL;
	jsmn_init(&p);
	n = jsmn_parse(&p, js, len, NULL, 0);
	if (n < 0 || n > 1000000)
		return -EINVAL;
	*toks = arena_alloc(a, sizeof(jsmntok_t) * (size_t)n);
	if (!*toks)
		return -ENOMEM;
	jsmn_init(&p);
	return jsmn_parse(&p, js, len, *toks, (unsigned)n);
}

/* Index of the token after the subtree starting at i.  In jsmn a token's
 * size is its number of direct children (an object's keys, a key's value,
 * an array's elements), so counting them down walks the whole subtree. */
static int skip(const jsmntok_t *t, int n, int i)
{
	int pending = 1;
	while (pending > 0 && i < n) {
		pending += t[i].size - 1;
		i++;
	}
	return i;
}

static int tok_eq(const char *js, const jsmntok_t *t, const char *s)
{
	size_t n = strlen(s);
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
	       memcmp(js + t->start, s, n) == 0;
}

/* Member `key` of the object at token i, or -1. */
static int member(const char *js, const jsmntok_t *t, int n, int i, const char *key)
{
	if (i < 0 || i >= n || t[i].type != JSMN_OBJECT)
		return -1;
	int k = i + 1;
	for (int m = 0; m < t[i].size && k + 1 < n; m++) {
		if (tok_eq(js, &t[k], key))
			return k + 1;
		k = skip(t, n, k + 1);
	}
	return -1;
}

int json_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescape a JSON string token into out (\u escapes become UTF-8). */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	if (!cap)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		char enc[3];
		size_t el = 1;
		enc[0] = s[i];
		if (s[i] == '\\' && i + 1 < n) {
			char c = s[++i];
			switch (c) {
			case 'n': enc[0] = '\n'; break;
			case 't': enc[0] = '\t'; break;
			case 'r': enc[0] = '\r'; break;
			case 'b': enc[0] = '\b'; break;
			case 'f': enc[0] = '\f'; break;
			case 'u': {
				if (i + 4 >= n)
					return -EINVAL;
				unsigned cp = 0;
				for (int k = 1; k <= 4; k++) {
					int h = json_hex_digit(s[i + k]);
					if (h < 0)
						return -EINVAL;
					cp = cp << 4 | (unsigned)h;
				}
				i += 4;
				if (cp < 0x80) {
					enc[0] = (char)cp;
				} else if (cp < 0x800) {
					enc[0] = (char)(0xc0 | cp >> 6);
					enc[1] = (char)(0x80 | (cp & 0x3f));
					el = 2;
				} else {
					enc[0] = (char)(0xe0 | cp >> 12);
					enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					enc[2] = (char)(0x80 | (cp & 0x3f));
					el = 3;
				}
				break;
			}
			default: enc[0] = c; break;
			}
		}
		if (o + el >= cap)
			return -ENOSPC;
		memcpy(out + o, enc, el);
		o += el;
	}
	out[o] = 0;
	return 0;
}

static int tok_string(const char *js, const jsmntok_t *t, char *out, size_t cap)
{
	if (t->type != JSMN_STRING)
		return -EINVAL;
	return unescape(js + t->start, (size_t)(t->end - t->start), out, cap);
}

int json_annotation(struct arena *a, const char *js, size_t len, const char *key,
		    char *out, size_t cap)
{
	jsmntok_t small[SMALL_TOKENS], *t;
	int n = tokenize(a, js, len, small, &t);
	if (n < 0)
		return n;
	int ann = member(js, t, n, 0, "annotations");
	int v = member(js, t, n, ann, key);
	if (v < 0)
		return -ENOENT;
	return tok_string(js, &t[v], out, cap);
}

int json_top_string(struct arena *a, const char *js, size_t len, const char *key,
		    char *out, size_t cap)
{
	jsmntok_t small[SMALL_TOKENS], *t;
	int n = tokenize(a, js, len, small, &t);
	if (n < 0)
		return n;
	int v = member(js, t, n, 0, key);
	if (v < 0)
		return -ENOENT;
	return tok_string(js, &t[v], out, cap);
}

int json_own_pidns(struct arena *a, const char *js, size_t len)
{
	jsmntok_t small[SMALL_TOKENS], *t;
	int n = tokenize(a, js, len, small, &t);
	if (n < 0)
		return n;
	int linux_ = member(js, t, n, 0, "linux");
	int nss = member(js, t, n, linux_, "namespaces");
	if (nss < 0 || t[nss].type != JSMN_ARRAY)
		return 0;
	int k = nss + 1;
	for (int i = 0; i < t[nss].size && k < n; i++) {
		int type = member(js, t, n, k, "type");
		int path = member(js, t, n, k, "path");
		if (type > 0 && tok_eq(js, &t[type], "pid") &&
		    (path < 0 || t[path].end == t[path].start))
			return 1;
		k = skip(t, n, k);
	}
	return 0;
}

int json_log_last_error(const char *js, size_t len, char *out, size_t cap)
{
	int found = -ENOENT;
	size_t start = 0;
	while (start < len) {
		const char *nl = memchr(js + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - js) : len;
		jsmntok_t t[SMALL_TOKENS];
		jsmn_parser p;
		jsmn_init(&p);
		int n = jsmn_parse(&p, js + start, end - start, t, SMALL_TOKENS);
		const char *line = js + start;
		if (n > 0) {
			int lv = member(line, t, n, 0, "level");
			int mv = member(line, t, n, 0, "msg");
			if (lv > 0 && mv > 0 && tok_eq(line, &t[lv], "error") &&
			    tok_string(line, &t[mv], out, cap) == 0)
				found = 0;
		}
		start = end + 1;
	}
	return found;
}

int json_int_array(struct arena *a, const char *js, size_t len, int *out, int max)
{
	jsmntok_t small[SMALL_TOKENS], *t;
	int n = tokenize(a, js, len, small, &t);
	if (n < 0)
		return n;
	if (n == 0 || t[0].type != JSMN_ARRAY)
		return -EINVAL;
	int count = 0;
	for (int i = 1; i < n && count < max; i++) {
		if (t[i].type != JSMN_PRIMITIVE)
			return -EINVAL;
		char num[24];
		size_t l = (size_t)(t[i].end - t[i].start);
		if (l == 0 || l >= sizeof(num))
			return -EINVAL;
		memcpy(num, js + t[i].start, l);
		num[l] = 0;
		char *e;
		long v = strtol(num, &e, 10);
		if (*e || v < 0 || v > 0x7fffffff)
			return -EINVAL;
		out[count++] = (int)v;
	}
	return count;
}

size_t json_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (; *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (cap)
		out[o < cap ? o : cap - 1] = 0;
	return o;
}
