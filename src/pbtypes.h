/*
 * pbtypes.h - storage types for the callback fields of the generated messages
 * (included by every generated .pb.h through the `include` option).
 *
 * Layer: base (README, "Architecture").
 *
 * Besides the standard headers nanopb needs, it declares the storage types
 * that the .options files give to callback fields: those fields have no
 * sensible bound (an Any payload, a mount's option list), so they are
 * decoded into the arena of the request being served instead of into a
 * fixed-size array.  pbcb.c implements the callbacks.
 */
#ifndef PBTYPES_H
#define PBTYPES_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <limits.h>

/* A byte string in an arena (or in static storage when encoding). */
struct pbbytes {
	const uint8_t *ptr;
	size_t len;
};

/* A repeated string field, kept as a singly linked list in an arena. */
struct pbstr {
	struct pbstr *next;
	size_t len;
	char s[];
};
struct pbstrlist {
	struct pbstr *head, *tail;
	unsigned n;
};

/* PidsResponse.processes: encoded from an array, never decoded by us. */
struct pbpid {
	uint32_t pid;
	const char *exec_id; /* NULL unless the pid is an exec's */
};
struct pbpidlist {
	const struct pbpid *v;
	unsigned n;
};

#endif
