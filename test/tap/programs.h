/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Programs a test starts and checks from outside (execve, not fork): their
 * stdout and stderr are captured in memory files, fd 3 is one end of a
 * SOCK_SEQPACKET socketpair (the control channel: one message per
 * send/recv), stdin is /dev/null. When a test fails, every program it
 * started is reported with its state and the tail of its stderr. Waiting
 * for a message is bounded by a safety timeout; nothing sleeps to let a
 * race settle.
 */
#ifndef AGNOCAST_TAP_PROGRAMS_H
#define AGNOCAST_TAP_PROGRAMS_H

#include <stddef.h>
#include <sys/types.h>

#include "tap.h"

/* Where programs named without a slash are (set by the suite). */
extern const char *g_bindir;
/* The library PROG_PRELOAD puts in LD_PRELOAD (set by the suite). */
extern const char *g_preload;

struct program {
	char name[32];
	pid_t pid;
	int ctl;		/* the test's end of the control socket */
	int out, err;		/* memory files holding stdout / stderr */
	int reaped, status;
	char *out_text, *err_text;	/* after reap() */
};

#define PROG_PRELOAD 1	/* run under LD_PRELOAD=g_preload */
/*
 * Start argv (argv[0] without a slash: a program in g_bindir) with the
 * test's environment less LD_PRELOAD, PYTHONMALLOC and AGNOCAST_*, plus
 * LD_PRELOAD when PROG_PRELOAD, plus env (NULL-terminated "K=V" list, may
 * be NULL).
 */
struct program *prog_start(const char *name, int flags, const char *const *env,
			   const char *const *argv);
/* Send one control message. */
__attribute__((format(printf, 2, 3))) void tell(struct program *c, const char *fmt, ...);
/* Receive one control message (fails the test on EOF or timeout). */
void hear(struct program *c, char *buf, size_t len);
/* hear() and check it starts with prefix (buf may be NULL). */
void expect(struct program *c, const char *prefix, char *buf, size_t len);
/* Wait for the program to end; fills out_text/err_text; returns its wait status. */
int reap(struct program *c);
/* reap() and require exit status code (with its stderr in the report). */
void expect_exit(struct program *c, int code);
/* "exit status N", "killed by signal N (SIG)". */
const char *describe(int status);
/* Lines in s (a last line without '\n' counts). */
int count_lines(const char *s);
/* Run a command (argv, PATH searched), wait, return its wait status. */
int run_cmd(const char *const *argv);

#endif
