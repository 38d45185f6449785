/*
 * pbcb.h - nanopb glue: the callbacks named in the proto .options files, and
 * encode/decode helpers that work in an arena.
 *
 * Layer: base (README, "Architecture").
 *
 * Callback fields decode into `pbcb_arena`, which pb_decode_arena sets for
 * the duration of one decode (the daemon is single-threaded).
 *
 *   T *m = arena_alloc(a, sizeof(*m));
 *   if (pb_decode_arena(a, buf, len, T_fields, m) < 0) ...
 *   struct pbbytes out;
 *   pb_encode_arena(a, T_fields, m, &out);
 */
#ifndef PBCB_H
#define PBCB_H
#include <pb.h>
#include <pb_encode.h>
#include "pbtypes.h"
#include "arena.h"

extern struct arena *pbcb_arena;
/* nanopb's message of the last failed decode or encode. */
extern const char *pbcb_error;

int pb_decode_arena(struct arena *a, const void *buf, size_t len,
		    const pb_msgdesc_t *fields, void *dst);
int pb_encode_arena(struct arena *a, const pb_msgdesc_t *fields, const void *src,
		    struct pbbytes *out);
/* Encode into a caller-provided buffer; returns the length or -1. */
long pb_encode_buf(void *buf, size_t cap, const pb_msgdesc_t *fields, const void *src);
/* Append a string to a repeated-string list (arena-allocated). */
int pbstrlist_add(struct arena *a, struct pbstrlist *l, const char *s, size_t n);
/* Bound a string copy into a fixed nanopb char array. */
#define PB_SETSTR(dst, src) pb_setstr((dst), sizeof(dst), (src))
void pb_setstr(char *dst, size_t cap, const char *src);

#endif
