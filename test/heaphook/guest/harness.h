/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The heaphook guest suite's driver: runs programs under the hook
 * (LD_PRELOAD) and checks them from outside. The driver itself never runs
 * under the hook.
 *
 * Each test runs in its own forked child and process group. CHECK / FAIL
 * are fatal to the test: they report "file:line: what" (plus the stderr of
 * every program the test started) and end the test's process. Afterwards
 * the driver kills and reaps whatever the test left (it is the children's
 * subreaper), reads the module's status file (which waits for the module's
 * pending cleanup) and fails the test unless the totals are all zero and
 * no /dev/shm/agnocast@* name is left.
 *
 * Programs started with spawn() get: stdin /dev/null, stdout and stderr
 * captured in memory files, and fd 3 one end of a SOCK_SEQPACKET
 * socketpair (the control channel, see hh.h). Waiting for a message is
 * bounded by a safety timeout; nothing sleeps to let a race settle.
 */
#ifndef AGNOCAST_HH_HARNESS_H
#define AGNOCAST_HH_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Options (run-in-guest.sh passes them). */
extern const char *g_so;	/* absolute path of libagnocast_heaphook.so */
extern const char *g_ko;	/* agnocast.ko, for the unload test; or NULL */
extern const char *g_bindir;	/* where the hh-* programs are */
extern const char *g_srcdir;	/* test/heaphook/guest (the scripts) */
extern const char *g_node, *g_python;

typedef void (*test_fn)(void);
void register_test(const char *name, test_fn fn, int order);
#define TEST_ORDERED(name, order)                                         \
	static void test_##name(void);                                    \
	__attribute__((constructor)) static void reg_##name(void)         \
	{                                                                 \
		register_test(#name, test_##name, order);                 \
	}                                                                 \
	static void test_##name(void)
/* Tests run in definition order within a file; files by order. */
#define TEST(name) TEST_ORDERED(name, 0)
#define TEST_LAST(name) TEST_ORDERED(name, 1)

__attribute__((noreturn, format(printf, 3, 4)))
void fail_at(const char *file, int line, const char *fmt, ...);
#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond))                                              \
			fail_at(__FILE__, __LINE__, "%s:%s", #cond,       \
				fmtbuf(" " __VA_ARGS__));                 \
	} while (0)
/* A diagnostic line under the test's result, pass or fail. */
__attribute__((format(printf, 1, 2))) void note(const char *fmt, ...);
/* End the test as skipped. */
__attribute__((noreturn, format(printf, 1, 2))) void skip(const char *fmt, ...);
/* printf into a rotating static buffer (for CHECK messages). */
__attribute__((format(printf, 1, 2))) const char *fmtbuf(const char *fmt, ...);

/* ---- programs ------------------------------------------------------------ */

struct child {
	char name[32];
	pid_t pid;
	int ctl;		/* driver's end of the control socket */
	int out, err;		/* memory files holding stdout / stderr */
	int reaped, status;
	char *out_text, *err_text;	/* after reap() */
};

#define HOOK 1		/* run under LD_PRELOAD=g_so */
/*
 * Start argv (argv[0] without a slash: a program in g_bindir) with the
 * driver's environment less LD_PRELOAD and AGNOCAST_*, plus LD_PRELOAD
 * when HOOK, plus env (NULL-terminated "K=V" list, may be NULL).
 */
struct child *spawn(const char *name, int flags, const char *const *env,
		    const char *const *argv);
/* Send one control message. */
__attribute__((format(printf, 2, 3))) void tell(struct child *c, const char *fmt, ...);
/* Receive one control message (fails the test on EOF or timeout). */
void hear(struct child *c, char *buf, size_t len);
/* hear() and check it starts with prefix. */
void expect(struct child *c, const char *prefix, char *buf, size_t len);
/* Wait for the program to end; fills out_text/err_text; returns status. */
int reap(struct child *c);
/* reap() and require exit status code (with its stderr in the report). */
void expect_exit(struct child *c, int code);
/* Lines in s (a last line without '\n' counts). */
int count_lines(const char *s);

/* ---- what the hook and the kernel say ----------------------------------- */

struct hook_stats {
	int found;
	uint64_t pool, glibc, grows, pool_size, joined;
};
/* Parse "agnocast heaphook: pool N glibc N ..." out of a stderr text. */
void parse_stats(const char *err, struct hook_stats *st);
/* Fail unless found and joined, note the line. */
struct hook_stats require_stats(struct child *c);

/* The mappings of /dev/shm/agnocast@<owner> in process pid, from smaps. */
struct pool_map {
	int vmas;
	uint64_t start, end;	/* lowest start, highest end */
	uint64_t rss_kb, size_kb;
	char perms[8];		/* of the first vma */
};
void pool_map(pid_t pid, pid_t owner, struct pool_map *pm);

/* The status file's "process pid <pid> ..." line into line: 0, or -1. */
int status_process(pid_t pid, char *line, size_t len);
/* Module totals all zero and no /dev/shm/agnocast@*: 0, else -1 and why. */
int module_clean(char *why, size_t len);
/* Run a command (argv), wait, return its wait status. */
int run_cmd(const char *const *argv);

#endif
