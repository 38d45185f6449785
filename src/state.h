/*
 * state.h - the daemon's state as a byte stream, for an upgrade in place
 * (upgrade.c): each module writes what it owns and reads it back in the
 * new binary.
 *
 * Layer: base (README, "Architecture").
 *
 * The stream is a sequence of fixed-width little-endian integers, byte
 * strings and fd numbers; each module's part begins with a tag that is
 * checked when read, so a stream from another format fails at the first
 * part it does not match.  Reading never trusts a length: a short or
 * malformed stream sets r->err and every later read returns zeros, so a
 * module reads on and checks once at its end.  An fd written with st_fd()
 * is one the new image must keep: the writer lists them, so that exactly
 * those lose their close-on-exec.
 *
 *   struct st_w w;  st_w_init(&w);
 *   st_tag(&w, "CONN"); st_u64(&w, n); st_fd(&w, fd); st_str(&w, s);
 *   ... st_w_free(&w);
 *   struct st_r r = { buf, len };
 *   if (!st_want(&r, "CONN")) ...; n = st_get(&r); s = st_get_str(&r);
 */
#ifndef STATE_H
#define STATE_H
#include <stddef.h>
#include <stdint.h>

/* The state's format: a new image reads only the format it was built for,
 * and another one is refused at the check, before anything changes.  ANY
 * change to what a module's *_save writes (a field added, removed, moved or
 * given another meaning) bumps it: two builds of one format must read each
 * other's state.  The unit tests pin the size of a known state for this
 * number (test_lifecycle: "state format"), so a change that forgets it
 * fails there. */
#ifndef STATE_FORMAT
#define STATE_FORMAT 2
#endif

#define ST_MAX_FDS 65536

struct st_w {
	uint8_t *buf;
	size_t len, cap;
	int *fds; /* the fds to keep across the execve */
	unsigned nfds, fds_cap;
	int err; /* -ENOMEM: the stream is incomplete */
};

struct st_r {
	const uint8_t *p;
	size_t left;
	const char *err; /* the first thing that did not fit, or NULL */
};

void st_w_init(struct st_w *w);
void st_w_free(struct st_w *w);
void st_u64(struct st_w *w, uint64_t v);
void st_bytes(struct st_w *w, const void *p, size_t n);
void st_str(struct st_w *w, const char *s); /* NULL writes "" */
void st_tag(struct st_w *w, const char tag[4]);
/* fd is written and listed for keeping (-1: none, not listed). */
void st_fd(struct st_w *w, int fd);

uint64_t st_get(struct st_r *r);
/* A value that must be <= max (else r->err is set and 0 returned). */
uint64_t st_get_max(struct st_r *r, uint64_t max, const char *what);
/* Bytes in the stream itself (NULL and *n 0 on error); strings are
 * NUL-terminated there. */
const void *st_get_bytes(struct st_r *r, size_t *n);
const char *st_get_str(struct st_r *r);
int st_get_fd(struct st_r *r);
/* 1 if the next part is `tag` (else r->err says what was found). */
int st_want(struct st_r *r, const char tag[4]);
/* Mark r failed with `why` (the first failure is kept). */
void st_fail(struct st_r *r, const char *why);

#endif
