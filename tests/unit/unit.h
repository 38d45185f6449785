/*
 * unit.h - what the unit tests of tests/unit/unit_*.c share: the headers
 * of the modules they test, check.h, and each file's entry point, which
 * test_unit.c's main() calls in turn.  One file per module of src/.
 */
#ifndef UNIT_H
#define UNIT_H
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <pb_common.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "arena.h"
#include "bootstrap.h"
#include "capacity.h"
#include "containerd_events_task.pb.h"
#include "copy.h"
#include "containerd_runc_v1_options.pb.h"
#include "containerd_runtime_bootstrap_v1.pb.h"
#include "containerd_services_events_ttrpc_v1.pb.h"
#include "containerd_task_v2.pb.h"
#include "containerd_v1_types_task.pb.h"
#include "flags.h"
#include "json.h"
#include "loop.h"
#include "idmap.h"
#include "mount.h"
#include "pages.h"
#include "pbcb.h"
#include "sha256.h"
#include "task.h"
#include "toml.h"
#include "ttrpc.h"
#include "ttrpc.pb.h"

#include "check.h"

void test_sha256(void);
void test_socket_address(void);
void test_flags(void);
void test_arena(void);
void test_framing(void);
void test_roundtrip(void);
void test_json(void);
void test_mount(void);
void test_server(void);
void test_copy(void);
void test_toml(void);
void test_pages(void);

/* unit_client.c: a hand-written ttrpc client */
int unit_client_send(int fd, uint32_t stream, const char *svc, const char *meth,
		     const void *payload, size_t plen);
int unit_client_send_timeout(int fd, uint32_t stream, const char *svc, const char *meth,
			     const void *payload, size_t plen, int64_t timeout_nano);
/* Run the loop until an answer arrives on fd; returns its stream id. */
int unit_client_recv(int fd, int *code, char *msg, size_t msgcap, ttrpc_KeyValue *kv);
int unit_server_socket(char *path, size_t cap);
void test_park(void);
void test_spawn(void);
void test_slots(void);
void test_state(void);
void test_runc(void);

#endif
