/*
 * capacity.h - every capacity of the daemon, derived from a few numbers.
 *
 * Layer: base (README, "Architecture").
 *
 * The tables these size live in .bss or are mapped lazily: a slot that is
 * never used costs address space only, so the numbers are set so that the
 * host (pids, memory, fds) runs out long before the shim does.  A table
 * that does fill answers RESOURCE_EXHAUSTED naming it, and everything else
 * keeps being served.
 */
#ifndef CAPACITY_H
#define CAPACITY_H

/* The base numbers. */
#define LIM_CONTAINERS 1024 /* containers in one (pod) shim */
#define LIM_PROCS      8192 /* their processes: inits and execs */
#define LIM_JOBS       2048 /* runc invocations in flight */
#define LIM_RESERVED   64   /* kept for the shim's own work (events, kill --all) */

/* Rootfs mounts in one Create: 24, set in proto/containerd_task_v2.options
 * and containerd_events_task.options (a nanopb message must stay under 64
 * KiB); containerd sends one or two. */

/* Connections follow the fd limit, raised to its hard limit at start
 * (loop_init); this only bounds the mapping. */
#define LIM_FDS_MAX (1 << 20)

/* Per connection: calls in flight (those parked behind a job, a Create or
 * a drain included; a Wait parked for an exit, which keeps only its
 * address, not) and reply bytes queued (counted as the memory that holds
 * them); past either, the connection is not read until it drains.  Parked
 * Waits are bounded by LIM_PARKED. */
#define LIM_CONN_CALLS 4096
#define LIM_CONN_QUEUE (1u << 20)

/* Derived. */
#define LIM_COPIERS   (3 * LIM_PROCS)	/* stdin, stdout, stderr */
#define LIM_PARKED    (4 * LIM_PROCS)	/* Waits, calls behind a job or a Create */
#define LIM_ARENAS    (LIM_JOBS + 8192) /* requests being served, plus jobs */
#define LIM_EVENTS    (4 * LIM_PROCS)	/* queued while containerd is away */
#define LIM_UNCLAIMED LIM_JOBS		/* exits reaped before their pid is known */
#define LIM_OOM	      LIM_CONTAINERS	/* OOM watches */
#define LIM_CHILDREN  (LIM_JOBS + LIM_PROCS + LIM_RESERVED) /* runc jobs, loggers */

#endif
