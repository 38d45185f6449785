/*
 * park.c - the table of parked calls, their deadlines and their
 * connections' closing.
 *
 * Layer: task (README, "Architecture").
 *
 * Slots come from a slot pool (slots.h), so a job's handle to its slot
 * never reaches a later call.
 * One loop timer is set for the earliest deadline; when it fires the
 * table is scanned (deadlines are rare, parking is O(1)).
 */
#include "cold.h"
#include "park.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capacity.h"
#include "log.h"
#include "loop.h"
#include "pages.h"
#include "slots.h"
#include "state.h"

struct parked {
	struct slot slot;
	unsigned char why, detached;
	struct call *call;	/* attached */
	struct ttrpc_peer peer; /* detached */
	struct ref target;
	uint32_t job;
	int64_t deadline; /* CLOCK_MONOTONIC ns, 0: none */
	park_fn resume;
};

static struct parked table[LIM_PARKED] PAGE_ALIGNED;
static struct slots pool = SLOTS_IN(table, LIM_PARKED, struct parked, slot);
#define USED(i) slot_used(&pool, (unsigned)(i))

static struct loop_timer deadline_timer; /* .at: the deadline it is set for */

static void on_deadline(void *ctx);

static void arm(int64_t when)
{
	if (!when || (deadline_timer.at && deadline_timer.at <= when))
		return;
	loop_timer_set(&deadline_timer, when, on_deadline, NULL);
}

static struct parked *slot_new(void)
{
	int i = slot_take(&pool, LIM_PARKED);
	if (i < 0)
		return NULL;
	slot_clear(&pool, (unsigned)i);
	return &table[i];
}

/* Once all are free again, a table that had spread out (10 000 Waits
 * touch 640 kB of it) is released and starts again from 0. */
static void slot_free(struct parked *e)
{
	if (slot_put(&pool, (unsigned)(e - table)) &&
	    pool.high * sizeof(table[0]) >= PAGES_RELEASE_MIN) {
		pages_release(table, (size_t)pool.high * sizeof(table[0]));
		slots_reset(&pool);
	}
}

int park_room(void)
{
	return pool.used < LIM_PARKED;
}

int park_call(struct call *c, enum park_for why, struct ref target, park_fn resume)
{
	struct parked *e = slot_new();
	if (!e) {
		ttrpc_reply_error(c, ST_RESOURCE_EXHAUSTED, "too many parked calls (%d)",
				  LIM_PARKED);
		return -ENOSPC;
	}
	e->why = (unsigned char)why;
	e->target = target;
	e->resume = resume;
	e->deadline = c->deadline;
	if (why == PARK_EXIT) {
		/* a Wait needs only its address: its memory goes back now */
		e->detached = 1;
		ttrpc_detach(c, &e->peer);
	} else {
		e->call = c;
	}
	arm(e->deadline);
	return 0;
}

uint32_t park_job(struct call *c, uint32_t job)
{
	struct parked *e = slot_new();
	if (!e)
		return 0; /* untracked: no deadline, still answered by the job */
	e->why = PARK_JOB;
	e->call = c;
	e->job = job;
	e->deadline = c->deadline;
	arm(e->deadline);
	return slot_handle(&pool, (unsigned)(e - table), 12);
}

static struct parked *job_slot(uint32_t h)
{
	int i = slot_by_handle(&pool, h, 12);
	if (i < 0 || table[i].why != PARK_JOB)
		return NULL;
	return &table[i];
}

void park_job_done(uint32_t h)
{
	struct parked *e = job_slot(h);
	if (e)
		slot_free(e);
}

/* The call of e, attached again if it was detached (NULL: nobody to answer). */
static struct call *take_call(struct parked *e)
{
	return e->detached ? ttrpc_attach(&e->peer) : e->call;
}

void park_wake(enum park_for why, struct ref target)
{
	for (unsigned i = 0; i < pool.high; i++) {
		struct parked *e = &table[i];
		if (!USED(i) || e->why != why || e->target.slot != target.slot ||
		    e->target.gen != target.gen)
			continue;
		park_fn fn = e->resume;
		struct call *c = take_call(e);
		slot_free(e);
		if (c)
			fn(c, target);
	}
}

static void expire(struct parked *e)
{
	if (e->why == PARK_JOB) {
		/* answered now; the job's completion later only frees the call */
		ttrpc_answer_early(e->call, ST_DEADLINE_EXCEEDED,
				   "context deadline exceeded");
		uint32_t job = e->job;
		slot_free(e);
		runc_cancel(job);
		return;
	}
	if (e->why == PARK_DRAIN || e->why == PARK_LOGGER) {
		/* Delete goes on without the rest of the output; Create without
		 * the logger's word (the client may have given up: work that
		 * has begun is finished, its answer is dropped) */
		if (e->why == PARK_DRAIN)
			log_warn("delete: its deadline has come before the output was "
				 "read: closing it");
		else
			log_warn("binary logger not ready by the call's deadline: going "
				 "on");
		park_fn fn = e->resume;
		struct ref t = e->target;
		struct call *c = e->call;
		slot_free(e);
		fn(c, t);
		return;
	}
	struct call *c = take_call(e);
	slot_free(e);
	if (c)
		ttrpc_reply_error(c, ST_DEADLINE_EXCEEDED, "context deadline exceeded");
}

static void on_deadline(void *ctx)
{
	(void)ctx;
	int64_t now = loop_now_ns(), next = 0;
	for (unsigned i = 0; i < pool.high; i++)
		if (USED(i) && table[i].deadline && table[i].deadline <= now)
			expire(&table[i]);
	/* the next deadline, counting what expire() parked (a Delete going on) */
	for (unsigned i = 0; i < pool.high; i++)
		if (USED(i) && table[i].deadline &&
		    (!next || table[i].deadline < next))
			next = table[i].deadline;
	arm(next);
}

/* A connection closed: its parked calls go, except a job's, which its
 * completion frees. */
static void on_close(int conn, unsigned gen)
{
	for (unsigned i = 0; i < pool.high; i++) {
		struct parked *e = &table[i];
		if (!USED(i) || e->why == PARK_JOB)
			continue;
		if (e->detached) {
			if (e->peer.conn == conn && e->peer.gen == gen)
				slot_free(e);
		} else if (e->call->conn == conn && e->call->gen == gen &&
			   e->why != PARK_DRAIN && e->why != PARK_IDLE &&
			   e->why != PARK_LOGGER) {
			/* a Delete or Create in progress goes on; the rest go */
			ttrpc_drop(e->call);
			slot_free(e);
		}
	}
}

int park_init(void)
{
	ttrpc_on_close = on_close;
	return 0;
}

COLD unsigned park_busy(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < pool.high; i++)
		n += USED(i) && table[i].why != PARK_EXIT;
	return n;
}

/* Only Waits are carried across an upgrade (it waits until nothing else
 * is parked): their address, what they wait for and their deadline. */
COLD void park_save(struct st_w *w)
{
	st_tag(w, "PARK");
	unsigned n = 0;
	for (unsigned i = 0; i < pool.high; i++)
		n += USED(i) && table[i].why == PARK_EXIT;
	st_u64(w, n);
	for (unsigned i = 0; i < pool.high; i++) {
		struct parked *e = &table[i];
		if (!USED(i) || e->why != PARK_EXIT)
			continue;
		st_u64(w, (uint64_t)e->peer.conn);
		st_u64(w, e->peer.gen);
		st_u64(w, e->peer.stream);
		st_u64(w, e->target.slot);
		st_u64(w, e->target.gen);
		st_u64(w, (uint64_t)e->deadline);
	}
}

COLD int park_load(struct st_r *r, park_fn exit_resume)
{
	if (!st_want(r, "PARK"))
		return -EINVAL;
	unsigned n = (unsigned)st_get_max(r, LIM_PARKED, "too many parked calls");
	for (unsigned j = 0; j < n && !r->err; j++) {
		struct parked *e = slot_new();
		if (!e) {
			st_fail(r, "no room for a parked call");
			return -ENOSPC;
		}
		e->why = PARK_EXIT;
		e->detached = 1;
		e->resume = exit_resume;
		e->peer.conn = (int)st_get_max(r, 0x7fffffff, "bad connection slot");
		e->peer.gen = (unsigned)st_get(r);
		e->peer.stream = (uint32_t)st_get(r);
		e->target.slot = (uint32_t)st_get(r);
		e->target.gen = (uint32_t)st_get(r);
		e->deadline = (int64_t)st_get(r);
	}
	return r->err ? -EINVAL : 0;
}

/* Deadlines are CLOCK_MONOTONIC, which an execve does not move. */
COLD void park_resume(void)
{
	for (unsigned i = 0; i < pool.high; i++)
		if (USED(i))
			arm(table[i].deadline);
}

int park_trimmable(void)
{
	return slots_trimmable(&pool);
}

void park_trim(void)
{
	slots_trim(&pool);
}
