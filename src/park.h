/*
 * park.h - calls that wait for something, in one table owned by the task
 * layer.
 *
 * Layer: task (README, "Architecture").
 *
 * A parked call waits for one thing: its runc job, a process's exit, the
 * end of its container's Create, a process's output to drain, a
 * process's runc jobs to end, or a logger to be ready.  It is answered exactly once: when that
 * happens (park_wake runs its resume function with a call to answer), when
 * its connection closes (dropped), or at its deadline (DEADLINE_EXCEEDED;
 * a runc job whose call timed out is killed, as go-runc's context does).
 * A call parked on a job stays the job's (its arena holds the job's
 * context) until the job's completion replies or drops it.
 *
 *   park_call(c, PARK_EXIT, proc_ref(p), wait_answer);  // Wait
 *   park_wake(PARK_EXIT, proc_ref(p));                  // at the exit
 *   uint32_t h = park_job(c, job);   ...   park_job_done(h);
 */
#ifndef PARK_H
#define PARK_H
#include <stdint.h>

#include "container.h"
#include "ttrpc.h"

enum park_for {
	PARK_JOB,    /* its runc job (see park_job) */
	PARK_EXIT,   /* a process's exit (Wait); detached while it waits */
	PARK_CREATE, /* the end of its container's Create */
	PARK_DRAIN,  /* a process's output to reach its readers (Delete; io_watch) */
	PARK_IDLE,   /* no runc job in flight on a process (Delete) */
	PARK_LOGGER, /* a binary:// logger to be ready (Create) */
};

/* Runs when what c waited for has happened; c is answered by it. */
typedef void (*park_fn)(struct call *c, struct ref target);

int park_init(void);
/* Park c; on a full table c is answered with RESOURCE_EXHAUSTED and
 * -ENOSPC returned. */
int park_call(struct call *c, enum park_for why, struct ref target, park_fn resume);
/* Whether a park_call now would find room (for a caller with something to
 * undo before it answers). */
int park_room(void);
/* c now waits for runc job `job`; returns the handle for park_job_done. */
uint32_t park_job(struct call *c, uint32_t job);
/* The job has completed: c is no longer parked (the caller replies). */
void park_job_done(uint32_t handle);
/* Resume every call parked for (why, target). */
void park_wake(enum park_for why, struct ref target);

/* Idle: an empty table gives its pages back (slots_trim). */
int park_trimmable(void);
void park_trim(void);

/* An upgrade in place (upgrade.c): calls parked for anything but an exit
 * (they are waited for first); the Waits written and read back, each
 * resumed by exit_resume, their deadlines armed by park_resume(). */
struct st_w;
struct st_r;
unsigned park_busy(void);
void park_save(struct st_w *w);
int park_load(struct st_r *r, park_fn exit_resume);
void park_resume(void);

#endif
