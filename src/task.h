/*
 * task.h - the task service (containerd.task.v2.Task, also served as
 * containerd.task.v3.Task): decode, act, reply or park.
 *
 * Layer: task (README, "Architecture").
 */
#ifndef TASK_H
#define TASK_H

int task_register(void);
/* Set when Shutdown was accepted: the daemon exits once replies and
 * events are flushed. */
extern int task_shutdown_requested;
/* Called once Shutdown has been answered with no container left. */
extern void (*task_on_shutdown)(void);

#endif
