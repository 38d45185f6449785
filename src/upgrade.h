/*
 * upgrade.h - an upgrade in place of the running daemon (upgrade.c), and
 * the `upgrade` command that asks every daemon of this binary for one
 * (upgrade_cli.c).
 *
 * Layer: face (README, "Architecture").
 *
 *   upgrade_init(argv, &exiting);        // the daemon, before serving
 *   upgrade_register();                  // its ttrpc service
 *   upgrade_begin(NULL, 0);              // SIGUSR2
 *   return upgrade_check(0);             // -upgrade-check: state on fd 0
 *   upgrade_resume(fd);                  // -upgrade-state FD: the new image
 */
#ifndef UPGRADE_H
#define UPGRADE_H

struct call;

#define UPGRADE_SERVICE "containerd.shim.runc.c.v1.Upgrade"

/* The daemon's argv (to run the new image with) and its exiting flag (an
 * upgrade is refused once it is set); records the binary's path. */
void upgrade_init(char **argv, const int *exiting);
int upgrade_register(void);
/* Begin an upgrade; c (or NULL: a signal) is answered when it is done or
 * refused. */
void upgrade_begin(struct call *c, int dry_run);
/* -upgrade-check: read the state on fd, print "ok VERSION" or why not;
 * the exit status to return. */
int upgrade_check(int fd);
/* -upgrade-state FD, in a daemon set up but not serving: take the state
 * (listener, connections, containers, copies, Waits, events), answer the
 * caller; a negative errno if the state could not be taken. */
int upgrade_resume(int fd);
/* The `upgrade [-dry-run] [PATH]` command: the daemons of the binary at
 * PATH (NULL: this one's path). */
int upgrade_cli(const char *path, int dry_run);

#endif
