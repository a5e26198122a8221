// SPDX-License-Identifier: Apache-2.0
/*
 * A reliable subscriber's queue never holds more than its depth, even when
 * a RECEIVE fails to copy its answer out while a sibling thread publishes.
 *
 * The queue is full (PUBLISH answers EAGAIN). A RECEIVE whose entries
 * buffer is read-only delivers, fails to copy out and gives back what it
 * delivered. Meanwhile a sibling thread PUBLISHes in a loop. If the
 * delivery made room in the queue before the copy-out could not fail any
 * more, a PUBLISH gets in, and the undo puts the entries back on top of it:
 * depth + 1 queued. Rounds loop until a round cap or a wall-clock cap; the
 * sibling spins on PUBLISH for the whole RECEIVE, nothing sleeps.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"

#define DEPTH 2
#define BLK 64
#define NBLK 64
#define ROUNDS 3000
#define RACE_MS 15000
#define PAGE 4096

struct rq {
	int dev;
	uint32_t pub, sub;
	struct ag_pool pool;
	pthread_mutex_t lock;		/* in_use */
	uint8_t in_use[NBLK];
	_Atomic uint32_t round;		/* the sibling publishes in it; 0: idle */
	_Atomic uint32_t started;	/* the last round the sibling entered */
	_Atomic uint32_t finished;	/* the last round the sibling left */
	_Atomic int stop;
	_Atomic uint32_t landed;	/* PUBLISHes that got in during a RECEIVE */
};

/* An address PUBLISH or RECLAIM handed back: its block is free again. */
static void take_back(struct rq *q, uint64_t addr)
{
	uint64_t idx = (addr - q->pool.addr) / BLK;

	if (addr < q->pool.addr || idx >= NBLK || !q->in_use[idx])
		FAIL("address 0x%llx handed back, not one of the published blocks",
		     (unsigned long long)addr);
	q->in_use[idx] = 0;
}

/* PUBLISH a free block: 0 or the errno (EAGAIN: a reliable queue is full). */
static int try_publish(struct rq *q)
{
	struct agnocast_publish_args a;
	uint64_t recl[NBLK];
	uint32_t idx, i;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	for (idx = 0; idx < NBLK && q->in_use[idx]; idx++)
		;
	if (idx == NBLK)
		FAIL("all %u blocks published and none handed back", NBLK);
	memset(&a, 0, sizeof(a));
	a.publisher_id = q->pub;
	a.addr = q->pool.addr + (uint64_t)idx * BLK;
	a.len = BLK;
	a.reclaimed = p2u(recl);
	a.reclaimed_cap = NBLK;
	if (ag_ioctl(q->dev, AGNOCAST_PUBLISH_CMD, &a)) {
		err = errno;
	} else {
		q->in_use[idx] = 1;
		for (i = 0; i < a.nr_reclaimed; i++)
			take_back(q, recl[i]);
	}
	pthread_mutex_unlock(&q->lock);
	if (err && err != EAGAIN)
		FAIL("PUBLISH: %s", errname(err));
	return err;
}

static void *sibling(void *arg)
{
	struct rq *q = arg;
	uint32_t r;

	while (!atomic_load(&q->stop)) {
		r = atomic_load(&q->round);
		if (!r || r == atomic_load(&q->finished)) {
			sched_yield();
			continue;
		}
		atomic_store(&q->started, r);
		while (atomic_load(&q->round) == r)
			if (!try_publish(q))
				atomic_fetch_add(&q->landed, 1);
		atomic_store(&q->finished, r);
	}
	return NULL;
}

/* Receive and release everything queued, and take the blocks back. */
static void drain(struct rq *q)
{
	struct agnocast_entry e[8];
	uint64_t recl[NBLK];
	uint32_t nr, i;

	while (!receive_raw(q->dev, q->sub, e, 8, &nr))
		for (i = 0; i < nr; i++)
			RELEASE(q->dev, q->sub, e[i].seq);
	CHECK_ERR(receive_raw(q->dev, q->sub, e, 8, &nr), EAGAIN);
	pthread_mutex_lock(&q->lock);
	while ((nr = RECLAIM(q->dev, recl, NBLK)))
		for (i = 0; i < nr; i++)
			take_back(q, recl[i]);
	pthread_mutex_unlock(&q->lock);
}

static void round_once(struct rq *q, uint32_t rnd, void *ro)
{
	struct agnocast_endpoint_state_args st;
	struct agnocast_receive_args a;
	int n = 0, rc, err;

	/* Fill the queue: DEPTH entries, then EAGAIN. */
	while (!try_publish(q))
		n++;
	CHECK_EQ(n, DEPTH);
	memset(&a, 0, sizeof(a));
	a.subscriber_id = q->sub;
	a.entries_cap = DEPTH;
	a.entries = p2u(ro);
	atomic_store(&q->round, rnd);
	while (atomic_load(&q->started) != rnd)
		sched_yield();
	rc = ag_ioctl(q->dev, AGNOCAST_RECEIVE_CMD, &a);
	err = errno;
	atomic_store(&q->round, 0);
	while (atomic_load(&q->finished) != rnd)
		sched_yield();
	if (rc != -1 || err != EFAULT)
		FAIL("RECEIVE into a read-only buffer: %d (%s), expected EFAULT",
		     rc, errname(err));
	CHECK_OK(endpoint_state_raw(q->dev, 0, q->sub, &st));
	if (st.queued > DEPTH || st.nr_full != 1)
		FAIL("round %u: after a failed RECEIVE the reliable queue holds %u entries (depth %u), %u full queue(s); %u PUBLISHes got in during RECEIVEs so far",
		     rnd, st.queued, DEPTH, st.nr_full, atomic_load(&q->landed));
	drain(q);
}

TEST(reliable_queue_bound_vs_failed_receive)
{
	struct rq q = { .lock = PTHREAD_MUTEX_INITIALIZER };
	uint64_t deadline = now_ms() + RACE_MS;
	pthread_t th;
	uint32_t rnd;
	void *ro;

	q.dev = AG_OPEN();
	JOIN(q.dev, UNIT, 0, &q.pool);
	q.pub = ADD_PUB(q.dev, "/reliable_undo", 1, 0);
	q.sub = ADD_SUB(q.dev, "/reliable_undo", DEPTH, AGNOCAST_QOS_RELIABLE).id;
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	CHECK_OK(pthread_create(&th, NULL, sibling, &q));
	for (rnd = 1; rnd <= ROUNDS && now_ms() < deadline; rnd++)
		round_once(&q, rnd, ro);
	atomic_store(&q.stop, 1);
	CHECK_OK(pthread_join(th, NULL));
	note("%u rounds; %u PUBLISHes got in while a RECEIVE held the queue full",
	     rnd - 1, atomic_load(&q.landed));
	CHECK_EQ(atomic_load(&q.landed), 0);
}
