/*
 * touch_mem N [READY_FILE]: allocate and touch N MiB, then (optionally)
 * create READY_FILE and sleep until killed. Test helper for test_smaps.sh.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: touch_mem MIB [READY_FILE]\n");
		return 2;
	}
	char *end;
	long mib = strtol(argv[1], &end, 10);
	if (*end || mib < 0 || mib > 4096) {
		fprintf(stderr, "touch_mem: bad size %s\n", argv[1]);
		return 2;
	}
	size_t len = (size_t)mib << 20;
	volatile unsigned char *buf = NULL;
	if (len) {
		buf = malloc(len);
		if (!buf) {
			perror("touch_mem: malloc");
			return 1;
		}
		long pg = sysconf(_SC_PAGESIZE);
		for (size_t i = 0; i < len; i += (size_t)pg)
			buf[i] = (unsigned char)(i >> 12 | 1); /* non-zero: a real page */
	}
	/* Fault in every mapping (libc etc.) in both the idle and the loaded
     * instance, so that file-backed Rss does not depend on fault-around
     * and the Rss difference is the allocation. Best effort. */
	if (mlockall(MCL_CURRENT) == 0)
		munlockall();
	if (argc > 2) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			close(fd);
	}
	for (;;)
		pause();
}
