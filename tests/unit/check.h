/*
 * check.h - the unit tests' tiny harness: checks grouped under a name, one
 * "ok NAME" line per group that passed, "FAIL NAME: file:line: expr" per
 * failed check, and a final "N passed, N failed" from check_summary().
 * skip_if(cond, why) in a group whose feature this host lacks (qemu-user
 * has no open_tree, say): its checks are not counted, and it prints
 * "skip NAME: why".
 *
 * The file with main() defines CHECK_MAIN before including it.
 *
 *   begin("arena");
 *   CHECK(arena_new() != NULL);
 *   end();
 *   return check_summary();
 */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

/* One set of counters per binary, defined where CHECK_MAIN is (the file
 * with main()); a binary of several files shares them. */
#ifdef CHECK_MAIN
int passed, failed, skipped, group_failed, group_skipped;
const char *group, *skip_why = "";
#else
extern int passed, failed, skipped, group_failed, group_skipped;
extern const char *group, *skip_why;
#endif

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!group_skipped && !(cond)) {                                         \
			printf("FAIL %s: %s:%d: %s\n", group, __FILE__, __LINE__,        \
			       #cond);                                                   \
			group_failed = 1;                                                \
		}                                                                        \
	} while (0)

static inline void begin(const char *name)
{
	group = name;
	group_failed = 0;
	group_skipped = 0;
}

static inline void skip_if(int cond, const char *why)
{
	if (cond) {
		group_skipped = 1;
		skip_why = why;
	}
}

static inline void end(void)
{
	if (group_skipped) {
		skipped++;
		printf("skip %s: %s\n", group, skip_why);
	} else if (group_failed) {
		failed++;
	} else {
		passed++;
		printf("ok %s\n", group);
	}
	fflush(stdout);
}

static inline int check_summary(void)
{
	if (skipped)
		printf("# %d skipped\n", skipped);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif
