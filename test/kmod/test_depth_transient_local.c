// SPDX-License-Identifier: Apache-2.0
/*
 * History and queue depth, with publishers and subscribers in separate
 * processes: transient-local late joiners get what transient-local
 * publishers retained (their depth), volatile ones get nothing old, nobody
 * gets a volatile publisher's history; subscriber depth keeps the newest;
 * a small entries_cap leaves the rest pending; TAKE gives the newest and
 * skips the older ones.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "roles.h"
#include "status.h"

#define TL AGNOCAST_QOS_TRANSIENT_LOCAL

TEST(transient_local_history_for_late_joiners)
{
	static const struct pub_cfg ca = { "depth/tl", 2, TL };
	static const struct pub_cfg cb = { "depth/tl", 3, TL };
	static const struct pub_cfg cc = { "depth/tl", 5, 0 };
	static const struct sub_cfg x = { "depth/tl", 1, { { 100, TL } }, 0 };
	static const struct sub_cfg y = {
		"depth/tl", 2, { { 100, 0 }, { 2, TL } }, 0
	};
	struct pub_proc a, b, c;
	struct sub_proc sx, sy;
	struct recv_result r;
	/* Publication order; label = 100 * publisher + n. */
	static const struct {
		char who;
		uint32_t label;
	} order[] = {
		{ 'a', 101 }, { 'b', 201 }, { 'c', 301 }, { 'a', 102 }, { 'b', 202 },
		{ 'a', 103 }, { 'b', 203 }, { 'c', 302 }, { 'b', 204 },
	};
	uint32_t i;

	pub_start(&a, &ca);
	pub_start(&b, &cb);
	pub_start(&c, &cc);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct pub_proc *p = order[i].who == 'a' ? &a : order[i].who == 'b' ? &b : &c;

		CHECK_EQ(PUB_ONE(p, order[i].label), i + 1);
	}
	/* Retained now: a keeps seqs 4 and 6, b keeps 5, 7 and 9; c is volatile. */
	sub_start(&sx, &x);
	sub_start(&sy, &y);
	CHECK_EQ(sx.h.nr_pubs[0], 3);
	CHECK_EQ(sy.h.nr_pubs[0], 3);

	SUB_RECV(&sx, 16, &r);
	CHECK_SEQS(&r, 0, 4, 5, 6, 7, 9);
	CHECK_EQ(r.e[0][0].label, 102);
	CHECK_EQ(r.e[0][0].pid, a.c.pid);
	CHECK_EQ(r.e[0][0].publisher_id, a.h.pub_id);
	CHECK_EQ(r.e[0][1].label, 202);
	CHECK_EQ(r.e[0][1].pid, b.c.pid);
	CHECK_EQ(r.e[0][2].label, 103);
	CHECK_EQ(r.e[0][3].label, 203);
	CHECK_EQ(r.e[0][4].label, 204);
	CHECK_EQ(r.readable[0], 0);

	SUB_RECV(&sy, 16, &r);
	CHECK_NOTHING(&r, 0);		/* volatile: nothing old */
	CHECK_SEQS(&r, 1, 7, 9);	/* depth 2: the newest two */
	CHECK_EQ(r.e[1][0].label, 203);
	CHECK_EQ(r.e[1][1].label, 204);

	/* New data reaches everyone, once. */
	CHECK_EQ(PUB_ONE(&c, 303), 10);
	SUB_RECV(&sx, 16, &r);
	CHECK_SEQS(&r, 0, 10);
	CHECK_EQ(r.e[0][0].label, 303);
	CHECK_EQ(r.e[0][0].pid, c.c.pid);
	SUB_RECV(&sy, 16, &r);
	CHECK_SEQS(&r, 0, 10);
	CHECK_SEQS(&r, 1, 10);
	SUB_RECV(&sx, 16, &r);
	CHECK_NOTHING(&r, 0);
	SUB_RECV(&sy, 16, &r);
	CHECK_NOTHING(&r, 0);
	CHECK_NOTHING(&r, 1);

	sub_stop(&sx);
	sub_stop(&sy);
	pub_stop(&a);
	pub_stop(&b);
	pub_stop(&c);
}

TEST(history_of_a_removed_publisher_is_gone)
{
	static const struct pub_cfg ca = { "depth/gone", 3, TL };
	static const struct pub_cfg cb = { "depth/gone", 3, TL };
	static const struct sub_cfg x = { "depth/gone", 1, { { 10, TL } }, 0 };
	struct pub_proc a, b;
	struct sub_proc sx;
	struct recv_result r;

	pub_start(&a, &ca);
	pub_start(&b, &cb);
	CHECK_EQ(PUB_ONE(&a, 1), 1);
	CHECK_EQ(PUB_ONE(&b, 2), 2);
	CHECK_EQ(PUB_ONE(&a, 3), 3);
	pub_stop(&a);
	sub_start(&sx, &x);
	CHECK_EQ(sx.h.nr_pubs[0], 1);
	SUB_RECV(&sx, 16, &r);
	CHECK_SEQS(&r, 0, 2);
	CHECK_EQ(r.e[0][0].pid, b.c.pid);
	sub_stop(&sx);
	pub_stop(&b);
}

TEST(subscriber_depth_keeps_the_newest)
{
	static const struct pub_cfg cp = { "depth/sub", 10, 0 };
	static const struct sub_cfg x = { "depth/sub", 1, { { 3, 0 } }, 0 };
	struct pub_proc p;
	struct sub_proc s;
	struct recv_result r;
	uint32_t i;

	sub_start(&s, &x);
	pub_start(&p, &cp);
	sub_map(&s, p.c.pid);
	for (i = 1; i <= 7; i++)
		CHECK_EQ(PUB_ONE(&p, i), i);
	SUB_RECV(&s, 16, &r);
	CHECK_SEQS(&r, 0, 5, 6, 7);
	CHECK_EQ(r.e[0][0].label, 5);
	CHECK_EQ(r.readable[0], 0);
	SUB_RECV(&s, 16, &r);
	CHECK_NOTHING(&r, 0);
	sub_stop(&s);
	pub_stop(&p);
}

TEST(small_entries_cap_leaves_the_rest_pending)
{
	static const struct pub_cfg cp = { "depth/cap", 10, 0 };
	static const struct sub_cfg x = { "depth/cap", 1, { { 10, 0 } }, 0 };
	struct pub_proc p;
	struct sub_proc s;
	struct recv_result r;
	uint32_t i;

	sub_start(&s, &x);
	pub_start(&p, &cp);
	sub_map(&s, p.c.pid);
	for (i = 1; i <= 5; i++)
		CHECK_EQ(PUB_ONE(&p, i), i);
	SUB_RECV(&s, 2, &r);
	CHECK_SEQS(&r, 0, 1, 2);
	CHECK_EQ(r.readable[0], 1);
	SUB_RECV(&s, 2, &r);
	CHECK_SEQS(&r, 0, 3, 4);
	CHECK_EQ(r.readable[0], 1);
	SUB_RECV(&s, 2, &r);
	CHECK_SEQS(&r, 0, 5);
	CHECK_EQ(r.readable[0], 0);
	SUB_RECV(&s, 2, &r);
	CHECK_NOTHING(&r, 0);
	sub_stop(&s);
	pub_stop(&p);
}

static void taker(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct agnocast_entry e, es[4];
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t nr;
	pid_t pub;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "depth/take", 10, 0);
	TELL(sock, "subscribed");
	RECV(sock, pub);
	MAP_PEER(dev, pub, &info);
	TELL(sock, "mapped");

	WAIT_FOR(sock, "take");
	CHECK_OK(take_raw(dev, sub.id, &e));
	CHECK_EQ(e.seq, 3);
	CHECK_EQ(e.pid, pub);
	CHECK_MSG(e.addr, pub, 3);
	CHECK_ERR(take_raw(dev, sub.id, &e), EAGAIN);
	CHECK_ERR(receive_raw(dev, sub.id, es, 4, &nr), EAGAIN);
	CHECK_EQ(poll_now(sub.fd), 0);
	/* The skipped ones were never held. */
	CHECK_ERR(release_raw(dev, sub.id, 1), ENOENT);
	CHECK_ERR(release_raw(dev, sub.id, 2), ENOENT);
	RELEASE(dev, sub.id, 3);
	TELL(sock, "took");

	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, es, 4), 2);
	CHECK_EQ(es[0].seq, 4);
	CHECK_EQ(es[1].seq, 5);
	CHECK_MSG(es[1].addr, pub, 5);
	RELEASE(dev, sub.id, 4);
	RELEASE(dev, sub.id, 5);
	TELL(sock, "received");
	WAIT_FOR(sock, "exit");
}

TEST(take_returns_the_newest_and_skips_older)
{
	static const struct pub_cfg cp = { "depth/take", 10, 0 };
	struct pub_proc p;
	struct child t;

	t = spawn(taker, NULL);
	WAIT_FOR(t.sock, "subscribed");
	pub_start(&p, &cp);
	SEND(t.sock, p.c.pid);
	WAIT_FOR(t.sock, "mapped");
	CHECK_EQ(PUB_ONE(&p, 1), 1);
	CHECK_EQ(PUB_ONE(&p, 2), 2);
	CHECK_EQ(PUB_ONE(&p, 3), 3);
	TELL(t.sock, "take");
	WAIT_FOR(t.sock, "took");
	CHECK_EQ(PUB_ONE(&p, 4), 4);
	CHECK_EQ(PUB_ONE(&p, 5), 5);
	TELL(t.sock, "receive");
	WAIT_FOR(t.sock, "received");
	TELL(t.sock, "exit");
	REAP_OK(t.pid);
	pub_stop(&p);
}
