// SPDX-License-Identifier: Apache-2.0
/*
 * Output arrays: capacities above AGNOCAST_ARRAY_MAX (and 0 where the
 * minimum is 1) are EINVAL; a smaller capacity fills that many items,
 * leaves the rest of the buffer alone and still reports the total; the
 * pid / pool lists name each process once.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define OVER (AGNOCAST_ARRAY_MAX + 1u)

TEST(caps_out_of_bounds_einval)
{
	struct agnocast_add_publisher_args pa;
	struct agnocast_add_subscriber_args sa;
	struct agnocast_publish_args pu;
	struct agnocast_reclaim_args rcl;
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_info_args ti;
	struct agnocast_list_processes_args lp;
	struct agnocast_entry e[2];
	uint64_t buf[64];
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub, nr;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "caps", 2, 0);
	sub = ADD_SUB(dev, "caps", 2, 0);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);

	memset(&pa, 0, sizeof(pa));
	set_topic(pa.topic, "caps");
	pa.qos.depth = 1;
	pa.sub_pids = p2u(buf);
	pa.sub_pids_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &pa), EINVAL);

	memset(&sa, 0, sizeof(sa));
	set_topic(sa.topic, "caps");
	sa.qos.depth = 1;
	sa.pubs = p2u(buf);
	sa.pubs_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &sa), EINVAL);
	/* Neither registered anything. */
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);

	memset(&pu, 0, sizeof(pu));
	pu.publisher_id = pub;
	pu.addr = pool.addr;
	pu.len = 8;
	pu.reclaimed = p2u(buf);
	pu.reclaimed_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &pu), EINVAL);
	/* Nothing was published. */
	CHECK_ERR(receive_raw(dev, sub.id, e, 2, &nr), EAGAIN);

	CHECK_ERR(receive_raw(dev, sub.id, e, 0, &nr), EINVAL);
	CHECK_ERR(receive_raw(dev, sub.id, e, OVER, &nr), EINVAL);

	memset(&rcl, 0, sizeof(rcl));
	rcl.addrs = p2u(buf);
	rcl.addrs_cap = 0;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl), EINVAL);
	rcl.addrs_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl), EINVAL);

	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(buf);
	lt.topics_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt), EINVAL);

	memset(&ti, 0, sizeof(ti));
	set_topic(ti.topic, "caps");
	ti.pubs = p2u(buf);
	ti.subs = p2u(buf);
	ti.pubs_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &ti), EINVAL);
	ti.pubs_cap = 0;
	ti.subs_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &ti), EINVAL);

	memset(&lp, 0, sizeof(lp));
	lp.procs = p2u(buf);
	lp.procs_cap = OVER;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp), EINVAL);

	/* The largest capacity is fine. */
	rcl.addrs_cap = AGNOCAST_ARRAY_MAX;
	{
		uint64_t *big = calloc(AGNOCAST_ARRAY_MAX, sizeof(uint64_t));

		CHECK(big != NULL);
		rcl.addrs = p2u(big);
		CHECK_OK(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl));
		CHECK_EQ(rcl.nr_addrs, 0);
		free(big);
	}
	close(sub.fd);
}

struct endpoint_ctx {
	const char *topic;
	int two_subs;	/* subscriber side: two subscribers in one process */
	int publisher;
};

static void endpoint_proc(int sock, void *arg)
{
	struct endpoint_ctx *c = arg;
	struct ag_pool pool;
	struct ag_sub s1, s2 = { 0, -1 };
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 2 * UNIT, &pool);
	if (c->publisher) {
		ADD_PUB(dev, c->topic, 1, 0);
		ADD_PUB(dev, c->topic, 3, AGNOCAST_QOS_TRANSIENT_LOCAL);
	} else {
		s1 = ADD_SUB(dev, c->topic, 1, 0);
		if (c->two_subs)
			s2 = ADD_SUB(dev, c->topic, 2, 0);
		(void)s1;
		(void)s2;
	}
	TELL(sock, "ready");
	WAIT_FOR(sock, "exit");
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

TEST(small_caps_report_totals)
{
	struct endpoint_ctx sub_a = { "caps/list", 1, 0 };
	struct endpoint_ctx sub_b = { "caps/list", 0, 0 };
	struct endpoint_ctx pub_a = { "caps/list", 0, 1 };
	struct endpoint_ctx pub_b = { "caps/list", 0, 1 };
	struct child ca, cb, pa, pb;
	struct agnocast_add_publisher_args ap;
	struct agnocast_add_subscriber_args as;
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_name names[4];
	struct agnocast_list_processes_args lp;
	struct agnocast_process_info procs[8];
	struct agnocast_pool_info pubs[4];
	struct agnocast_endpoint_info eps[4];
	struct agnocast_topic_info_args ti;
	int32_t pids[4], want[2];
	struct ag_pool pool;
	int dev, i;

	ca = spawn(endpoint_proc, &sub_a);
	WAIT_FOR(ca.sock, "ready");
	cb = spawn(endpoint_proc, &sub_b);
	WAIT_FOR(cb.sock, "ready");
	pa = spawn(endpoint_proc, &pub_a);
	WAIT_FOR(pa.sock, "ready");
	pb = spawn(endpoint_proc, &pub_b);
	WAIT_FOR(pb.sock, "ready");

	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);

	/* Three subscribers in two processes: two pids, each once. */
	memset(&ap, 0, sizeof(ap));
	set_topic(ap.topic, "caps/list");
	ap.qos.depth = 1;
	for (i = 0; i < 4; i++)
		pids[i] = -7;
	ap.sub_pids = p2u(pids);
	ap.sub_pids_cap = 4;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &ap));
	CHECK_EQ(ap.nr_sub_pids, 2);
	want[0] = ca.pid;
	want[1] = cb.pid;
	qsort(want, 2, sizeof(int32_t), cmp_i32);
	qsort(pids, 2, sizeof(int32_t), cmp_i32);
	CHECK_EQ(pids[0], want[0]);
	CHECK_EQ(pids[1], want[1]);
	CHECK_EQ(pids[2], -7);
	/* Capacity 1: one written, total still 2. */
	for (i = 0; i < 4; i++)
		pids[i] = -7;
	ap.sub_pids_cap = 1;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &ap));
	CHECK_EQ(ap.nr_sub_pids, 2);
	CHECK(pids[0] == ca.pid || pids[0] == cb.pid);
	CHECK_EQ(pids[1], -7);

	/* Four publishers in two processes, plus ours: three pools. */
	memset(&as, 0, sizeof(as));
	set_topic(as.topic, "caps/list");
	as.qos.depth = 1;
	memset(pubs, 0xee, sizeof(pubs));
	as.pubs = p2u(pubs);
	as.pubs_cap = 1;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &as));
	CHECK_EQ(as.nr_pubs, 3);
	CHECK(pubs[0].pid == pa.pid || pubs[0].pid == pb.pid ||
	      pubs[0].pid == getpid());
	CHECK_EQ((uint32_t)pubs[1].pid, 0xeeeeeeeeu);

	/* LIST_TOPICS: capacity 0 counts only. */
	ADD_PUB(dev, "caps/other", 1, 0);
	memset(&lt, 0, sizeof(lt));
	memset(names, 'x', sizeof(names));
	lt.topics = p2u(names);
	lt.topics_cap = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, 2);
	CHECK_EQ(names[0].name[0], 'x');
	lt.topics_cap = 1;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, 2);
	CHECK(!strcmp(names[0].name, "caps/list") || !strcmp(names[0].name, "caps/other"));
	CHECK_EQ(names[1].name[0], 'x');

	/* TOPIC_INFO: 4 + 2 publishers (ours two), 3 + 1 subscribers. */
	memset(&ti, 0, sizeof(ti));
	set_topic(ti.topic, "caps/list");
	memset(eps, 0xee, sizeof(eps));
	ti.pubs = p2u(eps);
	ti.pubs_cap = 1;
	ti.subs = 0;
	ti.subs_cap = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &ti));
	CHECK_EQ(ti.nr_pubs, 6);
	CHECK_EQ(ti.nr_subs, 4);
	CHECK_EQ(eps[1].id, 0xeeeeeeeeu);

	/* LIST_PROCESSES: five joined processes. */
	memset(&lp, 0, sizeof(lp));
	memset(procs, 0xee, sizeof(procs));
	lp.procs = p2u(procs);
	lp.procs_cap = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
	CHECK_EQ(lp.nr_procs, 5);
	CHECK_EQ((uint32_t)procs[0].pool.pid, 0xeeeeeeeeu);
	lp.procs_cap = 2;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
	CHECK_EQ(lp.nr_procs, 5);
	CHECK((uint32_t)procs[1].pool.pid != 0xeeeeeeeeu);
	CHECK_EQ((uint32_t)procs[2].pool.pid, 0xeeeeeeeeu);

	close(as.fd);
	TELL(ca.sock, "exit");
	TELL(cb.sock, "exit");
	TELL(pa.sock, "exit");
	TELL(pb.sock, "exit");
	REAP_OK(ca.pid);
	REAP_OK(cb.pid);
	REAP_OK(pa.pid);
	REAP_OK(pb.pid);
}
