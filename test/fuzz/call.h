/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One ioctl as the fuzzer makes it: the argument is built in a shadow
 * struct, placed per its mode (arena.h), the call is counted, traced and
 * checked. Every result must be in the table of its ioctl (ioc.c); where
 * the fuzzer knows more (a rule it can state without racing itself), the
 * result must also be in the call's precise expectation. A failed check
 * records the report (seed, stream, op, arguments, the thread's last
 * operations) and ends the process with FAIL_EXIT.
 */
#ifndef FUZZ_CALL_H
#define FUZZ_CALL_H

#include "ioc.h"
#include "proc.h"

#define FAIL_EXIT 3

/* Trace codes beyond the ioctls. */
enum tr_op {
	TR_FORK = 100, TR_EXEC, TR_CLONE_VM, TR_VFORK, TR_CLOSE, TR_TRUNCATE,
	TR_UNSHARE, TR_MMAP, TR_POLL, TR_STATUS, TR_JOIN, TR_KILL, TR_CHECK,
};

struct call {
	enum ioc ioc;
	int fd;			/* 0: the process's device */
	unsigned long cmd;	/* 0: the ioctl's own */
	const void *shadow;	/* the struct as built */
	size_t len;		/* 0: the ioctl's size */
	int mode;		/* enum arg_mode */
	int valid;		/* fields in bounds, inner pointers usable */
	int odd_array;		/* an output array is not plainly writable */
	errset_t expect;	/* precise expectation (0: the table only) */
	const char *rule;	/* why expect */
	void *arg;		/* out: where the struct went */
};

/* Make the call; returns 0 or the errno. */
int fz_call(struct tctx *t, struct call *c);

/* Shorthand: a normal call of ioc with arg and an expectation. */
int fz_simple(struct tctx *t, enum ioc ioc, void *arg, errset_t expect,
	      const char *rule);

/* Record a non-ioctl step in the thread's trace. */
void trace_add(struct tctx *t, unsigned int op, int err, uint64_t a0,
	       uint64_t a1, uint64_t a2);

/* Fail the run from this thread: report and _exit(FAIL_EXIT). */
__attribute__((noreturn, format(printf, 2, 3)))
void fz_fail(struct tctx *t, const char *fmt, ...);
/*
 * Fail the run but go on: for what was only observed (introspection
 * answers, the status file), which leaves the thread's own bookkeeping
 * sound. Each call site reports its first few occurrences.
 */
__attribute__((format(printf, 3, 4)))
void fz_fail_soft(struct tctx *t, int site, const char *fmt, ...);

/* A check that must hold. */
#define REQUIRE(t, cond, fmt, ...)                                        \
	do {                                                              \
		count_add(&S->checks, 1);                                 \
		if (!(cond))                                              \
			fz_fail(t, "%s:%d: %s: " fmt, __FILE__, __LINE__, \
				#cond, ##__VA_ARGS__);                    \
	} while (0)

/* A check of something only observed: failing it does not end the thread. */
#define OBSERVE(t, cond, fmt, ...)                                        \
	do {                                                              \
		count_add(&S->checks, 1);                                 \
		if (!(cond))                                              \
			fz_fail_soft(t, __LINE__, "%s:%d: %s: " fmt, __FILE__, \
				     __LINE__, #cond, ##__VA_ARGS__);     \
	} while (0)

#endif
