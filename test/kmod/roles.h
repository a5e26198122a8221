/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-driven publisher and subscriber processes, for tests that need
 * several of them and drive them step by step from the test process.
 */
#ifndef AGNOCAST_KTEST_ROLES_H
#define AGNOCAST_KTEST_ROLES_H

#include <stdint.h>
#include <sys/types.h>

#include "ag.h"
#include "harness.h"

/* ---- publisher ---- */

struct pub_cfg {
	const char *topic;
	uint32_t depth, flags;
};

struct pub_hello {
	struct ag_pool pool;
	uint32_t pub_id;
	uint32_t pad;
};

struct pub_proc {
	struct child c;
	struct pub_hello h;
};

/*
 * Spawn a process that joins, adds a publisher with cfg (cfg must outlive
 * the call only until it returns) and waits for commands.
 */
void pub_start(struct pub_proc *p, const struct pub_cfg *cfg);
/* Have it publish one message with label; returns the seq. */
uint64_t pub_one_at(const char *f, int l, struct pub_proc *p, uint32_t label,
		    uint64_t *addr);
#define PUB_ONE(p, label) pub_one_at(__FILE__, __LINE__, p, label, NULL)
#define PUB_ONE_ADDR(p, label, addr) pub_one_at(__FILE__, __LINE__, p, label, addr)
/* Have it RECLAIM (capacity 8, addrs has room for 8); returns nr_addrs. */
uint32_t pub_reclaim(struct pub_proc *p, uint64_t *addrs);
/* Tell it to exit and reap it. */
void pub_stop(struct pub_proc *p);

/* ---- subscriber ---- */

#define ROLE_MAX_SUBS 3
#define ROLE_MAX_ENTRIES 16

struct sub_cfg {
	const char *topic;
	int n;				/* subscriptions in this process */
	struct agnocast_qos qos[ROLE_MAX_SUBS];
	int hold;			/* keep references (else release at once) */
};

struct sub_hello {
	uint32_t nr_pubs[ROLE_MAX_SUBS];
	uint32_t ids[ROLE_MAX_SUBS];
};

struct got_entry {
	uint64_t seq, addr;
	int32_t pid;
	uint32_t label;
	uint32_t publisher_id;
	uint32_t pad;
};

struct recv_result {
	int32_t err[ROLE_MAX_SUBS];	/* 0 or the errno of RECEIVE */
	uint32_t nr[ROLE_MAX_SUBS];
	uint32_t readable[ROLE_MAX_SUBS];	/* POLLIN right after */
	struct got_entry e[ROLE_MAX_SUBS][ROLE_MAX_ENTRIES];
};

struct sub_proc {
	struct child c;
	struct sub_hello h;
};

/*
 * Spawn a process that joins, subscribes as cfg says, maps the pools of
 * the publishers already there, and waits for commands.
 */
void sub_start(struct sub_proc *s, const struct sub_cfg *cfg);
/* Have it map the pool of a publisher process that came later. */
void sub_map(struct sub_proc *s, pid_t pid);
/* One RECEIVE (capacity cap) on each of its subscriptions. */
void sub_recv_at(const char *f, int l, struct sub_proc *s, uint32_t cap,
		 struct recv_result *r);
#define SUB_RECV(s, cap, r) sub_recv_at(__FILE__, __LINE__, s, cap, r)
/* RELEASE seq on its first subscription; returns 0 or the errno. */
int sub_release(struct sub_proc *s, uint64_t seq);
void sub_stop(struct sub_proc *s);

/* Check one subscription's result: exactly the seqs listed. */
void check_seqs_at(const char *f, int l, const struct recv_result *r, int sub,
		   const uint64_t *seqs, uint32_t n);
#define CHECK_SEQS(r, sub, ...)                                           \
	do {                                                              \
		const uint64_t s_[] = { __VA_ARGS__ };                    \
		check_seqs_at(__FILE__, __LINE__, r, sub, s_,             \
			      sizeof(s_) / sizeof(s_[0]));                \
	} while (0)
/* The subscription got EAGAIN (nothing new). */
#define CHECK_NOTHING(r, sub)                                             \
	do {                                                              \
		if ((r)->err[sub] != EAGAIN)                              \
			FAIL("subscription %d: RECEIVE gave %s with %u entries, expected EAGAIN", \
			     sub, errname((r)->err[sub]), (r)->nr[sub]);  \
	} while (0)

#endif
