// SPDX-License-Identifier: Apache-2.0
/*
 * EFAULT: the argument pointer of every ioctl, and the user pointers inside
 * the arguments. A failed copy-out of ADD_PUBLISHER / ADD_SUBSCRIBER leaves
 * nothing registered (and no descriptor); one of RECEIVE leaves the entries
 * pending; one of RECLAIM hands nothing out.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

static const struct {
	const char *name;
	unsigned long cmd;
} all_cmds[] = {
	{ "VERSION", AGNOCAST_VERSION_CMD },
	{ "ADD_PROCESS", AGNOCAST_ADD_PROCESS_CMD },
	{ "ATTACH_POOL", AGNOCAST_ATTACH_POOL_CMD },
	{ "ADD_PUBLISHER", AGNOCAST_ADD_PUBLISHER_CMD },
	{ "ADD_SUBSCRIBER", AGNOCAST_ADD_SUBSCRIBER_CMD },
	{ "REMOVE_PUBLISHER", AGNOCAST_REMOVE_PUBLISHER_CMD },
	{ "REMOVE_SUBSCRIBER", AGNOCAST_REMOVE_SUBSCRIBER_CMD },
	{ "PUBLISH", AGNOCAST_PUBLISH_CMD },
	{ "RECEIVE", AGNOCAST_RECEIVE_CMD },
	{ "TAKE", AGNOCAST_TAKE_CMD },
	{ "RELEASE", AGNOCAST_RELEASE_CMD },
	{ "RECLAIM", AGNOCAST_RECLAIM_CMD },
	{ "MAP_POOL", AGNOCAST_MAP_POOL_CMD },
	{ "UNMAP_POOL", AGNOCAST_UNMAP_POOL_CMD },
	{ "LIST_TOPICS", AGNOCAST_LIST_TOPICS_CMD },
	{ "TOPIC_INFO", AGNOCAST_TOPIC_INFO_CMD },
	{ "LIST_PROCESSES", AGNOCAST_LIST_PROCESSES_CMD },
};

TEST(efault_argument_pointer)
{
	struct ag_pool pool;
	size_t i;
	int dev = AG_OPEN(), r, e;

	JOIN(dev, UNIT, 0, &pool);
	for (i = 0; i < sizeof(all_cmds) / sizeof(all_cmds[0]); i++) {
		errno = 0;
		r = ag_ioctl(dev, all_cmds[i].cmd, NULL);
		e = errno;
		if (r != -1 || e != EFAULT)
			FAIL("%s with a NULL argument: %d errno %s, expected EFAULT",
			     all_cmds[i].name, r, errname(e));
		errno = 0;
		r = ag_ioctl(dev, all_cmds[i].cmd, bad_ptr());
		e = errno;
		if (r != -1 || e != EFAULT)
			FAIL("%s with a PROT_NONE argument: %d errno %s, expected EFAULT",
			     all_cmds[i].name, r, errname(e));
	}
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

static int add_pub_raw(int dev, const char *topic, uint64_t pids, uint32_t cap,
		       struct agnocast_add_publisher_args *a)
{
	memset(a, 0, sizeof(*a));
	set_topic(a->topic, topic);
	a->qos.depth = 1;
	a->sub_pids = pids;
	a->sub_pids_cap = cap;
	return ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, a);
}

TEST(add_publisher_bad_sub_pids_registers_nothing)
{
	struct agnocast_add_publisher_args a;
	struct ag_pool pool;
	struct status st;
	const struct st_rec *t;
	struct ag_sub sub;
	int32_t pids[4] = { -1, -1, -1, -1 };
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	/* A subscriber on the topic: there is a pid to copy out. */
	sub = ADD_SUB(dev, "efault/pub", 1, 0);
	CHECK_ERR(add_pub_raw(dev, "efault/pub", p2u(bad_ptr()), 4, &a), EFAULT);
	CHECK_ERR(add_pub_raw(dev, "efault/pub", 0, 4, &a), EFAULT);

	STATUS_READ(&st);
	CHECK_TOTALS(&st, 1, 1, 0, 1, 0, 0);
	t = ST_TOPIC(&st, "efault/pub");
	CHECK_EQ(ST_U64(t, "publishers"), 0);
	CHECK_EQ(st_count(&st, "publisher", t), 0);
	status_free(&st);

	CHECK_OK(add_pub_raw(dev, "efault/pub", p2u(pids), 4, &a));
	CHECK_EQ(a.nr_sub_pids, 1);
	CHECK_EQ(pids[0], getpid());
	CHECK_EQ(pids[1], -1);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	close(sub.fd);
}

static int add_sub_raw(int dev, const char *topic, uint64_t pubs, uint32_t cap,
		       struct agnocast_add_subscriber_args *a)
{
	memset(a, 0, sizeof(*a));
	set_topic(a->topic, topic);
	a->qos.depth = 1;
	a->pubs = pubs;
	a->pubs_cap = cap;
	a->fd = -1;
	return ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, a);
}

TEST(add_subscriber_bad_pubs_registers_nothing)
{
	struct agnocast_add_subscriber_args a;
	struct agnocast_pool_info pubs[2];
	struct ag_pool pool;
	int dev = AG_OPEN(), free_fd;

	JOIN(dev, 2 * UNIT, 3 * UNIT, &pool);
	ADD_PUB(dev, "efault/sub", 1, 0);
	free_fd = lowest_free_fd();
	CHECK_ERR(add_sub_raw(dev, "efault/sub", p2u(bad_ptr()), 2, &a), EFAULT);
	CHECK_ERR(add_sub_raw(dev, "efault/sub", 0, 2, &a), EFAULT);
	/* No subscriber, and no descriptor was installed for it. */
	CHECK_EQ(lowest_free_fd(), free_fd);
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);

	memset(pubs, 0xff, sizeof(pubs));
	CHECK_OK(add_sub_raw(dev, "efault/sub", p2u(pubs), 2, &a));
	CHECK_EQ(a.nr_pubs, 1);
	CHECK_EQ(pubs[0].pid, getpid());
	CHECK_EQ(pubs[0].addr, pool.addr);
	CHECK_EQ(pubs[0].size, pool.size);
	CHECK_EQ(pubs[0].max, pool.max);
	CHECK_EQ(pubs[1].pid, -1);
	CHECK(a.fd >= 0);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	close(a.fd);
}

TEST(receive_bad_entries_keeps_them_pending)
{
	struct agnocast_entry e[4];
	struct topic_info ti;
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub, nr = 0;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "efault/recv", 4, 0);
	pub = ADD_PUB(dev, "efault/recv", 4, 0);
	write_msg(pool.addr, 1);
	write_msg(pool.addr + 64, 2);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + 64, 16), 2);

	CHECK_ERR(receive_raw(dev, sub.id, bad_ptr(), 4, &nr), EFAULT);
	CHECK_ERR(receive_raw(dev, sub.id, NULL, 4, &nr), EFAULT);
	TOPIC_INFO(dev, "efault/recv", &ti);
	CHECK_EQ(ti.a.nr_subs, 1);
	CHECK_EQ(ti.subs[0].count, 0);	/* no reference kept */
	CHECK(poll_now(sub.fd) & POLLIN);	/* still pending */

	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 2);
	CHECK_EQ(e[0].seq, 1);
	CHECK_EQ(e[1].seq, 2);
	CHECK_EQ(e[0].addr, pool.addr);
	CHECK_EQ(e[1].addr, pool.addr + 64);
	TOPIC_INFO(dev, "efault/recv", &ti);
	CHECK_EQ(ti.subs[0].count, 2);
	close(sub.fd);
}

/* Publisher depth 1 and a subscriber holding entry 1 while entry 2 is
 * published: when it releases entry 1, it is reclaimable (and was not
 * handed out by PUBLISH). Returns entry 1's address. */
static uint64_t one_reclaimable(int dev, struct ag_pool *pool, uint32_t *pub,
				const char *topic)
{
	struct agnocast_entry e[2];
	struct ag_sub sub;
	uint64_t recl[4];
	uint32_t nr = 99;

	sub = ADD_SUB(dev, topic, 2, 0);
	*pub = ADD_PUB(dev, topic, 1, 0);
	write_msg(pool->addr, 1);
	CHECK_EQ(PUBLISH(dev, *pub, pool->addr, 16), 1);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 2), 1);
	write_msg(pool->addr + 64, 2);
	CHECK_EQ(PUBLISH_R(dev, *pub, pool->addr + 64, 16, recl, 4, &nr), 2);
	CHECK_EQ(nr, 0);
	RELEASE(dev, sub.id, 1);
	REMOVE_SUB(dev, sub.id);
	close(sub.fd);
	return pool->addr;
}

TEST(reclaim_bad_addrs_hands_nothing_out)
{
	struct agnocast_reclaim_args a;
	struct ag_pool pool;
	struct status st;
	const struct st_rec *p;
	uint64_t addrs[4], e1;
	uint32_t pub;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	e1 = one_reclaimable(dev, &pool, &pub, "efault/reclaim");
	STATUS_READ(&st);
	p = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(p, "reclaimable"), 1);
	status_free(&st);

	memset(&a, 0, sizeof(a));
	a.addrs = p2u(bad_ptr());
	a.addrs_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &a), EFAULT);
	a.addrs = 0;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &a), EFAULT);
	/* The address was not lost by the failed copies. */
	CHECK_EQ(RECLAIM(dev, addrs, 4), 1);
	CHECK_EQ(addrs[0], e1);
	CHECK_EQ(RECLAIM(dev, addrs, 4), 0);
}

TEST(publish_bad_reclaimed_pointer)
{
	struct agnocast_publish_args a;
	struct ag_pool pool;
	uint32_t pub;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	one_reclaimable(dev, &pool, &pub, "efault/publish");
	memset(&a, 0, sizeof(a));
	a.publisher_id = pub;
	a.addr = pool.addr + 128;
	a.len = 16;
	a.reclaimed = p2u(bad_ptr());
	a.reclaimed_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &a), EFAULT);
}

TEST(introspection_bad_pointers)
{
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_info_args ti;
	struct agnocast_list_processes_args lp;
	struct agnocast_endpoint_info eps[4];
	struct ag_pool pool;
	struct ag_sub sub;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "efault/intro", 1, 0);
	sub = ADD_SUB(dev, "efault/intro", 1, 0);

	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(bad_ptr());
	lt.topics_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt), EFAULT);

	memset(&ti, 0, sizeof(ti));
	set_topic(ti.topic, "efault/intro");
	ti.pubs = p2u(bad_ptr());
	ti.pubs_cap = 4;
	ti.subs = p2u(eps);
	ti.subs_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &ti), EFAULT);
	ti.pubs = p2u(eps);
	ti.subs = p2u(bad_ptr());
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &ti), EFAULT);

	memset(&lp, 0, sizeof(lp));
	lp.procs = p2u(bad_ptr());
	lp.procs_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp), EFAULT);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	close(sub.fd);
}
