/*
 * pages.c - anonymous mappings without transparent huge pages (pages.h).
 *
 * Layer: base (README, "Architecture").
 *
 * The advice is best effort: a kernel without THP refuses it (EINVAL) and
 * has nothing to keep away.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pages.h"

/* the linker's bounds of .bss */
extern char __bss_start[], _end[];

void pages_init(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)__bss_start + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)_end + page - 1) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_NOHUGEPAGE);
}

void *pages_map(size_t len, int flags)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	madvise(m, len, MADV_NOHUGEPAGE);
	return m;
}

void pages_release(void *p, size_t len)
{
	uintptr_t page = 4096;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
