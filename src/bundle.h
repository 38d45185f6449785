/*
 * bundle.h - files the shim writes into a bundle (`address`, and
 * `options.json` and `runtime` for `shim delete`), each written to a
 * temporary name and renamed, so a reader never sees half of one.
 *
 * Layer: runtime (README, "Architecture").
 *
 *   bundle_write(".", "address", addr, strlen(addr), 0666);
 */
#ifndef BUNDLE_H
#define BUNDLE_H
#include <stddef.h>
#include <sys/types.h>

/* 0, or a negative errno. */
int bundle_write(const char *dir, const char *name, const char *data, size_t len,
		 mode_t mode);

#endif
