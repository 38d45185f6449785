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

/* An upgrade in place (upgrade.c): calls parked for anything but an exit
 * (and a Shutdown accepted) make task_busy() non-zero; the containers,
 * processes and parked Waits are written and read back (copy_load first:
 * a process's io names its copies), then task_upgrade_resume() arms them. */
struct st_w;
struct st_r;
unsigned task_busy(void);
void task_save(struct st_w *w);
int task_load(struct st_r *r);
void task_upgrade_resume(void);

#endif
