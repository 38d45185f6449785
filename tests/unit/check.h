/*
 * check.h - the unit tests' tiny harness: checks grouped under a name, one
 * "ok NAME" line per group that passed, "FAIL NAME: file:line: expr" per
 * failed check, and a final "N passed, N failed" from check_summary().
 *
 *   begin("arena");
 *   CHECK(arena_new() != NULL);
 *   end();
 *   return check_summary();
 */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static int passed, failed, group_failed;
static const char *group;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			printf("FAIL %s: %s:%d: %s\n", group, __FILE__, __LINE__,        \
			       #cond);                                                   \
			group_failed = 1;                                                \
		}                                                                        \
	} while (0)

static inline void begin(const char *name)
{
	group = name;
	group_failed = 0;
}

static inline void end(void)
{
	if (group_failed) {
		failed++;
	} else {
		passed++;
		printf("ok %s\n", group);
	}
	fflush(stdout);
}

static inline int check_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif
