/*
 * console.h - terminal processes.
 *
 * Layer: runtime (README, "Architecture").
 *
 * io_console_prepare() makes the socket runc sends the pty master to (its
 * path goes to --console-socket); once runc has exited,
 * io_console_attach() receives the master and copies stdin into it and
 * its output to stdout (or a binary:// logger).
 */
#ifndef CONSOLE_H
#define CONSOLE_H
#include <stddef.h>

#include "procio.h"

int io_console_prepare(struct proc_io *io, char *path, size_t cap);
int io_console_attach(struct proc_io *io, const struct io_cfg *cfg);
int io_resize(struct proc_io *io, unsigned width, unsigned height);
/* A terminal's stdin copy has ended: hang its terminal up (io_load gives
 * it back to a terminal process after an upgrade). */
void console_stdin_ended(struct proc_io *io);

#endif
