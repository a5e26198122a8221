// SPDX-License-Identifier: Apache-2.0
/*
 * Ids belong to a process: another process (even a forked child holding
 * the same open file) gets EPERM with them, ESRCH before it joined; ids
 * nobody has, or removed ones, are ENOENT.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

struct owner_ids {
	int dev;
	uint32_t pub, sub;
	struct ag_pool parent;
};

static void check_all_fail(int dev, const struct owner_ids *o, uint64_t addr,
			   int err)
{
	struct agnocast_remove_args rm;
	struct agnocast_publish_args pu;
	struct agnocast_entry e[2];
	uint64_t recl[2];
	uint32_t nr;

	memset(&pu, 0, sizeof(pu));
	pu.publisher_id = o->pub;
	pu.addr = addr;
	pu.len = 16;
	pu.reclaimed = p2u(recl);
	pu.reclaimed_cap = 2;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &pu), err);
	CHECK_ERR(receive_raw(dev, o->sub, e, 2, &nr), err);
	CHECK_ERR(take_raw(dev, o->sub, e), err);
	CHECK_ERR(release_raw(dev, o->sub, 1), err);
	memset(&rm, 0, sizeof(rm));
	rm.id = o->pub;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm), err);
	rm.id = o->sub;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_SUBSCRIBER_CMD, &rm), err);
}

static void intruder(int sock, void *arg)
{
	struct owner_ids *o = arg;
	struct ag_pool pool;
	int dev2;

	(void)sock;
	/* Not joined yet: the inherited open file is not a registration. */
	check_all_fail(o->dev, o, o->parent.addr, ESRCH);
	/* Our copy of the parent's pool mapping is of no use to us. */
	CHECK_OK(munmap(u2p(o->parent.addr), o->parent.max));
	JOIN(o->dev, UNIT, 0, &pool);
	check_all_fail(o->dev, o, pool.addr, EPERM);
	/* Same through a file of our own. */
	dev2 = AG_OPEN();
	check_all_fail(dev2, o, pool.addr, EPERM);
	close(dev2);
}

TEST(foreign_ids_eperm)
{
	struct owner_ids o;
	struct agnocast_entry e[2];
	uint64_t addrs[4];
	struct topic_info ti;
	struct ag_sub sub;
	struct child c;

	o.dev = AG_OPEN();
	JOIN(o.dev, UNIT, 0, &o.parent);
	o.pub = ADD_PUB(o.dev, "owner", 4, 0);
	sub = ADD_SUB(o.dev, "owner", 4, 0);
	o.sub = sub.id;
	write_msg(o.parent.addr, 1);
	CHECK_EQ(PUBLISH(o.dev, o.pub, o.parent.addr, 16), 1);
	CHECK_EQ(RECEIVE(o.dev, o.sub, e, 2), 1);

	c = spawn(intruder, &o);
	REAP_OK(c.pid);

	/* Nothing of ours was touched. */
	TOPIC_INFO(o.dev, "owner", &ti);
	CHECK_EQ(ti.a.nr_pubs, 1);
	CHECK_EQ(ti.a.nr_subs, 1);
	CHECK_EQ(ti.subs[0].count, 1);
	CHECK_EQ(ti.a.last_seq, 1);
	RELEASE(o.dev, o.sub, 1);
	write_msg(o.parent.addr + 64, 2);
	CHECK_EQ(PUBLISH(o.dev, o.pub, o.parent.addr + 64, 16), 2);
	CHECK_EQ(RECEIVE(o.dev, o.sub, e, 2), 1);
	CHECK_EQ(e[0].seq, 2);
	RELEASE(o.dev, o.sub, 2);
	REMOVE_SUB(o.dev, o.sub);
	REMOVE_PUB(o.dev, o.pub);
	/* Both entries wait in our reclaim queue until we collect them. */
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 2, 0);
	CHECK_EQ(RECLAIM(o.dev, addrs, 4), 2);
	CHECK_EQ(addrs[0], o.parent.addr);
	CHECK_EQ(addrs[1], o.parent.addr + 64);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	close(sub.fd);
}

TEST(unknown_and_removed_ids_enoent)
{
	struct owner_ids o;
	struct ag_pool pool;
	struct ag_sub sub;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	o.dev = dev;
	o.pub = 0xfffffff0u;
	o.sub = 0xfffffff1u;
	check_all_fail(dev, &o, pool.addr, ENOENT);

	o.pub = ADD_PUB(dev, "owner/removed", 1, 0);
	sub = ADD_SUB(dev, "owner/removed", 1, 0);
	o.sub = sub.id;
	REMOVE_PUB(dev, o.pub);
	REMOVE_SUB(dev, o.sub);
	check_all_fail(dev, &o, pool.addr, ENOENT);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	close(sub.fd);
}
