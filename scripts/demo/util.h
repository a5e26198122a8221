/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the demo's and the benchmark's C programs share besides libagnocast
 * (which does everything agnocast): printing with the program's name,
 * ending on an error with the library's message, clocks, sizes, the
 * pools the library mapped, physical frames. A demo program may exit on an
 * error; the library never does.
 */
#ifndef DEMO_UTIL_H
#define DEMO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libagnocast.h"

/* The prefix of every line demo_say() prints. */
void demo_name(const char *name);

__attribute__((noreturn, format(printf, 1, 2)))
void demo_die(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void demo_say(const char *fmt, ...);

/* r when it is not negative; else ends the process with what the library said about doing what. */
int demo_ok(int r, const char *what);

static inline void *demo_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

#define demo_addr(p) ((uint64_t)(uintptr_t)(p))

uint64_t demo_now_ns(void);	/* CLOCK_MONOTONIC */
/* "64", "4K", "16M", "1G" (powers of 1024) -> bytes; 0 if malformed. */
uint64_t demo_parse_size(const char *s);
/* 64 B, 4 KiB, 16 MiB ... into buf. */
const char *demo_fmt_size(char *buf, size_t len, uint64_t bytes);

/*
 * Join (agnocast_join) with a pool of pool_size bytes unless
 * AGNOCAST_MEMPOOL_SIZE says otherwise; with_queue 0: no discovery queue
 * (pools are learnt from the module's answers and from entries). Ends the
 * process on failure. SIGTERM, SIGINT and SIGHUP unlink the discovery
 * queue before they end the process. Returns the pool.
 */
struct agnocast_pool demo_join(uint64_t pool_size, int with_queue);

/*
 * Print every pool the library maps now that was not printed yet, saying
 * how it was learnt (how).
 */
void demo_new_pools(const char *how);

/*
 * Subscribe to topic (depth 16), print "ready", then hand each of the next
 * count entries to fn as they arrive (poll), releasing it after; stdout is
 * flushed after every batch.
 */
void demo_subscribe_each(const char *topic, unsigned int count,
			 void (*fn)(const struct agnocast_entry *e, void *ctx), void *ctx);

/* A pidfd of process pid (readable once it exited), or -1 if it is gone. */
int demo_pidfd(pid_t pid);

/* Physical frame of the page at addr in this process (0: not readable,
 * e.g. not root, or not present). */
uint64_t demo_pfn(uint64_t addr);

#endif
