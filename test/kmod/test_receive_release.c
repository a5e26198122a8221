// SPDX-License-Identifier: Apache-2.0
/*
 * RECEIVE releases first: the listed seqs the subscriber holds are
 * released (others skipped) before new entries are received, in one call;
 * the releases stand when nothing new is there; entries_cap 0 only
 * releases; an unreadable release list fails with EFAULT and releases
 * nothing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

TEST(receive_releases_before_receiving)
{
	struct agnocast_entry e[4];
	struct ag_pool pool;
	struct topic_info ti;
	struct ag_sub sub;
	uint64_t rel[3], addrs[4];
	uint32_t pub, nr;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "rxrel", 1, 0);
	sub = ADD_SUB(dev, "rxrel", 4, 0);
	write_msg(pool.addr, 1);
	PUBLISH(dev, pub, pool.addr, 16);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	write_msg(pool.addr + 64, 2);
	PUBLISH(dev, pub, pool.addr + 64, 16);	/* 1 is only held now */

	rel[0] = 1;
	rel[1] = 77;		/* not held: skipped */
	CHECK_OK(receive_release_raw(dev, sub.id, rel, 2, e, 4, &nr));
	CHECK_EQ(nr, 1);
	CHECK_EQ(e[0].seq, 2);
	CHECK_EQ(RECLAIM(dev, addrs, 4), 1);
	CHECK_EQ(addrs[0], pool.addr);

	/* Nothing new: the release stands, the call says EAGAIN. */
	rel[0] = 2;
	CHECK_ERR(receive_release_raw(dev, sub.id, rel, 1, e, 4, &nr), EAGAIN);
	TOPIC_INFO(dev, "rxrel", &ti);
	CHECK_EQ(ti.subs[0].count, 0);

	/* Only releasing. */
	write_msg(pool.addr + 128, 3);
	PUBLISH(dev, pub, pool.addr + 128, 16);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	rel[0] = 3;
	nr = 99;
	CHECK_OK(receive_release_raw(dev, sub.id, rel, 1, e, 0, &nr));
	CHECK_EQ(nr, 0);
	TOPIC_INFO(dev, "rxrel", &ti);
	CHECK_EQ(ti.subs[0].count, 0);
}

TEST(unreadable_release_list_releases_nothing)
{
	struct agnocast_entry e[4];
	struct ag_pool pool;
	struct topic_info ti;
	struct ag_sub sub;
	uint32_t pub, nr;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "rxrel/bad", 1, 0);
	sub = ADD_SUB(dev, "rxrel/bad", 4, 0);
	write_msg(pool.addr, 1);
	PUBLISH(dev, pub, pool.addr, 16);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_ERR(receive_release_raw(dev, sub.id, bad_ptr(), 1, e, 4, &nr), EFAULT);
	TOPIC_INFO(dev, "rxrel/bad", &ti);
	CHECK_EQ(ti.subs[0].count, 1);
	RELEASE(dev, sub.id, 1);
}
