/*
 * state.c - the state stream's writer and reader (see state.h).
 *
 * Layer: base (README, "Architecture").
 *
 * The writer grows one anonymous mapping: it runs once per upgrade, never
 * while serving, so it costs nothing idle.
 */
#include "cold.h"
#include "state.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

/* A new mapping and a copy, not mremap: sanitizers do not follow mremap,
 * and this runs once per upgrade. */
COLD static int grow(void **p, size_t *cap, size_t need, size_t unit)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 65536 / unit;
	while (n < need)
		n *= 2;
	void *m = mmap(NULL, n * unit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
#ifdef __SANITIZE_ADDRESS__
	/* (tests) the sanitizer does not see mmap: a range where a thread's
	 * stack was may still look poisoned to it */
	ASAN_UNPOISON_MEMORY_REGION(m, n * unit);
#endif
	if (*p) {
		memcpy(m, *p, *cap * unit);
		munmap(*p, *cap * unit);
	}
	*p = m;
	*cap = n;
	return 0;
}

COLD void st_w_init(struct st_w *w)
{
	memset(w, 0, sizeof(*w));
}

COLD void st_w_free(struct st_w *w)
{
	if (w->buf)
		munmap(w->buf, w->cap);
	if (w->fds)
		munmap(w->fds, w->fds_cap * sizeof(int));
	memset(w, 0, sizeof(*w));
}

COLD static void put(struct st_w *w, const void *p, size_t n)
{
	if (w->err || grow((void **)&w->buf, &w->cap, w->len + n, 1) < 0) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

COLD void st_u64(struct st_w *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, 8);
}

COLD void st_bytes(struct st_w *w, const void *p, size_t n)
{
	st_u64(w, n);
	put(w, p, n);
	put(w, "", 1);
}

COLD void st_str(struct st_w *w, const char *s)
{
	s = s ? s : "";
	st_bytes(w, s, strlen(s));
}

COLD void st_tag(struct st_w *w, const char tag[4])
{
	put(w, tag, 4);
}

COLD void st_fd(struct st_w *w, int fd)
{
	st_u64(w, (uint64_t)(int64_t)fd);
	if (fd < 0)
		return;
	size_t cap = w->fds_cap;
	if (w->nfds >= ST_MAX_FDS || grow((void **)&w->fds, &cap, w->nfds + 1, sizeof(int)) < 0) {
		w->err = -ENOMEM;
		return;
	}
	w->fds_cap = (unsigned)cap;
	w->fds[w->nfds++] = fd;
}

COLD void st_fail(struct st_r *r, const char *why)
{
	if (!r->err)
		r->err = why;
	r->left = 0;
}

COLD static const uint8_t *take(struct st_r *r, size_t n)
{
	if (r->err || r->left < n) {
		st_fail(r, "the state ends early");
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

COLD uint64_t st_get(struct st_r *r)
{
	const uint8_t *b = take(r, 8);
	uint64_t v = 0;
	for (int i = 0; b && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

COLD uint64_t st_get_max(struct st_r *r, uint64_t max, const char *what)
{
	uint64_t v = st_get(r);
	if (v > max) {
		st_fail(r, what);
		return 0;
	}
	return v;
}

COLD const void *st_get_bytes(struct st_r *r, size_t *n)
{
	uint64_t len = st_get(r);
	const uint8_t *p = len < r->left ? take(r, (size_t)len + 1) : NULL;
	if (!p || p[len] != 0) {
		st_fail(r, "a string does not fit");
		*n = 0;
		return NULL;
	}
	*n = (size_t)len;
	return p;
}

COLD const char *st_get_str(struct st_r *r)
{
	size_t n;
	const char *s = st_get_bytes(r, &n);
	if (s && strlen(s) != n) {
		st_fail(r, "a string holds a NUL");
		return "";
	}
	return s ? s : "";
}

COLD int st_get_fd(struct st_r *r)
{
	int64_t v = (int64_t)st_get(r);
	if (v < -1 || v > 0x7fffffff) {
		st_fail(r, "an fd is out of range");
		return -1;
	}
	return (int)v;
}

COLD int st_want(struct st_r *r, const char tag[4])
{
	const uint8_t *p = take(r, 4);
	if (!p || memcmp(p, tag, 4) != 0) {
		st_fail(r, "a part of the state is not where it should be");
		return 0;
	}
	return 1;
}
