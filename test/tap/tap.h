/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C test harness of every guest suite (the module's, the heaphook's,
 * libagnocast's): registration, one forked child per test, assertions,
 * TAP output, and the checks after every test.
 *
 * Every test runs in its own forked child (its own process group), so a
 * crash or a failed assertion fails that test only. Assertions are fatal to
 * the process that fails them: they write "file:line: [pid N] what (errno)"
 * to the suite's report file (inherited by every descendant, exec'd ones
 * included: g_report_fd) and _exit(1). A test that forks must reap its
 * children and check their exit status, which turns a failure in any
 * process into a failure of the test.
 *
 * After each test the harness kills and reaps whatever the test left (it
 * is the children's subreaper; leftovers are a failure), loads the module
 * again if the test left it unloaded (--ko), then reads the status file,
 * which waits for the module's pending cleanup, and fails the test unless
 * the totals are all zero and no /dev/shm/agnocast@* name is left.
 *
 * Usage of a suite binary: [--list] [--filter SUBSTRING] [--tap FILE]
 * [--ko PATH] and the suite's own options (TAP_OPTION); "--helper NAME
 * ARGS..." runs a HELPER (a program entry reached through re-exec).
 * The exit status is 0 when every test passed.
 */
#ifndef AGNOCAST_TAP_H
#define AGNOCAST_TAP_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef void (*test_fn)(void);
typedef int (*helper_fn)(int argc, char **argv);

/* ---- the suite --------------------------------------------------------------- */

struct tap_suite {
	const char *name;		/* in usage and diagnostics */
	int timeout_s;			/* per test; a safety net */
	int name_with_file;		/* TAP names "file/test" (file without test_ and .c) */
	const char *const *file_order;	/* files that run first, in this order (NULL-ended) */
	/* After the options: set defaults; return non-zero to stop (after printing TAP). */
	int (*init)(void);
};
/* Called once, from a constructor of the suite's own file. */
void tap_suite(const struct tap_suite *s);

/* A string option of the suite: "--NAME VALUE" sets *var. */
void tap_option(const char *name, const char **var, const char *help);
#define TAP_OPTION(name, var, help)                                       \
	__attribute__((constructor)) static void tap_opt_##var(void)      \
	{                                                                 \
		tap_option(name, &var, help);                             \
	}

void harness_register(const char *file, const char *name, test_fn fn, int last);
void harness_register_helper(const char *name, helper_fn fn);

#define TEST_(name, last)                                                 \
	static void test_##name(void);                                    \
	__attribute__((constructor)) static void register_##name(void)    \
	{                                                                 \
		harness_register(__FILE__, #name, test_##name, last);     \
	}                                                                 \
	static void test_##name(void)

/* A test, run in suite order (file order, then by definition order). */
#define TEST(name) TEST_(name, 0)
/* A test run after all the others (those that unload the module). */
#define TEST_LAST(name) TEST_(name, 1)

/*
 * A program entry reached through re-exec: "<exe> --helper NAME ARGS...".
 * Used to check what survives an execve().
 */
#define HELPER(name)                                                      \
	static int helper_##name(int argc, char **argv);                 \
	__attribute__((constructor)) static void register_h_##name(void)  \
	{                                                                 \
		harness_register_helper(#name, helper_##name);            \
	}                                                                 \
	static int helper_##name(int argc, char **argv)

/* Options every suite has. */
extern const char *g_ko_path;	/* --ko PATH, or NULL */
extern int g_report_fd;		/* the report file, not close-on-exec */

/* Called by fail_at() before the process ends (a suite reports its programs). */
void tap_on_fail(void (*fn)(void));

/* ---- failing, noting, skipping ----------------------------------- */

__attribute__((noreturn, format(printf, 3, 4)))
void fail_at(const char *file, int line, const char *fmt, ...);
/* A diagnostic line shown under the test's result, pass or fail. */
__attribute__((format(printf, 1, 2))) void note(const char *fmt, ...);
/* End the test as skipped (only from the test's own process). */
__attribute__((noreturn, format(printf, 1, 2))) void skip(const char *fmt, ...);
/* printf into a rotating static buffer (for messages). */
__attribute__((format(printf, 1, 2))) const char *fmtbuf(const char *fmt, ...);

const char *errname(int err);

#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)

/*
 * CHECK(cond) or CHECK(cond, "fmt", ...): cond must hold; reports the
 * expression, errno and the message (where %m is that errno).
 */
#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			int e_ = errno;                                   \
			errno = e_;                                       \
			fail_at(__FILE__, __LINE__,                       \
				"CHECK(%s) failed (errno %d %s):%s", #cond, \
				e_, errname(e_), fmtbuf(" " __VA_ARGS__)); \
		}                                                         \
	} while (0)

/* CHECK_EQ(a, b): integral a == b; shows both values. */
#define CHECK_EQ(a, b)                                                    \
	do {                                                              \
		unsigned long long a_ = (unsigned long long)(a);          \
		unsigned long long b_ = (unsigned long long)(b);          \
		if (a_ != b_) {                                           \
			int e_ = errno;                                   \
			fail_at(__FILE__, __LINE__,                       \
				"CHECK_EQ(%s, %s) failed: %lld (0x%llx) != " \
				"%lld (0x%llx) (errno %d %s)", #a, #b,    \
				(long long)a_, a_, (long long)b_, b_, e_, \
				errname(e_));                             \
		}                                                         \
	} while (0)

/* CHECK_OK(call): call returns 0 (ioctl-style success). */
#define CHECK_OK(call)                                                    \
	do {                                                              \
		errno = 0;                                                \
		long r_ = (long)(call);                                   \
		if (r_ != 0) {                                            \
			int e_ = errno;                                   \
			fail_at(__FILE__, __LINE__,                       \
				"%s returned %ld, expected 0 (errno %d %s)", \
				#call, r_, e_, errname(e_));              \
		}                                                         \
	} while (0)

/* CHECK_ERR(call, err): call returns -1 with errno == err. */
#define CHECK_ERR(call, err)                                              \
	do {                                                              \
		errno = 0;                                                \
		long r_ = (long)(call);                                   \
		int e_ = errno;                                           \
		if (r_ != -1 || e_ != (err)) {                            \
			fail_at(__FILE__, __LINE__,                       \
				"%s: expected -1 errno %s, got %ld errno %d %s", \
				#call, errname(err), r_, e_, errname(e_)); \
		}                                                         \
	} while (0)

/* Like CHECK_ERR but either of two errnos is accepted. */
#define CHECK_ERR2(call, err1, err2)                                      \
	do {                                                              \
		errno = 0;                                                \
		long r_ = (long)(call);                                   \
		int e_ = errno;                                           \
		if (r_ != -1 || (e_ != (err1) && e_ != (err2))) {         \
			fail_at(__FILE__, __LINE__,                       \
				"%s: expected -1 errno %s or %s, got %ld errno %d %s", \
				#call, errname(err1), errname(err2), r_, e_, \
				errname(e_));                             \
		}                                                         \
	} while (0)

/* Milliseconds / nanoseconds of CLOCK_MONOTONIC. */
uint64_t now_ms(void);
uint64_t now_ns(void);

/* Module totals all zero and no /dev/shm/agnocast@*: 0, else -1 and why. */
int module_clean(char *why, size_t len);

#endif
