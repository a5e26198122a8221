/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forked processes that run a function of the test, and their
 * synchronisation: message sockets (TELL / WAIT_FOR), never sleeps; poll
 * timeouts (SYNC_TIMEOUT_MS) are only safety nets. A waiter that must be
 * blocked before an event is observed sleeping through /proc first.
 */
#ifndef AGNOCAST_TAP_PROCS_H
#define AGNOCAST_TAP_PROCS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tap.h"

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

/* "exited with status N", "was killed by signal N (NAME)", ... of a wait status. */
void describe_status(char *buf, size_t len, int st);

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

/* A page that is mapped PROT_NONE: a user pointer the kernel cannot use. */
void *bad_ptr(void);

/* Lowest free descriptor number (probes with dup). */
int lowest_free_fd(void);
/* Open descriptors of this process (the one reading /proc/self/fd included). */
int nr_open_fds(void);

/* Small xorshift PRNG for the stress test. */
uint64_t rng_next(uint64_t *state);

#endif
