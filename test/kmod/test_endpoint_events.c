// SPDX-License-Identifier: Apache-2.0
/*
 * Endpoint descriptors and their events: a publisher's fd reports POLLPRI
 * when the topic's subscribers change (one joins, leaves, or dies) and a
 * subscriber's when its publishers do, until PUBLISHER_STATE /
 * SUBSCRIBER_STATE reads the new state. A publisher is its fd: closing the
 * last copy removes it, REMOVE_PUBLISHER makes it report POLLHUP.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

static short revents_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLPRI };

	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

/* Subscribes to arg's topic, tells, and waits to be told to exit. */
static void subscriber(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	ADD_SUB(dev, (const char *)arg, 1, 0);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
}

static void publisher(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, (const char *)arg, 1, 0);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
}

TEST(publisher_sees_subscribers_come_and_go)
{
	struct agnocast_endpoint_state_args st;
	struct ag_pool pool;
	struct child a, b;
	uint32_t pub;
	int dev = AG_OPEN(), pfd;

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB_FD(dev, "events/p", 1, 0, &pfd);
	CHECK_EQ(revents_now(pfd), POLLOUT);
	a = spawn(subscriber, "events/p");
	WAIT_FOR(a.sock, "joined");
	b = spawn(subscriber, "events/p");
	WAIT_FOR(b.sock, "joined");
	CHECK(revents_now(pfd) & POLLPRI);
	CHECK_OK(endpoint_state_raw(dev, 1, pub, &st));
	CHECK_EQ(st.nr_subscribers, 2);
	CHECK_EQ(st.nr_publishers, 1);
	CHECK_EQ(st.queued, 0);
	CHECK_EQ(revents_now(pfd), POLLOUT);
	KILL_REAP(a.pid);
	CHECK(revents_now(pfd) & POLLPRI);
	CHECK_OK(endpoint_state_raw(dev, 1, pub, &st));
	CHECK_EQ(st.nr_subscribers, 1);
	TELL(b.sock, "exit");
	REAP_OK(b.pid);
	CHECK(revents_now(pfd) & POLLPRI);
	CHECK_OK(endpoint_state_raw(dev, 1, pub, &st));
	CHECK_EQ(st.nr_subscribers, 0);
	CHECK_EQ(revents_now(pfd), POLLOUT);
}

TEST(subscriber_sees_publishers_come_and_go)
{
	struct agnocast_endpoint_state_args st;
	struct ag_pool pool;
	struct ag_sub sub;
	struct child p;

	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "events/s", 1, 0);
	CHECK_EQ(revents_now(sub.fd), 0);
	p = spawn(publisher, "events/s");
	WAIT_FOR(p.sock, "joined");
	CHECK_EQ(revents_now(sub.fd), POLLPRI);
	CHECK_OK(endpoint_state_raw(dev, 0, sub.id, &st));
	CHECK_EQ(st.nr_publishers, 1);
	CHECK_EQ(revents_now(sub.fd), 0);
	KILL_REAP(p.pid);
	CHECK_EQ(revents_now(sub.fd), POLLPRI);
	CHECK_OK(endpoint_state_raw(dev, 0, sub.id, &st));
	CHECK_EQ(st.nr_publishers, 0);
	CHECK_EQ(revents_now(sub.fd), 0);
}

TEST(state_errors)
{
	struct agnocast_endpoint_state_args st, *ro;
	struct ag_pool pool;
	struct ag_sub sub;
	struct child p;
	uint32_t pub;
	int dev = AG_OPEN(), pfd;

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB_FD(dev, "events/e", 1, 0, &pfd);
	sub = ADD_SUB(dev, "events/e", 1, 0);
	CHECK_ERR(endpoint_state_raw(dev, 1, sub.id + 1000, &st), ENOENT);
	CHECK_ERR(endpoint_state_raw(dev, 0, pub + 1000, &st), ENOENT);
	memset(&st, 0, sizeof(st));
	st.id = pub;
	st.reserved = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISHER_STATE_CMD, &st), EINVAL);
	/* A failed read leaves the event to be seen. */
	p = spawn(subscriber, "events/e");
	WAIT_FOR(p.sock, "joined");
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	memset(ro, 0, sizeof(*ro));
	ro->id = pub;
	CHECK_OK(mprotect(ro, 4096, PROT_READ));
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISHER_STATE_CMD, ro), EFAULT);
	CHECK(revents_now(pfd) & POLLPRI);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
	CHECK_OK(munmap(ro, 4096));
}

/* Another process's ids are not ours to read. */
static void foreign_state(int sock, void *arg)
{
	struct agnocast_endpoint_state_args st;
	struct ag_pool pool;
	uint32_t ids[2];
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	RECV(sock, ids);
	CHECK_ERR(endpoint_state_raw(dev, 1, ids[0], &st), EPERM);
	CHECK_ERR(endpoint_state_raw(dev, 0, ids[1], &st), EPERM);
	TELL(sock, "checked");
}

TEST(state_of_another_process_eperm)
{
	struct ag_pool pool;
	struct ag_sub sub;
	struct child c;
	uint32_t ids[2];
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	ids[0] = ADD_PUB(dev, "events/perm", 1, 0);
	sub = ADD_SUB(dev, "events/perm", 1, 0);
	ids[1] = sub.id;
	c = spawn(foreign_state, NULL);
	SEND(c.sock, ids);
	WAIT_FOR(c.sock, "checked");
	REAP_OK(c.pid);
}

TEST(publisher_is_its_fd)
{
	struct agnocast_remove_args rm;
	struct ag_pool pool;
	uint32_t pub;
	int dev = AG_OPEN(), pfd, copy;

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB_FD(dev, "events/fd", 1, 0, &pfd);
	copy = dup(pfd);
	CHECK(copy >= 0);
	CHECK_OK(close(pfd));
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);	/* a copy is open */
	CHECK_OK(close(copy));
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	memset(&rm, 0, sizeof(rm));
	rm.id = pub;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm), ENOENT);

	pub = ADD_PUB_FD(dev, "events/fd", 1, 0, &pfd);
	rm.id = pub;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm));
	CHECK(revents_now(pfd) & POLLHUP);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	CHECK_OK(close(pfd));
}
