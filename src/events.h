/*
 * events.h - the ordered queue of task events and the ttrpc client that
 * forwards them to containerd (Events/Forward on $TTRPC_ADDRESS).
 *
 * Layer: wire (README, "Architecture").
 *
 * Events leave in the order they were published, one in flight at a time.
 * While containerd is unreachable they stay queued and the client retries
 * with a growing delay; an event containerd refuses is retried a few times
 * and then dropped with a log line.
 *
 *   events_init(getenv("TTRPC_ADDRESS"), ns);
 *   events_publish("/tasks/start", containerd_events_TaskStart_fields, &ev,
 *                  "containerd.events.TaskStart");
 */
#ifndef EVENTS_H
#define EVENTS_H
#include <pb.h>

int events_init(const char *address, const char *ns);
int events_publish(const char *topic, const pb_msgdesc_t *fields, const void *msg,
		   const char *type_url);
/* Events not yet acknowledged by containerd. */
unsigned events_pending(void);
/* Idle: the page kept for the next event goes back. */
int events_trimmable(void);
void events_trim(void);

/* An upgrade in place (upgrade.c): events_hold(1) sends nothing more once
 * the event in flight is answered (events_busy() until then); the queue
 * is written and read back in order, and events_resume() sends it. */
struct st_w;
struct st_r;
void events_hold(int on);
int events_busy(void);
void events_save(struct st_w *w);
int events_load(struct st_r *r);
void events_resume(void);

#endif
