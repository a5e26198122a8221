// SPDX-License-Identifier: Apache-2.0
/*
 * Publish / receive / release across processes: two publishers and two
 * subscribers, the subscriber reading the publisher's bytes at the very
 * address it wrote them (read-only mapping), sequence numbers, timestamps,
 * publisher pid and id; a subscriber writing into the mapping dies alone;
 * PUBLISH's ERANGE and the pool growing under a subscriber's mapping.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define NMSG 10
#define TOPIC "pubsub/main"

struct pr_hello {
	struct ag_pool pool;
	uint32_t pub_id, nr_sub_pids;
	int32_t sub_pids[4];
};

struct pub_rec {
	uint64_t seq, addr, len, t0, t1;
};

static void publisher(int sock, void *arg)
{
	struct pr_hello h;
	struct pub_rec rec[NMSG];
	int dev = AG_OPEN(), k;

	(void)arg;
	memset(&h, 0, sizeof(h));
	JOIN(dev, UNIT, 0, &h.pool);
	/* Depth >= NMSG: all stay alive until the subscribers receive them
	 * (entries nobody received are dropped once out of the history). */
	h.pub_id = ADD_PUB_EX(dev, TOPIC, 2 * NMSG, 0, h.sub_pids, 4,
			      &h.nr_sub_pids);
	SEND(sock, h);
	WAIT_FOR(sock, "go");
	for (k = 0; k < NMSG; k++) {
		rec[k].addr = h.pool.addr + k * 256;
		rec[k].len = 16 + k;
		write_msg(rec[k].addr, k);
		rec[k].t0 = now_ns();
		rec[k].seq = PUBLISH(dev, h.pub_id, rec[k].addr, rec[k].len);
		rec[k].t1 = now_ns();
		if (k)
			CHECK(rec[k].seq > rec[k - 1].seq);
	}
	SEND(sock, rec);
	WAIT_FOR(sock, "exit");
	/* Our data was never touched by anyone. */
	for (k = 0; k < NMSG; k++)
		CHECK_MSG(rec[k].addr, getpid(), k);
}

struct sub_setup {
	pid_t pids[2];
	uint32_t pub_ids[2];
	struct ag_pool pools[2];
};

static void subscriber(int sock, void *arg)
{
	struct agnocast_entry all[2 * NMSG], e[7];
	struct agnocast_pool_info info[2];
	struct sub_setup su;
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t nr_pubs, n = 0, got, i;
	int dev = AG_OPEN(), j, w;

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB_EX(dev, TOPIC, 64, 0, info, 2, &nr_pubs);
	CHECK_EQ(nr_pubs, 0);
	TELL(sock, "subscribed");
	RECV(sock, su);
	for (j = 0; j < 2; j++) {
		MAP_PEER(dev, su.pids[j], &info[j]);
		CHECK_EQ(info[j].addr, su.pools[j].addr);
		CHECK_EQ(info[j].max, su.pools[j].max);
	}
	CHECK_EQ(poll_now(sub.fd), 0);
	TELL(sock, "mapped");
	WAIT_FOR(sock, "receive");
	/* Everything was published before "receive". */
	CHECK(poll_now(sub.fd) & POLLIN);
	while (n < 2 * NMSG) {
		got = RECEIVE(dev, sub.id, e, 7);
		for (i = 0; i < got; i++)
			all[n++] = e[i];
		if (n > 2 * NMSG)
			FAIL("received %u entries, expected %d", n, 2 * NMSG);
	}
	CHECK_ERR(receive_raw(dev, sub.id, e, 7, &got), EAGAIN);
	CHECK_EQ(poll_now(sub.fd), 0);
	for (i = 0; i < n; i++) {
		w = all[i].pid == su.pids[0] ? 0 : all[i].pid == su.pids[1] ? 1 : -1;
		if (w < 0)
			FAIL("entry seq %llu from pid %d, not a publisher",
			     (unsigned long long)all[i].seq, all[i].pid);
		CHECK_EQ(all[i].publisher_id, su.pub_ids[w]);
		CHECK(all[i].addr >= su.pools[w].addr &&
		      all[i].addr + all[i].len <= su.pools[w].addr + su.pools[w].size);
		if (i) {
			CHECK(all[i].seq > all[i - 1].seq);
			CHECK(all[i].timestamp_ns >= all[i - 1].timestamp_ns);
		}
		/* The publisher's bytes, at the address it wrote them. */
		CHECK_EQ(all[i].len, 16 + MSG_LABEL(all[i].addr));
		CHECK_EQ(((struct msg *)u2p(all[i].addr))->pid, all[i].pid);
	}
	SEND(sock, all);
	for (i = 0; i < n; i++)
		RELEASE(dev, sub.id, all[i].seq);
	for (j = 0; j < 2; j++)
		UNMAP_PEER(dev, &info[j]);
	WAIT_FOR(sock, "exit");
}

TEST(two_publishers_two_subscribers)
{
	struct child s[2], p[2];
	struct pr_hello h[2];
	struct pub_rec rec[2][NMSG];
	struct agnocast_entry got[2][2 * NMSG];
	struct sub_setup su;
	int i, j, k, w, found;

	for (i = 0; i < 2; i++) {
		s[i] = spawn(subscriber, NULL);
		WAIT_FOR(s[i].sock, "subscribed");
	}
	for (i = 0; i < 2; i++) {
		p[i] = spawn(publisher, NULL);
		RECV(p[i].sock, h[i]);
		/* Both subscriber processes, each once. */
		CHECK_EQ(h[i].nr_sub_pids, 2);
		CHECK((h[i].sub_pids[0] == s[0].pid && h[i].sub_pids[1] == s[1].pid) ||
		      (h[i].sub_pids[0] == s[1].pid && h[i].sub_pids[1] == s[0].pid));
		su.pids[i] = p[i].pid;
		su.pub_ids[i] = h[i].pub_id;
		su.pools[i] = h[i].pool;
	}
	CHECK_STATUS_TOTALS(4, 1, 2, 2, 0, 0);
	for (i = 0; i < 2; i++) {
		SEND(s[i].sock, su);
		WAIT_FOR(s[i].sock, "mapped");
	}
	CHECK_STATUS_TOTALS(4, 1, 2, 2, 0, 4);
	/* Both publishers at once. */
	TELL(p[0].sock, "go");
	TELL(p[1].sock, "go");
	RECV(p[0].sock, rec[0]);
	RECV(p[1].sock, rec[1]);
	for (i = 0; i < 2; i++) {
		TELL(s[i].sock, "receive");
		RECV(s[i].sock, got[i]);
	}
	for (i = 0; i < 2; i++) {
		for (k = 0; k < 2 * NMSG; k++) {
			struct agnocast_entry *e = &got[i][k];

			/* Per topic, from 1, no gap: 20 publishes, seqs 1..20. */
			CHECK_EQ(e->seq, (uint64_t)k + 1);
			found = 0;
			for (w = 0; w < 2; w++) {
				for (j = 0; j < NMSG; j++) {
					if (rec[w][j].seq != e->seq)
						continue;
					found++;
					CHECK_EQ(e->pid, p[w].pid);
					CHECK_EQ(e->publisher_id, h[w].pub_id);
					CHECK_EQ(e->addr, rec[w][j].addr);
					CHECK_EQ(e->len, rec[w][j].len);
					CHECK(e->timestamp_ns >= rec[w][j].t0);
					CHECK(e->timestamp_ns <= rec[w][j].t1);
				}
			}
			CHECK_EQ(found, 1);
		}
	}
	for (i = 0; i < 2; i++) {
		TELL(s[i].sock, "exit");
		REAP_OK(s[i].pid);
	}
	for (i = 0; i < 2; i++) {
		TELL(p[i].sock, "exit");
		REAP_OK(p[i].pid);
	}
}

static void segv_publisher(int sock, void *arg)
{
	struct ag_pool pool;
	uint32_t pub;
	uint64_t seq;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "pubsub/segv", 4, 0);
	TELL(sock, "ready");
	WAIT_FOR(sock, "publish");
	write_msg(pool.addr, 1);
	seq = PUBLISH(dev, pub, pool.addr, 16);
	CHECK_EQ(seq, 1);
	TELL(sock, "published");
	WAIT_FOR(sock, "again");
	/* The dead subscriber's write did not reach us. */
	CHECK_MSG(pool.addr, getpid(), 1);
	write_msg(pool.addr + 64, 2);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + 64, 16), 2);
	TELL(sock, "published");
	WAIT_FOR(sock, "exit");
}

struct segv_ctx {
	pid_t pub;
	int writer;
};

static void segv_subscriber(int sock, void *arg)
{
	struct segv_ctx *c = arg;
	struct agnocast_pool_info info;
	struct agnocast_entry e[4];
	struct rlimit no_core = { 0, 0 };
	struct ag_pool pool;
	struct ag_sub sub;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "pubsub/segv", 4, 0);
	MAP_PEER(dev, c->pub, &info);
	TELL(sock, "ready");
	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_MSG(e[0].addr, c->pub, 1);
	if (c->writer) {
		setrlimit(RLIMIT_CORE, &no_core);
		TELL(sock, "writing");
		*(volatile uint32_t *)u2p(e[0].addr + 8) = 666;
		FAIL("wrote into a read-only mapping of another process's pool");
	}
	TELL(sock, "received");
	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 2);
	CHECK_MSG(e[0].addr, c->pub, 2);
	CHECK_MSG(e[0].addr - 64, c->pub, 1);
	TELL(sock, "received");
	WAIT_FOR(sock, "exit");
}

TEST(subscriber_write_kills_only_the_subscriber)
{
	struct segv_ctx wc, rc;
	struct child p, w, r;

	p = spawn(segv_publisher, NULL);
	WAIT_FOR(p.sock, "ready");
	wc.pub = rc.pub = p.pid;
	wc.writer = 1;
	rc.writer = 0;
	w = spawn(segv_subscriber, &wc);
	WAIT_FOR(w.sock, "ready");
	r = spawn(segv_subscriber, &rc);
	WAIT_FOR(r.sock, "ready");
	TELL(p.sock, "publish");
	WAIT_FOR(p.sock, "published");
	TELL(r.sock, "receive");
	WAIT_FOR(r.sock, "received");
	TELL(w.sock, "receive");
	WAIT_FOR(w.sock, "writing");
	REAP_SIGNALED(w.pid, SIGSEGV);
	CHECK_STATUS_TOTALS(2, 1, 1, 1, 1, 1);
	TELL(p.sock, "again");
	WAIT_FOR(p.sock, "published");
	TELL(r.sock, "receive");
	WAIT_FOR(r.sock, "received");
	TELL(r.sock, "exit");
	REAP_OK(r.pid);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}

static int publish_raw(int dev, uint32_t pub, uint64_t addr, uint64_t len)
{
	struct agnocast_publish_args a;
	uint64_t recl[4];

	memset(&a, 0, sizeof(a));
	a.publisher_id = pub;
	a.addr = addr;
	a.len = len;
	a.reclaimed = p2u(recl);
	a.reclaimed_cap = 4;
	return ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &a);
}

static void growth_subscriber(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct agnocast_entry e[8];
	struct ag_pool pool;
	struct ag_sub sub;
	pid_t owner;
	int dev = AG_OPEN();

	(void)arg;
	RECV(sock, owner);
	JOIN(dev, UNIT, 0, &pool);
	SEND(sock, pool);
	sub = ADD_SUB(dev, "pubsub/range", 8, 0);
	MAP_PEER(dev, owner, &info);
	CHECK_EQ(info.size, UNIT);
	TELL(sock, "ready");
	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 8), 5);
	CHECK_EQ(e[0].len, 0);			/* len 0 is fine */
	CHECK_EQ(e[0].addr, info.addr);
	CHECK_EQ(e[1].addr, info.addr + UNIT - 16);	/* ends at the end */
	CHECK_EQ(e[1].len, 16);
	CHECK_EQ(e[2].len, UNIT);
	/* Published after the growth, read through the mapping made before. */
	CHECK_EQ(e[3].addr, info.addr + 2 * UNIT);
	CHECK_MSG(e[3].addr, owner, 3);
	CHECK_EQ(e[4].addr, info.addr + UNIT - 8);
	CHECK_EQ(e[4].len, 16);
	WAIT_FOR(sock, "exit");
}

TEST(publish_outside_pool_erange_until_grown)
{
	struct ag_pool pool, other;
	struct child s;
	uint32_t pub;
	pid_t me = getpid();
	int dev;

	s = spawn(growth_subscriber, NULL);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 4 * UNIT, &pool);
	pub = ADD_PUB(dev, "pubsub/range", 8, 0);
	SEND(s.sock, me);
	RECV(s.sock, other);
	WAIT_FOR(s.sock, "ready");

	CHECK_ERR(publish_raw(dev, pub, pool.addr - 1, 1), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, pool.addr - 4096, 8192), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + UNIT - 8, 16), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + UNIT, 1), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + 2 * UNIT, 16), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + 4 * UNIT, 1), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + 8, ~0ULL - 4), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, ~0ULL - 4, 16), ERANGE);
	CHECK_ERR(publish_raw(dev, pub, 0, 0), ERANGE);
	/* Another process's pool is not ours. */
	CHECK_ERR(publish_raw(dev, pub, other.addr, 16), ERANGE);

	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 0), 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + UNIT - 16, 16), 2);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, UNIT), 3);

	/* Grow the file: the new pages become publishable. */
	CHECK_OK(ftruncate(pool.shm_fd, 3 * UNIT));
	write_msg(pool.addr + 2 * UNIT, 3);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + 2 * UNIT, 16), 4);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + UNIT - 8, 16), 5);
	CHECK_ERR(publish_raw(dev, pub, pool.addr + 3 * UNIT - 8, 16), ERANGE);

	TELL(s.sock, "receive");
	TELL(s.sock, "exit");
	REAP_OK(s.pid);
}
