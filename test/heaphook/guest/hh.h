/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hh.h - shared by the programs the heaphook guest suite runs under the
 * hook (hh-*.c, hh-threads.cpp). Header-only.
 *
 * - The hook's public API (heaphook/agnocast_heap.h) is looked up with
 *   dlsym(RTLD_DEFAULT), so the programs build and start without the
 *   library and report "not under the hook" instead of failing to link.
 * - Control channel: the driver (heaphook-gtest) passes one end of a
 *   SOCK_SEQPACKET socketpair as fd 3; one message per send/recv.
 * - DIE(): one line "hh: file:line: why (errno)" on stderr and exit 1.
 */
#ifndef AGNOCAST_HH_H
#define AGNOCAST_HH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agnocast_heap.h"

#define HH_CTL_FD 3

__attribute__((noreturn, format(printf, 3, 4)))
static inline void hh_die_at(const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	int e = errno, n;
	va_list ap;

	n = snprintf(buf, sizeof(buf), "hh: %s:%d: ", file, line);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 40)
		n = (int)sizeof(buf) - 40;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, " (errno %d %s)\n", e,
		      strerrorname_np(e) ? strerrorname_np(e) : "?");
	if (write(2, buf, (size_t)n) < 0)
		_exit(1);
	exit(1);
}
#define DIE(...) hh_die_at(__FILE__, __LINE__, __VA_ARGS__)
#define ENSURE(cond, fmt, ...)                                            \
	do {                                                              \
		if (!(cond))                                              \
			DIE("%s failed: " fmt, #cond, ##__VA_ARGS__);     \
	} while (0)
/* ENSURE without a message. */
#define ENSURE0(cond)                                                     \
	do {                                                              \
		if (!(cond))                                              \
			DIE("%s failed", #cond);                          \
	} while (0)

/* ---- the hook's API, through dlsym -------------------------------------- */

struct hh_api {
	int (*join)(void);
	int (*info)(struct agnocast_heap_info *);
	void *(*shm_malloc)(size_t);
	void *(*shm_calloc)(size_t, size_t);
	void *(*shm_realloc)(void *, size_t);
	void (*shm_free)(void *);
	int (*owns)(const void *);
	uint64_t (*offset)(const void *);
	void *(*at)(uint64_t);
	void (*borrow_begin)(void);
	void (*borrow_end)(void);
};

static struct hh_api hh;

#define HH_SYM(field, name)                                               \
	do {                                                              \
		*(void **)&hh.field = dlsym(RTLD_DEFAULT, name);          \
		if (!hh.field)                                            \
			DIE("dlsym(%s): not found: not running under the heaphook (LD_PRELOAD)", name); \
	} while (0)

/* Resolve every function of agnocast_heap.h, or die. */
static inline void hh_load(void)
{
	HH_SYM(join, "agnocast_heap_join");
	HH_SYM(info, "agnocast_heap_info");
	HH_SYM(shm_malloc, "shm_malloc");
	HH_SYM(shm_calloc, "shm_calloc");
	HH_SYM(shm_realloc, "shm_realloc");
	HH_SYM(shm_free, "shm_free");
	HH_SYM(owns, "agnocast_heap_owns");
	HH_SYM(offset, "agnocast_heap_offset");
	HH_SYM(at, "agnocast_heap_at");
	HH_SYM(borrow_begin, "agnocast_borrow_begin");
	HH_SYM(borrow_end, "agnocast_borrow_end");
}

/* The pool's geometry, or die. */
static inline struct agnocast_heap_info hh_info(void)
{
	struct agnocast_heap_info i;
	int r = hh.info(&i);

	if (r)
		DIE("agnocast_heap_info: %d", r);
	return i;
}

/* ---- control channel ---------------------------------------------------- */

__attribute__((format(printf, 1, 2)))
static inline void ctl_send(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf))
		DIE("ctl_send: message too long");
	if (send(HH_CTL_FD, buf, (size_t)n, MSG_NOSIGNAL) != n)
		DIE("ctl_send(%s)", buf);
}

/* One message (NUL-terminated); dies on EOF or error. */
static inline void ctl_recv(char *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(HH_CTL_FD, buf, len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		DIE("ctl_recv: %s", n ? "error" : "the driver went away");
	buf[n] = 0;
}

/* Wait for exactly the message want. */
static inline void ctl_expect(const char *want)
{
	char buf[512];

	ctl_recv(buf, sizeof(buf));
	if (strcmp(buf, want))
		DIE("ctl: expected \"%s\", got \"%s\"", want, buf);
}

/* ---- data ---------------------------------------------------------------- */

/* A deterministic 64-bit mix (splitmix64), for values checked elsewhere. */
static inline uint64_t hh_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif /* AGNOCAST_HH_H */
