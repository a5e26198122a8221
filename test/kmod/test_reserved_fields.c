// SPDX-License-Identifier: Apache-2.0
/*
 * Every reserved field and every unknown QoS flag bit must be zero, or the
 * ioctl fails with EINVAL and does nothing; the same call with zeros then
 * works. Output-only fields are not inputs: junk in them is ignored.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

TEST(attach_pool_reserved)
{
	struct agnocast_attach_pool_args at;
	struct ag_pool pool;
	struct status st;
	int dev = AG_OPEN();

	PREPARE_POOL(dev, UNIT, 0, &pool);
	memset(&at, 0, sizeof(at));
	at.fd = pool.shm_fd;
	at.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at), EINVAL);
	STATUS_READ(&st);
	CHECK_EQ(ST_U64(ST_PROC(&st, getpid()), "attached"), 0);
	status_free(&st);
	at.reserved = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at));
}

TEST(endpoint_reserved_and_flags)
{
	struct agnocast_add_publisher_args pa;
	struct agnocast_add_subscriber_args sa;
	struct agnocast_pool_info pubs[2];
	int32_t pids[2];
	struct ag_pool pool;
	static const uint32_t bad_flags[] = { 1u << 2, 1u << 7, 1u << 31 };
	size_t i;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	memset(&pa, 0, sizeof(pa));
	set_topic(pa.topic, "reserved");
	pa.qos.depth = 1;
	pa.sub_pids = p2u(pids);
	pa.sub_pids_cap = 2;
	/* RELIABLE is a subscriber's flag. */
	pa.qos.flags = AGNOCAST_QOS_RELIABLE;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &pa), EINVAL);
	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		pa.qos.flags = bad_flags[i];
		CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &pa), EINVAL);
		pa.qos.flags = bad_flags[i] | AGNOCAST_QOS_TRANSIENT_LOCAL;
		CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &pa), EINVAL);
	}

	memset(&sa, 0, sizeof(sa));
	set_topic(sa.topic, "reserved");
	sa.qos.depth = 1;
	sa.pubs = p2u(pubs);
	sa.pubs_cap = 2;
	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		sa.qos.flags = bad_flags[i];
		CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &sa), EINVAL);
	}
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);

	/* Junk in the output fields is not an error. */
	pa.qos.flags = AGNOCAST_QOS_TRANSIENT_LOCAL;
	pa.nr_sub_pids = 0xdead;
	pa.publisher_id = 0xbeef;
	pa.fd = 0x7ead;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &pa));
	CHECK_EQ(pa.nr_sub_pids, 0);
	sa.qos.flags = AGNOCAST_QOS_TRANSIENT_LOCAL;
	sa.nr_pubs = 0xdead;
	sa.subscriber_id = 0xbeef;
	sa.fd = 12345;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &sa));
	CHECK_EQ(sa.nr_pubs, 1);
	CHECK(sa.fd >= 0 && sa.fd != 12345);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	close(sa.fd);
}

TEST(data_path_reserved)
{
	struct agnocast_remove_args rm;
	struct agnocast_publish_args pu;
	struct agnocast_receive_args rc;
	struct agnocast_take_args tk;
	struct agnocast_release_args rl;
	struct agnocast_entry e[4];
	struct topic_info ti;
	uint64_t recl[4];
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub, nr;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reserved/data", 4, 0);
	sub = ADD_SUB(dev, "reserved/data", 4, 0);

	memset(&pu, 0, sizeof(pu));
	pu.publisher_id = pub;
	pu.addr = pool.addr;
	pu.len = 16;
	pu.reclaimed = p2u(recl);
	pu.reclaimed_cap = 4;
	pu.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &pu), EINVAL);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), EAGAIN);
	pu.reserved = 0;
	pu.seq = 999;		/* output only */
	pu.nr_reclaimed = 77;	/* output only */
	write_msg(pool.addr, 1);
	CHECK_OK(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &pu));
	CHECK_EQ(pu.seq, 1);
	CHECK_EQ(pu.nr_reclaimed, 0);

	memset(&rc, 0, sizeof(rc));
	rc.subscriber_id = sub.id;
	rc.entries = p2u(e);
	rc.entries_cap = 0;	/* neither entries nor releases */
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECEIVE_CMD, &rc), EINVAL);
	rc.entries_cap = 4;
	rc.release_nr = AGNOCAST_RELEASE_MAX + 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECEIVE_CMD, &rc), EINVAL);
	memset(&tk, 0, sizeof(tk));
	tk.subscriber_id = sub.id;
	tk.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TAKE_CMD, &tk), EINVAL);
	/* Still pending after both. */
	CHECK(poll_now(sub.fd) & POLLIN);
	rc.release_nr = 0;
	rc.nr_entries = 55;	/* output only */
	CHECK_OK(ag_ioctl(dev, AGNOCAST_RECEIVE_CMD, &rc));
	CHECK_EQ(rc.nr_entries, 1);
	CHECK_EQ(e[0].seq, 1);

	memset(&rl, 0, sizeof(rl));
	rl.subscriber_id = sub.id;
	rl.seq = 1;
	rl.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RELEASE_CMD, &rl), EINVAL);
	TOPIC_INFO(dev, "reserved/data", &ti);
	CHECK_EQ(ti.subs[0].count, 1);	/* still held */
	rl.reserved = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_RELEASE_CMD, &rl));
	TOPIC_INFO(dev, "reserved/data", &ti);
	CHECK_EQ(ti.subs[0].count, 0);

	memset(&rm, 0, sizeof(rm));
	rm.id = sub.id;
	rm.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_SUBSCRIBER_CMD, &rm), EINVAL);
	rm.id = pub;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm), EINVAL);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 1, 0);
	rm.reserved = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm));
	rm.id = sub.id;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_REMOVE_SUBSCRIBER_CMD, &rm));
	close(sub.fd);
}

static void attached_peer(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	TELL(sock, "ready");
	WAIT_FOR(sock, "exit");
}

TEST(map_pool_reserved)
{
	struct agnocast_map_pool_args mp;
	struct ag_pool pool;
	struct child peer;
	int dev;

	peer = spawn(attached_peer, NULL);
	WAIT_FOR(peer.sock, "ready");
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	memset(&mp, 0, sizeof(mp));
	mp.pool.pid = peer.pid;
	mp.pool.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &mp), EINVAL);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);	/* no mapping declared */
	memset(&mp, 0, sizeof(mp));
	mp.pool.pid = peer.pid;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &mp));
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	memset(&mp, 0, sizeof(mp));
	mp.pool.pid = peer.pid;
	mp.pool.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &mp), EINVAL);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);	/* still declared */
	mp.pool.reserved = 0;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &mp));
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);
	TELL(peer.sock, "exit");
	REAP_OK(peer.pid);
}
