/*
 * strblock.h - the strings a container or process keeps (paths, ids),
 * packed into small blocks of a shared, lazily touched region instead of
 * fixed arrays or a page each: a container's dozen paths cost what they
 * take, rounded to 1 KiB.
 *
 * Layer: base (README, "Architecture").
 *
 *   struct strblock b = { 0 };
 *   const char *p = strblock_add(&b, 2048, "/run/...");  // NULL: too long
 *   strblock_free(&b);                                   // all of them
 *
 * A string never moves: a block that fills is followed by another.
 */
#ifndef STRBLOCK_H
#define STRBLOCK_H
#include <stddef.h>

struct sblk;
struct strblock {
	struct sblk *head;
};

/* Copy s (at most 16 KiB) into b; "" needs no room.  `first` is the size
 * of b's first block (1, 2 or 4 KiB). */
const char *strblock_add(struct strblock *b, size_t first, const char *s);
void strblock_free(struct strblock *b);

#endif
