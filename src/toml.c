/*
 * toml.c - a flat TOML table reader (see toml.h); bounded, no allocation.
 *
 * Layer: base (README, "Architecture").
 */
#include "toml.h"

#include <errno.h>
#include <string.h>

#include "json.h"

static int at_end(const struct toml *t)
{
	return t->off >= t->n;
}

static void skip_blank(struct toml *t)
{
	while (!at_end(t) && (t->s[t->off] == ' ' || t->s[t->off] == '\t'))
		t->off++;
}

/* the rest of the line must be blank or a comment */
static int end_of_line(struct toml *t)
{
	skip_blank(t);
	if (!at_end(t) && t->s[t->off] == '#')
		while (!at_end(t) && t->s[t->off] != '\n')
			t->off++;
	if (!at_end(t) && t->s[t->off] == '\r')
		t->off++;
	if (at_end(t))
		return 0;
	if (t->s[t->off] != '\n')
		return -EINVAL;
	t->off++;
	t->line++;
	return 0;
}

static int put_utf8(char *buf, size_t cap, size_t *o, uint32_t cp)
{
	char u[4];
	size_t k;
	if (cp < 0x80) {
		u[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else if (cp < 0x110000) {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	} else {
		return -EINVAL;
	}
	if (*o + k >= cap)
		return -ENAMETOOLONG;
	memcpy(buf + *o, u, k);
	*o += k;
	return 0;
}

static int read_string(struct toml *t, char *buf, size_t cap)
{
	char q = t->s[t->off++];
	size_t o = 0;
	while (!at_end(t)) {
		char c = t->s[t->off++];
		if (c == q) {
			buf[o] = 0;
			return 0;
		}
		if (c == '\n')
			return -EINVAL; /* no multi-line strings */
		if (c == '\\' && q == '"') {
			if (at_end(t))
				return -EINVAL;
			char e = t->s[t->off++];
			const char *map = "b\bt\tn\nf\fr\r\"\"\\\\";
			/* strchr finds the terminator for a NUL byte: not an escape */
			const char *m = e ? strchr(map, e) : NULL;
			if (m && (m - map) % 2 == 0) {
				c = m[1];
			} else if (e == 'u' || e == 'U') {
				int digits = e == 'u' ? 4 : 8;
				uint32_t cp = 0;
				for (int i = 0; i < digits; i++) {
					int h = at_end(t)
							? -1
							: json_hex_digit(t->s[t->off++]);
					if (h < 0)
						return -EINVAL;
					cp = cp << 4 | (uint32_t)h;
				}
				int r = put_utf8(buf, cap, &o, cp);
				if (r < 0)
					return r;
				continue;
			} else {
				return -EINVAL;
			}
		}
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		buf[o++] = c;
	}
	return -EINVAL;
}

int toml_next(struct toml *t, struct toml_kv *kv, char *buf, size_t cap)
{
	for (;;) {
		skip_blank(t);
		if (at_end(t))
			return 0;
		char c = t->s[t->off];
		if (c == '#' || c == '\n' || c == '\r') {
			int r = end_of_line(t);
			if (r < 0)
				return r;
			continue;
		}
		break;
	}
	/* a bare key: A-Za-z0-9_- (quoted keys and tables are not taken) */
	size_t k = 0;
	while (!at_end(t)) {
		char c = t->s[t->off];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok)
			break;
		if (k + 1 >= sizeof(kv->key))
			return -EINVAL;
		kv->key[k++] = c;
		t->off++;
	}
	kv->key[k] = 0;
	skip_blank(t);
	if (!k || at_end(t) || t->s[t->off] != '=')
		return -EINVAL;
	t->off++;
	skip_blank(t);
	if (at_end(t))
		return -EINVAL;
	char c = t->s[t->off];
	if (c == '"' || c == '\'') {
		int r = read_string(t, buf, cap);
		if (r < 0)
			return r;
		kv->type = TOML_STRING;
		kv->str = buf;
	} else if (t->n - t->off >= 4 && !strncmp(t->s + t->off, "true", 4)) {
		kv->type = TOML_BOOL;
		kv->num = 1;
		t->off += 4;
	} else if (t->n - t->off >= 5 && !strncmp(t->s + t->off, "false", 5)) {
		kv->type = TOML_BOOL;
		kv->num = 0;
		t->off += 5;
	} else if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
		int neg = c == '-';
		if (c == '-' || c == '+')
			t->off++;
		int64_t v = 0;
		size_t digits = 0;
		while (!at_end(t) && ((t->s[t->off] >= '0' && t->s[t->off] <= '9') ||
				      t->s[t->off] == '_')) {
			if (t->s[t->off] != '_') {
				if (v > (INT64_MAX - 9) / 10)
					return -EINVAL;
				v = v * 10 + (t->s[t->off] - '0');
				digits++;
			}
			t->off++;
		}
		if (!digits)
			return -EINVAL;
		kv->type = TOML_INT;
		kv->num = neg ? -v : v;
	} else {
		return -EINVAL; /* arrays, inline tables, dates, floats */
	}
	int r = end_of_line(t);
	return r < 0 ? r : 1;
}
