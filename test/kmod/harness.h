/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tiny test harness for the agnocast module suite.
 *
 * Every test runs in its own forked child (its own process group), so a
 * crash or a failed assertion fails that test only. Assertions are fatal to
 * the process that fails them: they write "file:line: what (errno)" to the
 * suite's report file (inherited by every descendant) and _exit(1). A test
 * that forks must reap its children and check their exit status (REAP_OK),
 * which turns a failure in any process into a failure of the test.
 *
 * After each test the harness kills and reaps whatever the test left
 * (that is itself a failure), then reads the status file, which waits for
 * the module's pending cleanup, and fails the test unless the totals are
 * all zero and no /dev/shm/agnocast@* name is left.
 */
#ifndef AGNOCAST_KTEST_HARNESS_H
#define AGNOCAST_KTEST_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef void (*test_fn)(void);
typedef int (*helper_fn)(int argc, char **argv);

void harness_register(const char *file, const char *name, test_fn fn,
		      int last);
void harness_register_helper(const char *name, helper_fn fn);

#define TEST_(name, last)                                                 \
	static void test_##name(void);                                    \
	__attribute__((constructor)) static void register_##name(void)    \
	{                                                                 \
		harness_register(__FILE__, #name, test_##name, last);     \
	}                                                                 \
	static void test_##name(void)

/* A test, run in suite order (by file name, then by definition order). */
#define TEST(name) TEST_(name, 0)
/* A test run after all the others (the module lifecycle test). */
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

/* Options the tests may read. */
extern const char *g_ko_path;	/* --ko PATH, or NULL */
extern int g_report_fd;		/* the report file, not close-on-exec */

/* ---- failing, noting, skipping ----------------------------------- */

__attribute__((noreturn, format(printf, 3, 4)))
void fail_at(const char *file, int line, const char *fmt, ...);
/* A diagnostic line shown under the test's result, pass or fail. */
__attribute__((format(printf, 1, 2))) void note(const char *fmt, ...);
/* End the test as skipped (only from the test's own process). */
__attribute__((noreturn, format(printf, 1, 2))) void skip(const char *fmt, ...);

#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* CHECK(cond): cond must hold; reports the expression and errno. */
#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			int e_ = errno;                                   \
			fail_at(__FILE__, __LINE__,                       \
				"CHECK(%s) failed (errno %d %s)", #cond, e_, \
				errname(e_));                             \
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

const char *errname(int err);

/* ---- processes and synchronisation ------------------------------- */

/* Safety net of every wait below (never what a test measures). */
#define SYNC_TIMEOUT_MS 20000

struct child {
	pid_t pid;
	int sock;	/* parent's end of a SOCK_SEQPACKET pair */
};

/*
 * Fork a child that runs fn(sock, arg) and then _exit(0). sock is the
 * child's end of a message socket to the parent. The child closes the
 * parent's ends of its earlier siblings' sockets, so a dead child is seen
 * as EOF by its parent.
 */
struct child spawn(void (*fn)(int sock, void *arg), void *arg);

void send_at(const char *f, int l, int sock, const void *buf, size_t len);
void recv_at(const char *f, int l, int sock, void *buf, size_t len,
	     int timeout_ms);
/* Send / receive one message of exactly sizeof(v) bytes. */
#define SEND(sock, v) send_at(__FILE__, __LINE__, sock, &(v), sizeof(v))
#define RECV(sock, v) \
	recv_at(__FILE__, __LINE__, sock, &(v), sizeof(v), SYNC_TIMEOUT_MS)
/* A named step: TELL sends a short word, WAIT_FOR checks it arrives. */
void tell_at(const char *f, int l, int sock, const char *word);
void wait_for_at(const char *f, int l, int sock, const char *word);
#define TELL(sock, word) tell_at(__FILE__, __LINE__, sock, word)
#define WAIT_FOR(sock, word) wait_for_at(__FILE__, __LINE__, sock, word)
/* Does sock have a message (or EOF) ready right now? */
int sock_ready(int sock);

void reap_ok_at(const char *f, int l, pid_t pid);
void reap_signaled_at(const char *f, int l, pid_t pid, int sig);
/* The child exited with status 0. */
#define REAP_OK(pid) reap_ok_at(__FILE__, __LINE__, pid)
/* The child was killed by signal sig. */
#define REAP_SIGNALED(pid, sig) reap_signaled_at(__FILE__, __LINE__, pid, sig)
/* SIGKILL the child and reap it. */
#define KILL_REAP(pid)                                                    \
	do {                                                              \
		CHECK_OK(kill(pid, SIGKILL));                             \
		REAP_SIGNALED(pid, SIGKILL);                              \
	} while (0)

/*
 * Wait until task tid (a pid, or a thread id of this process) is sleeping
 * (state S): used to make sure a waiter is blocked before the event it
 * waits for is caused. Fails after SYNC_TIMEOUT_MS.
 */
void wait_sleeping_at(const char *f, int l, pid_t tid);
#define WAIT_SLEEPING(tid) wait_sleeping_at(__FILE__, __LINE__, tid)

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t now_ms(void);
uint64_t now_ns(void);

/* A page that is mapped PROT_NONE: a user pointer the kernel cannot use. */
void *bad_ptr(void);

/* Lowest free descriptor number (probes with dup). */
int lowest_free_fd(void);

/* Small xorshift PRNG for the stress test. */
uint64_t rng_next(uint64_t *state);

#endif
