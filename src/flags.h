/*
 * flags.h - the shim's command line, parsed with Go `flag` semantics
 * (`-x v`, `-x=v`, `--x`, bools as `-x` or `-x=true`; parsing stops at the
 * first non-flag argument, which is the action).
 *
 * Layer: face (README, "Architecture").
 */
#ifndef FLAGS_H
#define FLAGS_H

struct shim_flags {
	const char *namespace;
	const char *id;
	const char *address;
	const char *publish_binary;
	const char *bundle;
	const char *socket;
	const char *debug_socket;
	int debug;
	int version;
	int info;
	int dry_run;		   /* upgrade: only check */
	const char *upgrade_path;  /* upgrade: the shims of this binary (NULL: ours) */
	int upgrade_check;	   /* check an upgrade's state on stdin (upgrade.c) */
	const char *upgrade_state; /* the daemon again, from this state fd */
	const char *action; /* "", "start", "delete", ... */
	char error[160];    /* set when parsing fails */
};

/* Returns 0, or -1 with f->error set. */
int flags_parse(struct shim_flags *f, int argc, char **argv);

#endif
