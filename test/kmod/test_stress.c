// SPDX-License-Identifier: Apache-2.0
/*
 * A small concurrency stress, mostly for the debug kernel (lockdep, KASAN,
 * kmemleak): two publisher processes and two subscriber processes on two
 * topics, publishing, receiving, releasing and reclaiming as fast as they
 * can, with one of the four SIGKILLed at a random point. Subscribers check
 * every block they hold is intact (a block handed back too early and
 * reused would show); publishers check no block is handed back twice.
 * Then everything must be gone.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define ITERS 2000
#define BLK 128
#define NBLK (UNIT / BLK)

static const char *const topics[2] = { "stress/0", "stress/1" };

struct role {
	int victim;
	uint32_t kill_at;
};

static void fill_block(uint64_t addr, uint32_t n)
{
	uint8_t *p = u2p(addr);
	uint32_t i;

	write_msg(addr, n);
	for (i = sizeof(struct msg); i < BLK; i++)
		p[i] = (uint8_t)(n * 7 + i);
}

static void check_block(uint64_t addr, pid_t pid, uint32_t n)
{
	const uint8_t *p = u2p(addr);
	uint32_t i;

	CHECK_MSG(addr, pid, n);
	for (i = sizeof(struct msg); i < BLK; i++)
		if (p[i] != (uint8_t)(n * 7 + i))
			FAIL("block at 0x%llx (message %u of %d) changed at byte %u while held",
			     (unsigned long long)addr, n, (int)pid, i);
}

static void stress_publisher(int sock, void *arg)
{
	struct role *ro = arg;
	static uint32_t freel[NBLK];
	static uint8_t in_use[NBLK];
	struct ag_pool pool;
	uint64_t recl[64], last[2] = { 0, 0 }, seq, deadline;
	uint32_t pub[2], nfree = 0, n, nr, i, idx, t;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub[0] = ADD_PUB(dev, topics[0], 4, AGNOCAST_QOS_TRANSIENT_LOCAL);
	pub[1] = ADD_PUB(dev, topics[1], 2, 0);
	for (i = 0; i < NBLK; i++)
		freel[nfree++] = NBLK - 1 - i;
	TELL(sock, "ready");
	WAIT_FOR(sock, "go");

#define TAKE_BACK(a)                                                      \
	do {                                                              \
		uint64_t a_ = (a);                                        \
		CHECK(a_ >= pool.addr && a_ < pool.addr + NBLK * BLK);    \
		CHECK_EQ((a_ - pool.addr) % BLK, 0);                      \
		idx = (uint32_t)((a_ - pool.addr) / BLK);                 \
		if (!in_use[idx])                                         \
			FAIL("block %u handed back while not in use", idx); \
		in_use[idx] = 0;                                          \
		freel[nfree++] = idx;                                     \
	} while (0)

	for (n = 0; n < ITERS; n++) {
		t = n & 1;
		deadline = now_ms() + SYNC_TIMEOUT_MS;
		while (nfree == 0) {
			nr = RECLAIM(dev, recl, 64);
			for (i = 0; i < nr; i++)
				TAKE_BACK(recl[i]);
			if (nr == 0) {
				if (now_ms() > deadline)
					FAIL("all %u blocks out and none handed back for %d ms",
					     (unsigned)NBLK, SYNC_TIMEOUT_MS);
				sched_yield();
			}
		}
		idx = freel[--nfree];
		in_use[idx] = 1;
		fill_block(pool.addr + (uint64_t)idx * BLK, n);
		seq = PUBLISH_R(dev, pub[t], pool.addr + (uint64_t)idx * BLK, BLK,
				recl, 64, &nr);
		CHECK(seq > last[t]);
		last[t] = seq;
		for (i = 0; i < nr; i++)
			TAKE_BACK(recl[i]);
		if (ro->victim && n == ro->kill_at)
			TELL(sock, "killme");
	}
#undef TAKE_BACK
	TELL(sock, "done");
	WAIT_FOR(sock, "exit");
}

static void stress_subscriber(int sock, void *arg)
{
	struct role *ro = arg;
	struct agnocast_pool_info pubs[4], info;
	struct agnocast_entry e[8];
	struct epoll_event ev, evs[3];
	struct ag_pool pool;
	struct ag_sub sub[2];
	uint64_t last_seq[2] = { 0, 0 }, count = 0;
	int64_t last_n[2][2] = { { -1, -1 }, { -1, -1 } };
	pid_t pids[2];
	uint32_t nr_pubs, nr, i;
	int dev = AG_OPEN(), ep, t, w, n, k, finishing = 0, sent = 0;
	char word[24];

	JOIN(dev, UNIT, 0, &pool);
	for (t = 0; t < 2; t++) {
		sub[t] = ADD_SUB_EX(dev, topics[t], 8,
				    t ? 0 : AGNOCAST_QOS_TRANSIENT_LOCAL, pubs, 4,
				    &nr_pubs);
		CHECK_EQ(nr_pubs, 2);
	}
	for (w = 0; w < 2; w++) {
		MAP_PEER(dev, pubs[w].pid, &info);
		pids[w] = pubs[w].pid;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0);
	for (t = 0; t < 3; t++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u32 = t;
		CHECK_OK(epoll_ctl(ep, EPOLL_CTL_ADD, t < 2 ? sub[t].fd : sock, &ev));
	}
	TELL(sock, "ready");
	while (!finishing) {
		do
			n = epoll_wait(ep, evs, 3, SYNC_TIMEOUT_MS);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			FAIL("epoll_wait: %d (%s): no progress", n, errname(errno));
		for (k = 0; k < n; k++)
			if (evs[k].data.u32 == 2) {
				RECV(sock, word);
				CHECK(!strcmp(word, "finish"));
				finishing = 1;
			}
		for (t = 0; t < 2; t++) {
			while (receive_raw(dev, sub[t].id, e, 8, &nr) == 0) {
				for (i = 0; i < nr; i++) {
					uint32_t label = MSG_LABEL(e[i].addr);

					w = e[i].pid == pids[0] ? 0 : e[i].pid == pids[1] ? 1 : -1;
					if (w < 0)
						FAIL("entry from pid %d", e[i].pid);
					CHECK_EQ(label & 1, (uint32_t)t);
					CHECK_EQ(e[i].len, BLK);
					CHECK(e[i].seq > last_seq[t]);
					CHECK((int64_t)label > last_n[w][t]);
					check_block(e[i].addr, e[i].pid, label);
					last_seq[t] = e[i].seq;
					last_n[w][t] = label;
					count++;
					RELEASE(dev, sub[t].id, e[i].seq);
					if (ro->victim && !sent && label >= ro->kill_at) {
						TELL(sock, "killme");
						sent = 1;
					}
				}
			}
			if (errno != EAGAIN)
				FAIL("RECEIVE: %s", errname(errno));
		}
	}
	SEND(sock, count);
}

TEST(two_by_two_with_a_random_kill)
{
	struct role roles[4];
	struct child c[4];
	struct pollfd pf[4];
	uint64_t seed, count;
	int victim, dead = 0, done[2] = { 0, 0 }, i, r;
	char word[24];

	seed = now_ns() ^ ((uint64_t)getpid() << 32);
	if (!seed)
		seed = 1;
	rng_next(&seed);
	victim = (int)(rng_next(&seed) % 4);
	memset(roles, 0, sizeof(roles));
	roles[victim].victim = 1;
	roles[victim].kill_at = (uint32_t)(rng_next(&seed) % ITERS);
	note("victim: %s %d at message %u", victim < 2 ? "publisher" : "subscriber",
	     victim % 2, roles[victim].kill_at);

	for (i = 0; i < 2; i++) {
		c[i] = spawn(stress_publisher, &roles[i]);
		WAIT_FOR(c[i].sock, "ready");
	}
	for (i = 2; i < 4; i++) {
		c[i] = spawn(stress_subscriber, &roles[i]);
		WAIT_FOR(c[i].sock, "ready");
	}
	CHECK_STATUS_TOTALS(4, 2, 4, 4, 0, 4);
	TELL(c[0].sock, "go");
	TELL(c[1].sock, "go");

	while (!dead || !(done[0] || victim == 0) || !(done[1] || victim == 1)) {
		for (i = 0; i < 4; i++) {
			pf[i].fd = (i == victim && dead) || (i < 2 && done[i]) ||
				   (i >= 2 && i != victim) ? -1 : c[i].sock;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		do
			r = poll(pf, 4, 60000);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			FAIL("no progress in 60 s (victim killed: %d, done: %d %d)",
			     dead, done[0], done[1]);
		for (i = 0; i < 4; i++) {
			if (!pf[i].revents)
				continue;
			RECV(c[i].sock, word);
			if (i == victim && !strcmp(word, "killme")) {
				KILL_REAP(c[i].pid);
				dead = 1;
			} else if (i < 2 && !strcmp(word, "done")) {
				done[i] = 1;
			} else {
				FAIL("unexpected \"%s\" from process %d", word, i);
			}
		}
	}
	for (i = 2; i < 4; i++) {
		if (i == victim)
			continue;
		TELL(c[i].sock, "finish");
		recv_at(__FILE__, __LINE__, c[i].sock, &count, sizeof(count), 60000);
		CHECK(count > 0);
		note("subscriber %d received %llu", i - 2, (unsigned long long)count);
		REAP_OK(c[i].pid);
	}
	for (i = 0; i < 2; i++) {
		if (i == victim)
			continue;
		TELL(c[i].sock, "exit");
		REAP_OK(c[i].pid);
	}
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
}
