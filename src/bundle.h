/*
 * bundle.h - files the shim writes into a bundle (`address`, and
 * `options.json` and `runtime` for `shim delete`, and the exit journal).
 * The first three are written to a temporary name and renamed, so a
 * reader never sees half of one; the journal is one line written in
 * place, which its reader checks whole.
 *
 * Layer: runtime (README, "Architecture").
 *
 *   bundle_write(".", "address", addr, strlen(addr), 0666);
 */
#ifndef BUNDLE_H
#define BUNDLE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 0, or a negative errno. */
int bundle_write(const char *dir, const char *name, const char *data, size_t len,
		 mode_t mode);

/*
 * The exit journal: the init's exit, written into its bundle (`exit`) as
 * soon as it is reaped, before it is reported.  If the shim dies before
 * containerd has heard of that exit, containerd runs `shim delete`, which
 * reports the exit from here (status, time, pid) instead of the 137 a
 * killed shim's delete would say.
 */
struct bundle_exit {
	char id[128];
	int pid;
	int status;
	int64_t sec;
	int32_t nsec;
};
int bundle_exit_write(const char *dir, const struct bundle_exit *e);
/* 0 if dir holds a well-formed journal for container id. */
int bundle_exit_read(const char *dir, const char *id, struct bundle_exit *e);

#endif
