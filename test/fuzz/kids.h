/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Processes a participant makes: forked children (which use the inherited
 * descriptors, then maybe join), exec'd helpers (this binary again, in
 * helper mode), CLONE_VM children and vfork children that call ioctls
 * on a joined process's behalf (EPERM), and their reaping.
 */
#ifndef FUZZ_KIDS_H
#define FUZZ_KIDS_H

#include <sys/types.h>

#include "proc.h"

/* The exec'd helper's entry: argv[1] is "--helper". */
int helper_main(int argc, char **argv);

/*
 * Wait for a child for up to a random time below max_ms, SIGKILL it if
 * it is still running, reap it and check how it ended (exit 0, a recorded
 * failure, or our SIGKILL). Returns its wait status.
 */
int wait_or_kill(struct tctx *t, pid_t pid, unsigned int max_ms);

/* Wait for a child (however long) and check how it ended. */
int reap_child(struct tctx *t, pid_t pid);

/* In a forked child: PDEATHSIG, and leave if the parent is gone. */
void child_setup(pid_t parent);

/*
 * Exec this binary in helper mode: argv of "--helper MODE SID DEVFD
 * SUBFD SUBID PUBID TOPIC" (descriptors not close-on-exec). Returns only
 * on failure.
 */
void exec_helper(const char *mode, uint64_t sid, int dev, int subfd,
		 uint32_t sub, uint32_t pub, const char *topic);

/* Calls a CLONE_VM / vfork child makes; their results. */
#define CJOB_N 20
struct cjob {
	int dev;
	int n;
	struct {
		int ioc;
		unsigned long cmd;
		long res;	/* 0 or -errno */
		struct {
			uint64_t raw[40];	/* the largest argument fits */
		} arg;
	} c[CJOB_N];
};
/* vm: for a CLONE_VM or vfork child (then ADD_PROCESS is among them). */
void cjob_build(struct tctx *t, struct cjob *j, int vm);
void cjob_run(struct cjob *j);
/* Every call acted for the process: EPERM if it joined, else ESRCH. */
void cjob_check(struct tctx *t, const struct cjob *j, const char *who);

#endif
