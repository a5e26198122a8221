// SPDX-License-Identifier: Apache-2.0
/*
 * MAP_POOL / UNMAP_POOL: geometry answers, ENOENT for processes that never
 * joined, EINVAL for an UNMAP without a MAP, one's own pool declares
 * nothing, and each MAP needs its own UNMAP.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

static void pool_owner(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, 2 * UNIT, 3 * UNIT, &pool);
	SEND(sock, pool);
	WAIT_FOR(sock, "exit");
}

TEST(map_pool_errors_and_own_pool)
{
	struct agnocast_pool_info info;
	struct ag_pool pool, peer;
	struct child c;
	int dev;

	c = spawn(pool_owner, NULL);
	RECV(c.sock, peer);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);

	/* The harness process exists but never joined; a pid that cannot exist. */
	CHECK_ERR(map_pool_raw(dev, getppid(), &info), ENOENT);
	CHECK_ERR(map_pool_raw(dev, 0x3fffffff, &info), ENOENT);
	CHECK_ERR(unmap_pool_raw(dev, 0x3fffffff), ENOENT);
	/* UNMAP without MAP. */
	CHECK_ERR(unmap_pool_raw(dev, c.pid), EINVAL);

	/* Our own pool: the geometry, and nothing declared. */
	CHECK_OK(map_pool_raw(dev, getpid(), &info));
	CHECK_EQ(info.pid, getpid());
	CHECK_EQ(info.addr, pool.addr);
	CHECK_EQ(info.size, pool.size);
	CHECK_EQ(info.max, pool.max);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);

	/* The peer's. */
	CHECK_OK(map_pool_raw(dev, c.pid, &info));
	CHECK_EQ(info.pid, c.pid);
	CHECK_EQ(info.addr, peer.addr);
	CHECK_EQ(info.size, 2 * UNIT);
	CHECK_EQ(info.max, 3 * UNIT);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	CHECK_OK(unmap_pool_raw(dev, c.pid));
	CHECK_ERR(unmap_pool_raw(dev, c.pid), EINVAL);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

static uint64_t mappers_of(pid_t pid)
{
	struct status st;
	uint64_t n;

	STATUS_READ(&st);
	n = ST_U64(ST_PROC(&st, pid), "mappers");
	status_free(&st);
	return n;
}

TEST(each_map_needs_an_unmap)
{
	struct agnocast_pool_info info;
	struct ag_pool pool, peer;
	struct child c;
	int dev;

	c = spawn(pool_owner, NULL);
	RECV(c.sock, peer);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	MAP_PEER(dev, c.pid, &info);
	CHECK_OK(map_pool_raw(dev, c.pid, &info));
	/* One process maps it (twice). */
	CHECK_EQ(mappers_of(c.pid), 1);
	CHECK_OK(unmap_pool_raw(dev, c.pid));
	CHECK_EQ(mappers_of(c.pid), 1);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	UNMAP_PEER(dev, &info);
	CHECK_EQ(mappers_of(c.pid), 0);
	CHECK_ERR(unmap_pool_raw(dev, c.pid), EINVAL);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

static void mapper(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct ag_pool pool;
	pid_t owner;
	int dev = AG_OPEN();

	(void)arg;
	RECV(sock, owner);
	JOIN(dev, UNIT, 0, &pool);
	MAP_PEER(dev, owner, &info);
	TELL(sock, "mapped");
	WAIT_FOR(sock, "exit");
	/* Exit without UNMAP_POOL: the exit drops the declaration. */
}

TEST(mapper_exit_drops_declaration)
{
	struct ag_pool pool;
	struct child m1, m2;
	pid_t me = getpid();
	int dev;

	m1 = spawn(mapper, NULL);
	m2 = spawn(mapper, NULL);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	SEND(m1.sock, me);
	SEND(m2.sock, me);
	WAIT_FOR(m1.sock, "mapped");
	WAIT_FOR(m2.sock, "mapped");
	CHECK_EQ(mappers_of(me), 2);
	CHECK_STATUS_TOTALS(3, 0, 0, 0, 0, 2);
	TELL(m1.sock, "exit");
	REAP_OK(m1.pid);
	CHECK_EQ(mappers_of(me), 1);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	KILL_REAP(m2.pid);
	CHECK_EQ(mappers_of(me), 0);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}
