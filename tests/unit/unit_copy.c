/*
 * unit_copy.c - unit tests: the copy engine and the loop's deadlines.
 */
#include "unit.h"

static int loop_order[4], loop_order_n;
static void loop_order_cb(void *ctx)
{
	if (loop_order_n < 4)
		loop_order[loop_order_n++] = (int)(intptr_t)ctx;
}

static int copy_ended_n;
static void copy_ended_cb(void *ctx, int tag)
{
	copy_ended_n++;
}

/* Stream `total` bytes through a copy in `chunk`-sized writes, reading
 * `rchunk` at a time every `rskip`-th loop round; returns the bytes read
 * (all checked against the pattern) or -1. */
static long copy_stream(size_t total, size_t chunk, size_t rchunk, int rskip)
{
	int a[2], b[2];
	if (pipe2(a, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(b, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	int err;
	copy_ended_n = 0;
	struct copy *c =
		copy_start(a[0], b[1], copy_ended_cb, NULL, 1, COPY_GROW_SRC, &err);
	if (!c)
		return -1;
	static unsigned char wbuf[65536], rbuf[65536];
	size_t sent = 0, got = 0;
	long bad = 0;
	for (int round = 0; round < 2000000 && (got < total || !copy_ended_n); round++) {
		if (sent < total) {
			size_t k = total - sent < chunk ? total - sent : chunk;
			for (size_t i = 0; i < k; i++)
				wbuf[i] = (unsigned char)((sent + i) * 7 + 3);
			ssize_t w = write(a[1], wbuf, k);
			if (w > 0)
				sent += (size_t)w;
			if (sent == total)
				close(a[1]);
		}
		if (round % rskip == 0) {
			ssize_t r = read(b[0], rbuf, rchunk);
			for (ssize_t i = 0; i < r; i++)
				bad += rbuf[i] !=
				       (unsigned char)((got + (size_t)i) * 7 + 3);
			if (r > 0)
				got += (size_t)r;
		}
		loop_run_once(sent < total ? 0 : 1);
	}
	close(b[0]);
	return bad ? -1 : (long)got;
}

void test_copy(void)
{
	begin("copy engine: small writes, slow and fast readers, all bytes in order");
	CHECK(copy_stream(8 << 20, 4096, 32768, 1) == 8 << 20 && copy_ended_n == 1);
	CHECK(copy_stream(4 << 20, 65536, 4096, 3) == 4 << 20 && copy_ended_n == 1);
	CHECK(copy_stream(100, 1, 100, 1) == 100 && copy_ended_n == 1);
	CHECK(copy_stream(3 << 20, 1 << 16, 1 << 16, 50) == 3 << 20 && copy_ended_n == 1);
	end();

	begin("copy engine: a reader that goes away; finish moves what is buffered");
	signal(SIGPIPE, SIG_IGN); /* as in the daemon */
	int a[2], b[2], err;
	CHECK(pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0 &&
	      pipe2(b, O_CLOEXEC | O_NONBLOCK) == 0);
	copy_ended_n = 0;
	struct copy *c = copy_start(a[0], b[1], copy_ended_cb, NULL, 0, 0, &err);
	CHECK(c != NULL);
	close(b[0]); /* EPIPE: the copy drains its source until EOF */
	static char junk[4096];
	for (int i = 0; i < 10; i++) {
		CHECK(write(a[1], junk, sizeof(junk)) == (ssize_t)sizeof(junk));
		loop_run_once(2);
	}
	close(a[1]);
	for (int i = 0; i < 50 && !copy_ended_n; i++)
		loop_run_once(2);
	CHECK(copy_ended_n == 1);
	CHECK(pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0 &&
	      pipe2(b, O_CLOEXEC | O_NONBLOCK) == 0);
	c = copy_start(a[0], b[1], copy_ended_cb, NULL, 0, 0, &err);
	CHECK(c && write(a[1], "hello", 5) == 5);
	copy_finish(c); /* no loop round: finish moves it */
	char got[8] = { 0 };
	CHECK(read(b[0], got, sizeof(got)) == 5 && memcmp(got, "hello", 5) == 0);
	CHECK(read(b[0], got, 1) == 0); /* both ends closed by the copy */
	close(a[1]);
	close(b[0]);
	end();

	begin("copy engine: at EOF a FIFO keeps its content until a late reader has it");
	char dir[] = "/tmp/copy-fifo.XXXXXX", fifo[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/out", dir);
	CHECK(mkfifo(fifo, 0600) == 0 && pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0);
	int w = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* as procio.c does */
	copy_ended_n = 0;
	c = copy_start(a[0], w, copy_ended_cb, NULL, 1, COPY_GROW_SRC, &err);
	static unsigned char pat[40000];
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i * 13 + 1);
	CHECK(c && write(a[1], pat, sizeof(pat)) == (ssize_t)sizeof(pat));
	uint64_t mark, given;
	copy_counts(c, &mark, &given);
	CHECK(mark == sizeof(pat) && given == 0); /* all in the source, none read */
	close(a[1]);
	for (int i = 0; i < 30; i++)
		loop_run_once(2);
	/* in the FIFO, nobody has read it: the copy has not ended */
	copy_counts(c, &mark, &given);
	CHECK(copy_ended_n == 0 && mark == sizeof(pat) && given == 0);
	int r = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	static unsigned char back[sizeof(pat) + 1];
	size_t n = 0;
	for (int i = 0; i < 200 && n < sizeof(pat); i++) {
		ssize_t k = read(r, back + n, sizeof(back) - n);
		if (k > 0)
			n += (size_t)k;
		loop_run_once(2);
	}
	CHECK(n == sizeof(pat) && memcmp(back, pat, n) == 0);
	for (int i = 0; i < 200 && !copy_ended_n; i++)
		loop_run_once(2);
	CHECK(copy_ended_n == 1);     /* ended once emptied ... */
	CHECK(read(r, back, 1) == 0); /* ... with EOF for the reader */
	close(r);
	unlink(fifo);
	rmdir(dir);
	end();

	begin("copy engine: a grown FIFO nobody drains costs no CPU (no shrink retry "
	      "spin)");
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(mkfifo(fifo, 0600) == 0 && pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0);
	w = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	r = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	c = copy_start(a[0], w, copy_ended_cb, NULL, 1, COPY_GROW_SRC, &err);
	/* stream fast enough for the pipes to grow to 1 MiB, then stop reading */
	static unsigned char blk[65536];
	for (int i = 0; i < 400; i++) {
		ssize_t k = write(a[1], blk, sizeof(blk));
		(void)k;
		while (read(r, back, sizeof(back)) > 0)
			;
		loop_run_once(0);
	}
	for (int i = 0; i < 40; i++) { /* fill: more than 64 KiB waits in the FIFO */
		ssize_t k = write(a[1], blk, sizeof(blk));
		(void)k;
		loop_run_once(1);
	}
	int waiting = 0;
	CHECK(ioctl(w, FIONREAD, &waiting) == 0 && waiting > 65536);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	int64_t until = loop_now_ns() + 2500000000LL; /* past the 1 s idle shrink */
	int wakeups = 0;
	while (loop_now_ns() < until)
		wakeups += loop_run_once(100) > 0;
	getrusage(RUSAGE_SELF, &ru1);
	long us = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000L +
		  (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
		  (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000L +
		  (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	printf("# 2.5 s with a full grown FIFO: %d wakeups, %ld us of CPU\n", wakeups,
	       us);
	CHECK(wakeups < 20); /* the old retry fired thousands of times */
	copy_finish(c);
	close(a[1]);
	close(r);
	unlink(fifo);
	rmdir(dir);
	end();

	begin("loop deadlines: in order, moved, cancelled");
	loop_order_n = 0;
	struct loop_timer t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	int64_t now = loop_now_ns();
	loop_timer_set(&t1, now + 30000000, loop_order_cb, (void *)1);
	loop_timer_set(&t2, now + 10000000, loop_order_cb, (void *)2);
	loop_timer_set(&t3, now + 20000000, loop_order_cb, (void *)3);
	loop_timer_set(&t1, now + 5000000, loop_order_cb, (void *)1); /* moved first */
	loop_timer_cancel(&t3);
	loop_timer_cancel(&t3); /* twice: harmless */
	for (int i = 0; i < 50 && loop_order_n < 2; i++)
		loop_run_once(10);
	CHECK(loop_order_n == 2 && loop_order[0] == 1 && loop_order[1] == 2);
	CHECK(!t1.at && !t2.at && !t3.at);
	end();
}
