/*
 * unit_pages.c - unit tests: the pages helper: what is mapped, and how it is advised.
 */
#include "unit.h"

/* 1 if the mapping that holds addr has VmFlags flag, 0 if not, -1 if no
 * mapping of /proc/self/smaps holds it */
static int vma_flag(const void *addr, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, r = -1;
	unsigned long lo, hi, a = (unsigned long)addr;
	if (!f)
		return -1;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			char want[8];
			snprintf(want, sizeof(want), " %s", flag);
			r = 0;
			for (char *p = line + 8; (p = strstr(p, want)); p += strlen(want))
				if (p[strlen(want)] == ' ' || p[strlen(want)] == '\n')
					r = 1;
		}
	}
	fclose(f);
	return r;
}

static char pages_bss[1 << 17];

void test_pages(void)
{
	begin("pages: our mappings and .bss are kept out of transparent huge pages");
	skip_if(access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0,
		"this kernel has no transparent huge pages");
	skip_if(getenv("QEMU_USER") != NULL,
		"qemu-user takes madvise advice without passing it on");
	size_t len = 4u << 20;
	char *p = pages_map(len, MAP_NORESERVE);
	CHECK(p != NULL);
	if (p) {
		p[0] = 1;
		p[len - 1] = 1;
		CHECK(p[1] == 0 && p[len / 2] == 0);
		CHECK(vma_flag(p, "nh") == 1);
		CHECK(vma_flag(p + len - 1, "nh") == 1);
		munmap(p, len);
	}
	/* a plain mapping does not have the flag: the check can tell */
	char *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	CHECK(q != MAP_FAILED);
	if (q != MAP_FAILED) {
		q[0] = 1;
		CHECK(vma_flag(q, "nh") == 0);
		munmap(q, len);
	}
	pages_init();
	pages_bss[sizeof(pages_bss) / 2] = 1;
	CHECK(vma_flag(pages_bss + sizeof(pages_bss) / 2, "nh") == 1);
	end();
}
