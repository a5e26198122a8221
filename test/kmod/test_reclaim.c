// SPDX-License-Identifier: Apache-2.0
/*
 * Reclaim: an entry comes back to its publisher (through RECLAIM or
 * PUBLISH's reclaimed output, oldest first, exactly once) only after every
 * subscriber released it and it left the publisher's history. RELEASE of
 * what is not held is ENOENT. RECEIVE / TAKE stop at AGNOCAST_HOLD_MAX.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "roles.h"
#include "status.h"

static uint64_t reclaimable_of(pid_t pid, uint64_t *entries)
{
	struct status st;
	uint64_t n;

	STATUS_READ(&st);
	n = ST_U64(ST_PROC(&st, pid), "reclaimable");
	if (entries)
		*entries = st.totals[4];
	status_free(&st);
	return n;
}

TEST(reclaim_only_after_every_release)
{
	static const struct sub_cfg hold = { "reclaim/all", 1, { { 10, 0 } }, 1 };
	struct sub_proc s1, s2;
	struct recv_result r;
	struct ag_pool pool;
	uint64_t recl[4], e1, e2, e3, entries;
	uint32_t pub, nr;
	pid_t me = getpid();
	int dev;

	sub_start(&s1, &hold);
	sub_start(&s2, &hold);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reclaim/all", 1, 0);
	sub_map(&s1, me);
	sub_map(&s2, me);

	e1 = pool.addr;
	write_msg(e1, 1);
	CHECK_EQ(PUBLISH_R(dev, pub, e1, 16, recl, 4, &nr), 1);
	CHECK_EQ(nr, 0);
	SUB_RECV(&s1, 16, &r);
	CHECK_SEQS(&r, 0, 1);
	SUB_RECV(&s2, 16, &r);
	CHECK_SEQS(&r, 0, 1);

	/* Entry 1 leaves the history (depth 1) but both hold it. */
	e2 = pool.addr + 64;
	write_msg(e2, 2);
	CHECK_EQ(PUBLISH_R(dev, pub, e2, 16, recl, 4, &nr), 2);
	CHECK_EQ(nr, 0);
	CHECK_EQ(RECLAIM(dev, recl, 4), 0);

	CHECK_EQ(sub_release(&s1, 1), 0);
	CHECK_EQ(RECLAIM(dev, recl, 4), 0);
	CHECK_EQ(reclaimable_of(me, NULL), 0);
	/* Double release, unknown seq, seq never received: ENOENT. */
	CHECK_EQ(sub_release(&s1, 1), ENOENT);
	CHECK_EQ(sub_release(&s1, 999), ENOENT);
	CHECK_EQ(sub_release(&s1, 2), ENOENT);

	CHECK_EQ(sub_release(&s2, 1), 0);
	CHECK_EQ(reclaimable_of(me, &entries), 1);
	CHECK_EQ(entries, 2);	/* entry 2 alive, entry 1 not yet handed back */
	CHECK_EQ(RECLAIM(dev, recl, 4), 1);
	CHECK_EQ(recl[0], e1);
	CHECK_EQ(RECLAIM(dev, recl, 4), 0);	/* exactly once */
	CHECK_EQ(reclaimable_of(me, &entries), 0);
	CHECK_EQ(entries, 1);

	/* Entry 2: released by both but still in the history. */
	SUB_RECV(&s1, 16, &r);
	CHECK_SEQS(&r, 0, 2);
	SUB_RECV(&s2, 16, &r);
	CHECK_SEQS(&r, 0, 2);
	CHECK_EQ(sub_release(&s1, 2), 0);
	CHECK_EQ(sub_release(&s2, 2), 0);
	CHECK_EQ(RECLAIM(dev, recl, 4), 0);

	/* Publishing entry 3 pushes it out: PUBLISH hands it back. */
	e3 = pool.addr + 128;
	write_msg(e3, 3);
	CHECK_EQ(PUBLISH_R(dev, pub, e3, 16, recl, 4, &nr), 3);
	CHECK_EQ(nr, 1);
	CHECK_EQ(recl[0], e2);
	CHECK_EQ(RECLAIM(dev, recl, 4), 0);

	sub_stop(&s1);
	sub_stop(&s2);
}

TEST(reclaimed_oldest_first_across_publish_and_reclaim)
{
	static const struct sub_cfg hold = { "reclaim/order", 1, { { 10, 0 } }, 1 };
	struct sub_proc s;
	struct recv_result r;
	struct ag_pool pool;
	uint64_t recl[8], addr[6];
	uint32_t pub, nr, i;
	int dev;

	sub_start(&s, &hold);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reclaim/order", 1, 0);
	sub_map(&s, getpid());
	/* Entries 1..4, each received (held) before the next is published. */
	for (i = 1; i <= 4; i++) {
		addr[i] = pool.addr + i * 64;
		write_msg(addr[i], i);
		CHECK_EQ(PUBLISH_R(dev, pub, addr[i], 16, recl, 8, &nr), i);
		CHECK_EQ(nr, 0);
		SUB_RECV(&s, 16, &r);
		CHECK_SEQS(&r, 0, i);
	}
	/* Released in seq order: "oldest first" is then the same by age of
	 * the entry and by the time it became reclaimable. */
	CHECK_EQ(sub_release(&s, 1), 0);
	CHECK_EQ(sub_release(&s, 2), 0);
	CHECK_EQ(sub_release(&s, 3), 0);
	/* Capacity 1: the oldest; the others stay for RECLAIM. */
	addr[5] = pool.addr + 5 * 64;
	write_msg(addr[5], 5);
	CHECK_EQ(PUBLISH_R(dev, pub, addr[5], 16, recl, 1, &nr), 5);
	CHECK_EQ(nr, 1);
	CHECK_EQ(recl[0], addr[1]);
	CHECK_EQ(RECLAIM(dev, recl, 8), 2);
	CHECK_EQ(recl[0], addr[2]);
	CHECK_EQ(recl[1], addr[3]);
	CHECK_EQ(RECLAIM(dev, recl, 8), 0);
	/* Entry 4 is still held, entry 5 retained. */
	CHECK_EQ(sub_release(&s, 4), 0);
	CHECK_EQ(RECLAIM(dev, recl, 8), 1);
	CHECK_EQ(recl[0], addr[4]);
	sub_stop(&s);
}

TEST(enobufs_at_hold_max)
{
	struct agnocast_entry *e = calloc(AGNOCAST_DEPTH_MAX, sizeof(*e));
	struct topic_info ti;
	struct ag_pool pool;
	struct ag_sub sub;
	uint64_t seq = 0, addr;
	uint32_t pub, nr, round, i;
	int dev = AG_OPEN();

	CHECK(e != NULL);
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reclaim/enobufs", AGNOCAST_DEPTH_MAX, 0);
	sub = ADD_SUB(dev, "reclaim/enobufs", AGNOCAST_DEPTH_MAX, 0);
	for (round = 0; round < AGNOCAST_HOLD_MAX / AGNOCAST_DEPTH_MAX; round++) {
		for (i = 0; i < AGNOCAST_DEPTH_MAX; i++) {
			addr = pool.addr + seq * 16;
			CHECK_EQ(PUBLISH(dev, pub, addr, 16), ++seq);
		}
		CHECK_EQ(RECEIVE(dev, sub.id, e, AGNOCAST_DEPTH_MAX), AGNOCAST_DEPTH_MAX);
		CHECK_EQ(e[0].seq, seq - AGNOCAST_DEPTH_MAX + 1);
		CHECK_EQ(e[AGNOCAST_DEPTH_MAX - 1].seq, seq);
	}
	TOPIC_INFO(dev, "reclaim/enobufs", &ti);
	CHECK_EQ(ti.subs[0].count, AGNOCAST_HOLD_MAX);

	CHECK_EQ(PUBLISH(dev, pub, pool.addr + seq * 16, 16), ++seq);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), ENOBUFS);
	CHECK_ERR(take_raw(dev, sub.id, e), ENOBUFS);
	TOPIC_INFO(dev, "reclaim/enobufs", &ti);
	CHECK_EQ(ti.subs[0].count, AGNOCAST_HOLD_MAX);

	/* One released: the pending entry can be received. */
	RELEASE(dev, sub.id, 1);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, seq);
	TOPIC_INFO(dev, "reclaim/enobufs", &ti);
	CHECK_EQ(ti.subs[0].count, AGNOCAST_HOLD_MAX);
	free(e);
	close(sub.fd);
}
