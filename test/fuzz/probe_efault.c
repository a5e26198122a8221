// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios: what a call that fails with EFAULT leaves behind
 * (nothing registered, references given back, entries still pending,
 * addresses still queued), and what PUBLISH hands back by depth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"
#include "kids.h"
#include "probe.h"

#define ENT_SZ sizeof(struct agnocast_entry)

void s_efault_add_sub(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_subscriber_args a;
	struct agnocast_topic_info_args ti;
	struct call c = { .ioc = IOC_ADD_SUBSCRIBER, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "ADD_SUBSCRIBER whose answer cannot be written" };
	int fd0, n0, v = rng_below(&t->r, 3);

	p_topic(t, topic);
	if (!p_add_pub(t, topic, 1, 0))
		return p_cleanup(t);
	fd0 = lowest_fd();
	n0 = count_sub_fds();
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	a.pubs_cap = 4;
	a.pubs = v == 0 ? (uintptr_t)t->ar.rw : v == 1 ? (uintptr_t)t->ar.ro
						       : (uintptr_t)(t->ar.guard - 16) *
							 arena_guard_ok(&t->ar);
	c.mode = v == 0 ? ARG_RO : ARG_NORMAL;
	if (fz_call(t, &c) == EFAULT) {
		win_hit(W_undo_add_subscriber);
		p_topic_info(t, topic, &ti, NULL, 0);
		REQUIRE(t, ti.nr_subs == 0 && ti.nr_pubs == 1,
			"after a failed ADD_SUBSCRIBER: %u subscribers, %u publishers",
			ti.nr_subs, ti.nr_pubs);
		REQUIRE(t, lowest_fd() == fd0 && count_sub_fds() == n0,
			"a failed ADD_SUBSCRIBER left a descriptor (lowest free %d, was %d; subscriber fds %d, were %d)",
			lowest_fd(), fd0, count_sub_fds(), n0);
	}
	p_cleanup(t);
}

void s_efault_add_pub(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_publisher_args a;
	struct agnocast_topic_info_args ti;
	struct call c = { .ioc = IOC_ADD_PUBLISHER, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "ADD_PUBLISHER whose answer cannot be written" };
	struct psub s;
	int v = rng_below(&t->r, 2), fd0;

	p_topic(t, topic);
	if (p_add_sub(t, topic, 1, 0, &s))
		return p_cleanup(t);
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	a.sub_pids_cap = 4;
	a.sub_pids = v ? (uintptr_t)t->ar.ro : (uintptr_t)t->ar.rw;
	c.mode = v ? ARG_NORMAL : ARG_RO;
	fd0 = lowest_fd();
	if (fz_call(t, &c) == EFAULT) {
		win_hit(W_undo_add_publisher);
		p_topic_info(t, topic, &ti, NULL, 0);
		REQUIRE(t, ti.nr_pubs == 0 && ti.nr_subs == 1,
			"after a failed ADD_PUBLISHER: %u publishers, %u subscribers",
			ti.nr_pubs, ti.nr_subs);
		REQUIRE(t, lowest_fd() == fd0,
			"a failed ADD_PUBLISHER left a descriptor (lowest free %d, was %d)",
			lowest_fd(), fd0);
	}
	p_cleanup(t);
}

/* k entries published on a fresh topic with one subscriber of depth 8. */
static int setup_pending(struct tctx *t, char *topic, struct psub *s,
			 uint64_t *seqs, uint32_t k)
{
	uint32_t pub, i;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 4, 0);
	if (!pub || p_add_sub(t, topic, 8, 0, s))
		return -1;
	for (i = 0; i < k; i++)
		if (p_publish(t, pub, p_scratch(t, i), NULL, 0, &seqs[i], NULL))
			return -1;
	return 0;
}

/* RECEIVE / TAKE whose copy-out fails: references back, entries pending. */
static int failing_delivery(struct tctx *t, uint32_t sub, uint32_t k, int v)
{
	struct agnocast_receive_args ra = { .subscriber_id = sub, .entries_cap = 8,
					    .entries = (uintptr_t)t->ar.rw };
	struct agnocast_take_args ta = { .subscriber_id = sub };
	struct call c = { .valid = 1, .expect = ES(EFAULT),
			  .rule = "a delivery whose copy-out fails" };

	c.ioc = v == 3 ? IOC_TAKE : IOC_RECEIVE;
	c.shadow = v == 3 ? (void *)&ta : (void *)&ra;
	c.mode = v == 0 || v == 3 ? ARG_RO : ARG_NORMAL;
	if (v == 1)
		ra.entries = (uintptr_t)t->ar.ro;
	if (v == 2)
		ra.entries = arena_guard_ok(&t->ar) ?
			     (uintptr_t)(t->ar.guard - (k * ENT_SZ - 8)) : 0;
	return fz_call(t, &c);
}

void s_efault_deliver(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[8];
	struct agnocast_endpoint_info si;
	struct agnocast_topic_info_args ti;
	struct agnocast_take_args ta;
	struct pollfd pfd = { .events = POLLIN };
	uint64_t seqs[4];
	uint32_t k = 1 + rng_below(&t->r, 4), i, n;
	int v = rng_below(&t->r, 4);
	struct psub s;

	if (setup_pending(t, topic, &s, seqs, k))
		return p_cleanup(t);
	failing_delivery(t, s.id, k, v);
	win_hit(v == 3 ? W_undo_take : W_undo_receive);
	pfd.fd = s.fd;
	REQUIRE(t, poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN),
		"after a failed %s the subscriber's fd is not readable (0x%x)",
		v == 3 ? "TAKE" : "RECEIVE", pfd.revents);
	p_topic_info(t, topic, &ti, &si, 1);
	REQUIRE(t, ti.nr_subs == 1 && si.count == 0 && ti.nr_entries == k,
		"after a failed delivery: held %u, entries %llu (want 0, %u)", si.count,
		(unsigned long long)ti.nr_entries, k);
	if (v == 3) {
		memset(&ta, 0, sizeof(ta));
		ta.subscriber_id = s.id;
		fz_simple(t, IOC_TAKE, &ta, ES(0), "TAKE after a failed TAKE");
		REQUIRE(t, ta.entry.seq == seqs[k - 1], "TAKE gave seq %llu, newest is %llu",
			(unsigned long long)ta.entry.seq, (unsigned long long)seqs[k - 1]);
		p_release(t, s.id, ta.entry.seq);
		p_receive(t, s.id, e, 8, ES(EAGAIN), "TAKE skipped the older entries");
		return p_cleanup(t);
	}
	n = p_receive(t, s.id, e, 8, ES(0), "RECEIVE after a failed RECEIVE");
	REQUIRE(t, n == k, "RECEIVE after a failed one gave %u entries of %u", n, k);
	for (i = 0; i < n; i++) {
		REQUIRE(t, e[i].seq == seqs[i], "entry %u: seq %llu, want %llu", i,
			(unsigned long long)e[i].seq, (unsigned long long)seqs[i]);
		p_release(t, s.id, e[i].seq);
	}
	p_cleanup(t);
}

/* PUBLISH whose answer cannot be written is published all the same. */
static int publish_ro(struct tctx *t, uint32_t pub, uint64_t addr, int args_ro,
		      uint64_t *seq)
{
	struct agnocast_publish_args a = { .publisher_id = pub, .addr = addr,
					   .reclaimed_cap = 4 };
	struct call c = { .ioc = IOC_PUBLISH, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "PUBLISH whose answer cannot be written" };
	int e;

	a.reclaimed = args_ro ? (uintptr_t)recl_buf(t) : (uintptr_t)t->ar.ro;
	c.mode = args_ro ? ARG_RO : ARG_NORMAL;
	outst_inc(t->p, addr);
	e = fz_call(t, &c);
	if (e != EFAULT) {
		outst_dec(t->p, addr);
		return -1;
	}
	win_hit(W_publish_efault_published);
	if (!args_ro)
		*seq = ((struct agnocast_publish_args *)c.arg)->seq;
	return 0;
}

static void expect_reclaim(struct tctx *t, const uint64_t *want, uint32_t n)
{
	struct agnocast_reclaim_args a = { .addrs = (uintptr_t)recl_buf(t), .addrs_cap = 8 };
	uint32_t i;

	fz_simple(t, IOC_RECLAIM, &a, ES(0), "RECLAIM");
	REQUIRE(t, a.nr_addrs == n, "RECLAIM gave %u addresses, want %u", a.nr_addrs, n);
	for (i = 0; i < n; i++)
		REQUIRE(t, recl_buf(t)[i] == want[i], "RECLAIM address %u: 0x%llx, want 0x%llx",
			i, (unsigned long long)recl_buf(t)[i], (unsigned long long)want[i]);
	take_back(t, recl_buf(t), a.nr_addrs, "RECLAIM");
}

void s_efault_publish(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_topic_info_args ti;
	struct agnocast_entry e[4];
	uint64_t sa, sc = 0, addr[3];
	uint32_t pub, n, i;
	struct psub s;

	for (i = 0; i < 3; i++)
		addr[i] = p_scratch(t, i);
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || p_add_sub(t, topic, 4, 0, &s) ||
	    p_publish(t, pub, addr[0], recl_buf(t), 8, &sa, &n) ||
	    publish_ro(t, pub, addr[1], 1, NULL))
		return p_cleanup(t);
	p_topic_info(t, topic, &ti, NULL, 0);
	REQUIRE(t, ti.last_seq == sa + 1, "PUBLISH failed with EFAULT: last_seq %llu, want %llu",
		(unsigned long long)ti.last_seq, (unsigned long long)sa + 1);
	n = p_receive(t, s.id, e, 4, ES(0), "RECEIVE of the entry published with EFAULT");
	REQUIRE(t, n == 1 && e[0].seq == sa + 1 && e[0].addr == addr[1],
		"RECEIVE gave %u entries, first seq %llu addr 0x%llx", n,
		(unsigned long long)e[0].seq, (unsigned long long)e[0].addr);
	expect_reclaim(t, &addr[0], 1);
	p_release(t, s.id, e[0].seq);
	if (!publish_ro(t, pub, addr[2], 0, &sc)) {
		REQUIRE(t, sc == sa + 2, "seq %llu, want %llu", (unsigned long long)sc,
			(unsigned long long)sa + 2);
		expect_reclaim(t, &addr[1], 1);
	}
	p_cleanup(t);
}

void s_efault_reclaim(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_reclaim_args a = { .addrs_cap = 4 };
	struct call c = { .ioc = IOC_RECLAIM, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT), .rule = "RECLAIM whose answer cannot be written" };
	uint64_t addr[3];
	uint32_t pub, i;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	for (i = 0; i < 3; i++) {
		addr[i] = p_scratch(t, i);
		if (!pub || p_publish(t, pub, addr[i], NULL, 0, NULL, NULL))
			return p_cleanup(t);
	}
	a.addrs = (uintptr_t)t->ar.ro;
	fz_call(t, &c);
	a.addrs = (uintptr_t)recl_buf(t);
	c.mode = ARG_RO;
	fz_call(t, &c);
	win_hit(W_reclaim_efault_kept);
	expect_reclaim(t, addr, 2);
	p_cleanup(t);
}

/* Each PUBLISH beyond depth hands back the entry that fell out. */
void s_depth_reclaim(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_remove_args rm = { 0 };
	uint32_t d = 1 + rng_below(&t->r, 4), n = d + 1 + rng_below(&t->r, 3), i, nr;
	uint64_t want[8];

	p_topic(t, topic);
	rm.id = p_add_pub(t, topic, d, 0);
	for (i = 0; rm.id && i < n; i++) {
		if (p_publish(t, rm.id, p_scratch(t, i), recl_buf(t), 4, NULL, &nr))
			return p_cleanup(t);
		REQUIRE(t, nr == (i >= d) && (i < d || recl_buf(t)[0] == p_scratch(t, i - d)),
			"publish %u of depth %u handed back %u addresses (first 0x%llx)",
			i, d, nr, (unsigned long long)recl_buf(t)[0]);
	}
	if (!rm.id)
		return p_cleanup(t);
	fz_simple(t, IOC_REMOVE_PUBLISHER, &rm, ES(0), "removing our publisher");
	for (i = 0; i < MAXPUB; i++)
		if (t->p->pubs[i].live && t->p->pubs[i].id == rm.id) {
			close(t->p->pubs[i].fd);
			t->p->pubs[i].live = 0;
		}
	for (i = 0; i < d; i++)
		want[i] = p_scratch(t, n - d + i);
	expect_reclaim(t, want, d);
	win_hit(W_depth_reclaim);
	p_cleanup(t);
}

