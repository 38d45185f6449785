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

/* the linker's bounds of .bss, and of .text.cold (src/cold.ld; weak: the
 * unit tests link without it, and have none) */
extern char __bss_start[], _end[];
extern const char __cold_start[] __attribute__((weak));
extern const char __cold_end[] __attribute__((weak));

static uintptr_t stack_top; /* near the top of the main thread's stack */

void pages_init(void)
{
	char here;
	stack_top = (uintptr_t)&here;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)__bss_start + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)_end + page - 1) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_NOHUGEPAGE);
}

void pages_cold_release(void)
{
	if (!__cold_start || !__cold_end)
		return;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	/* the whole pages only: the first and last are shared with hot code */
	uintptr_t lo = ((uintptr_t)__cold_start + page - 1) & ~(page - 1);
	uintptr_t hi = (uintptr_t)__cold_end & ~(page - 1);
	if (hi <= lo)
		return;
	/* any advice that changes the flags splits the mapping there; this
	 * one also reads a missing page alone, not with its neighbours */
	if (madvise((void *)lo, hi - lo, MADV_RANDOM) == 0)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
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

void pages_release_head(void *table, size_t used, size_t size)
{
	/* the whole pages the used stretch touched: the table is page-aligned
	 * (pages.h), so the rest of its last page is the table's too */
	size_t len = (used + 4095) & ~(size_t)4095;
	pages_release(table, len < size ? len : size);
}

void pages_release(void *p, size_t len)
{
	uintptr_t page = 4096;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Below the frame that calls this, nothing is in use: the daemon has no
 * signal handlers (a signalfd) and one thread.  The pages a deep call left
 * there (a 4 KiB read buffer, a formatted log line) go back; a margin under
 * the caller's frame stays. */
__attribute__((noinline)) void pages_trim_stack(void)
{
	char here;
	uintptr_t page = 4096, sp = (uintptr_t)&here;
	if (!stack_top || sp > stack_top)
		return;
	uintptr_t hi = (sp - 2048) & ~(page - 1);
	/* the stack's lowest page in use so far: what the kernel mapped is at
	 * most RLIMIT_STACK below its top, but only a few pages ever are */
	uintptr_t lo = hi > 256 * 1024 ? hi - 256 * 1024 : 0;
	/* madvise gives back what is mapped in the range, ENOMEM for the rest */
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
