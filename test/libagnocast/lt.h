/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libagnocast's guest suite: what its tests share. The harness is test/tap
 * (tap.h: TEST, CHECK*, the after-test checks that the module is empty;
 * procs.h: forked processes and TELL / WAIT_FOR; params.h: the module's
 * bounds, restored after every test).
 */
#ifndef AGNOCAST_LT_H
#define AGNOCAST_LT_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "libagnocast.h"
#include "params.h"
#include "procs.h"
#include "status.h"
#include "tap.h"

#define UNIT AGNOCAST_POOL_UNIT

/* --lib: build/libagnocast/libagnocast.so (default: next to this binary's build). */
extern const char *g_lib_so;

/* A libagnocast call that must succeed (>= 0); its value. */
#define LIB_OK(call) lib_ok_at(__FILE__, __LINE__, #call, (call))
int lib_ok_at(const char *f, int l, const char *what, int r);

/*
 * A libagnocast call that must fail with -err, saying what happened in a
 * message that contains `says` (what to do).
 */
#define LIB_ERR(call, err, says) lib_err_at(__FILE__, __LINE__, #call, (call), err, says)
void lib_err_at(const char *f, int l, const char *what, int r, int err, const char *says);

/* Join with size and max (0: as the module reads it, the size); the pool. */
struct agnocast_pool lt_join_at(const char *f, int l, uint64_t size, uint64_t max);
#define LT_JOIN(size, max) lt_join_at(__FILE__, __LINE__, size, max)

/* The qos { depth, flags } as a pointer, for the create calls. */
#define QOS(depth, flags) (&(struct agnocast_qos){ (depth), (flags) })

/* A block of the pool holding text (NUL included); fails the test if none. */
void *lt_text_at(const char *f, int l, const char *text);
#define LT_TEXT(text) lt_text_at(__FILE__, __LINE__, text)

/* poll fd for events with the safety timeout; returns revents (0: timeout). */
short lt_poll(int fd, short events);
/* revents of fd right now (timeout 0). */
short lt_poll_now(int fd, short events);

/* The line of /proc/<pid>/maps that covers addr, or "" (into buf). */
const char *lt_maps_line(pid_t pid, uint64_t addr, char *buf, size_t len);

/* The module's totals, read through the library (which waits for cleanup). */
struct agnocast_totals lt_totals_at(const char *f, int l);
#define LT_TOTALS() lt_totals_at(__FILE__, __LINE__)

/* Was /dev/mqueue/<name> there before the suite started? */
int lt_queue_was_there(const char *name);

/* Pools the library maps now, into out (at most cap); how many. */
int lt_mapped(struct agnocast_pool_info *out, int cap);

#endif
