// SPDX-License-Identifier: Apache-2.0
/*
 * Reliable subscribers: nothing published while one is there is dropped
 * for it, whatever the publisher's history depth; its queue holds at most
 * its depth, and PUBLISH fails with EAGAIN (nothing published) while it is
 * full. The publisher's fd reports POLLOUT again once the queue has room,
 * waking a publisher blocked in poll in another process; a subscriber that
 * leaves or dies frees the publishers; TAKE empties the queue; a RECEIVE
 * that fails with EFAULT puts its entries back into the queue.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define BLK 64

static short revents_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

static int publish_raw(int dev, uint32_t pub, uint64_t addr)
{
	struct agnocast_publish_args a;

	memset(&a, 0, sizeof(a));
	a.publisher_id = pub;
	a.addr = addr;
	a.len = 16;
	return ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &a);
}

static void publish_label(int dev, uint32_t pub, const struct ag_pool *pool,
			  uint32_t label)
{
	uint64_t addr = pool->addr + (uint64_t)(label % 64) * BLK;

	write_msg(addr, label);
	PUBLISH(dev, pub, addr, 16);
}

static struct agnocast_endpoint_state_args sub_state(int dev, uint32_t id)
{
	struct agnocast_endpoint_state_args st;

	CHECK_OK(endpoint_state_raw(dev, 0, id, &st));
	return st;
}

TEST(reliable_queue_blocks_publish_until_received)
{
	struct agnocast_endpoint_state_args st;
	struct agnocast_entry e[4];
	struct ag_pool pool;
	struct ag_sub rel, lossy;
	uint32_t pub, i;
	int dev = AG_OPEN(), pfd;

	JOIN(dev, UNIT, 0, &pool);
	/* History depth 1: a keep-last reader sees only the newest. */
	pub = ADD_PUB_FD(dev, "reliable/q", 1, 0, &pfd);
	rel = ADD_SUB(dev, "reliable/q", 3, AGNOCAST_QOS_RELIABLE);
	lossy = ADD_SUB(dev, "reliable/q", 1, 0);
	CHECK(revents_now(pfd, POLLOUT) & POLLOUT);
	for (i = 1; i <= 3; i++)
		publish_label(dev, pub, &pool, i);
	CHECK(!(revents_now(pfd, POLLOUT) & POLLOUT));
	write_msg(pool.addr + 10 * BLK, 99);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + 10 * BLK), EAGAIN);
	st = sub_state(dev, rel.id);
	CHECK_EQ(st.nr_full, 1);
	CHECK_EQ(st.queued, 3);
	CHECK_EQ(st.nr_subscribers, 2);

	CHECK_EQ(RECEIVE(dev, lossy.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 3);
	RELEASE(dev, lossy.id, 3);
	/* The refused publish took no seq: the reliable reader gets 1..3. */
	CHECK_EQ(RECEIVE(dev, rel.id, e, 4), 3);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(e[i].seq, i + 1);
		CHECK_MSG(e[i].addr, getpid(), i + 1);
	}
	CHECK(revents_now(pfd, POLLOUT) & POLLOUT);
	st = sub_state(dev, rel.id);
	CHECK_EQ(st.nr_full, 0);
	CHECK_EQ(st.queued, 0);
	publish_label(dev, pub, &pool, 4);
	for (i = 0; i < 3; i++)
		RELEASE(dev, rel.id, i + 1);
	CHECK_EQ(RECEIVE(dev, rel.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 4);
	RELEASE(dev, rel.id, 4);
	close(pfd);
}

TEST(take_empties_a_reliable_queue)
{
	struct agnocast_entry e;
	struct ag_pool pool;
	struct ag_sub rel;
	uint32_t pub, i;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reliable/take", 1, 0);
	rel = ADD_SUB(dev, "reliable/take", 3, AGNOCAST_QOS_RELIABLE);
	for (i = 1; i <= 3; i++)
		publish_label(dev, pub, &pool, i);
	CHECK_OK(take_raw(dev, rel.id, &e));
	CHECK_EQ(e.seq, 3);
	CHECK_EQ(sub_state(dev, rel.id).queued, 0);
	for (i = 4; i <= 6; i++)
		publish_label(dev, pub, &pool, i);
	RELEASE(dev, rel.id, 3);
	/* 4..6 queued, 3 released and not handed back yet. */
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 4, 0);
}

/* A RECEIVE whose copy-out fails puts the entries back in the queue. */
TEST(failed_receive_requeues)
{
	struct agnocast_endpoint_state_args st;
	struct agnocast_receive_args *ra;
	struct agnocast_entry e[4], *ro;
	struct ag_pool pool;
	struct ag_sub rel;
	uint32_t pub, i;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reliable/efault", 1, 0);
	rel = ADD_SUB(dev, "reliable/efault", 2, AGNOCAST_QOS_RELIABLE);
	publish_label(dev, pub, &pool, 1);
	publish_label(dev, pub, &pool, 2);
	/* The argument is readable, the entries' buffer is not writable. */
	ra = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ra != MAP_FAILED);
	ro = (struct agnocast_entry *)((char *)ra + 4096);
	memset(ra, 0, sizeof(*ra));
	ra->subscriber_id = rel.id;
	ra->entries = p2u(ro);
	ra->entries_cap = 4;
	CHECK_OK(mprotect(ro, 4096, PROT_READ));
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECEIVE_CMD, ra), EFAULT);
	st = sub_state(dev, rel.id);
	CHECK_EQ(st.queued, 2);
	CHECK_EQ(st.nr_full, 1);
	CHECK_EQ(RECEIVE(dev, rel.id, e, 4), 2);
	for (i = 0; i < 2; i++)
		CHECK_MSG(e[i].addr, getpid(), i + 1);
	RELEASE(dev, rel.id, 1);
	RELEASE(dev, rel.id, 2);
	CHECK_OK(munmap(ra, 8192));
}

/* A reliable subscriber in another process; "receive" drains one. */
static void reliable_reader(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct agnocast_entry e[2];
	struct ag_pool pool;
	struct ag_sub sub;
	char cmd[24];
	pid_t owner;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "reliable/x", 1, AGNOCAST_QOS_RELIABLE);
	TELL(sock, "subscribed");
	RECV(sock, owner);
	MAP_PEER(dev, owner, &info);
	for (;;) {
		RECV(sock, cmd);
		if (strcmp(cmd, "receive"))
			break;
		CHECK_EQ(RECEIVE(dev, sub.id, e, 2), 1);
		CHECK_EQ(MSG_LABEL(e[0].addr), (uint32_t)e[0].seq);
		RELEASE(dev, sub.id, e[0].seq);
		TELL(sock, "received");
	}
}

struct out_waiter {
	int fd;
	pid_t tid;
	short revents;
};

static void *wait_out(void *arg)
{
	struct out_waiter *w = arg;
	struct pollfd p = { .fd = w->fd, .events = POLLOUT };

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	while (poll(&p, 1, SYNC_TIMEOUT_MS) < 0 && errno == EINTR)
		;
	w->revents = p.revents;
	return NULL;
}

TEST(blocked_publisher_woken_by_a_receive_elsewhere)
{
	struct out_waiter w = { 0 };
	struct ag_pool pool;
	struct child s;
	pthread_t t;
	uint32_t pub;
	pid_t me = getpid();
	int dev = AG_OPEN();

	/* Forked before joining, so it inherits no pool mapping of ours. */
	s = spawn(reliable_reader, NULL);
	WAIT_FOR(s.sock, "subscribed");
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB_FD(dev, "reliable/x", 1, 0, &w.fd);
	SEND(s.sock, me);
	publish_label(dev, pub, &pool, 1);
	CHECK_ERR(publish_raw(dev, pub, pool.addr), EAGAIN);
	CHECK_OK(pthread_create(&t, NULL, wait_out, &w));
	while (!__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST))
		sched_yield();
	WAIT_SLEEPING(w.tid);
	TELL(s.sock, "receive");
	WAIT_FOR(s.sock, "received");
	CHECK_OK(pthread_join(t, NULL));
	CHECK(w.revents & POLLOUT);
	publish_label(dev, pub, &pool, 2);
	TELL(s.sock, "receive");
	WAIT_FOR(s.sock, "received");
	TELL(s.sock, "exit");
	REAP_OK(s.pid);
}

TEST(a_dead_reliable_subscriber_frees_the_publishers)
{
	struct ag_pool pool;
	struct child s;
	uint32_t pub;
	int dev = AG_OPEN(), pfd;

	s = spawn(reliable_reader, NULL);
	WAIT_FOR(s.sock, "subscribed");
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB_FD(dev, "reliable/x", 1, 0, &pfd);
	publish_label(dev, pub, &pool, 1);
	CHECK_ERR(publish_raw(dev, pub, pool.addr), EAGAIN);
	KILL_REAP(s.pid);
	CHECK(revents_now(pfd, POLLOUT) & POLLOUT);
	publish_label(dev, pub, &pool, 2);
	/* Its queue went with it: only the retained newest is alive. */
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 1, 0);
}
