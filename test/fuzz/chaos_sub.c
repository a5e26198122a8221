// SPDX-License-Identifier: Apache-2.0
/* Member threads: the subscriber side (see chaos.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"
#include "reader.h"

static struct subrec *sub_reserve(struct pctx *p)
{
	struct subrec *sr = NULL;
	int i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < CHAOS_MAXSUB && !sr; i++)
		if (!p->subs[i].live)
			sr = &p->subs[i];
	if (sr) {
		sr->live = 2;
		sr->fd = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return sr;
}

/* The subscriber is gone: close what is left of its fd, forget it. */
static void sub_forget(struct tctx *t, struct subrec *sr)
{
	struct pctx *p = t->p;
	uint32_t id = sr->id;	/* the record may be reused once unlocked */
	int fd;

	pthread_mutex_lock(&p->mu);
	fd = sr->fd;
	sr->fd = -1;
	if (sr->live == 1)
		dead_add(p, 1, id);
	sr->live = 0;
	pthread_mutex_unlock(&p->mu);
	if (fd >= 0)
		close(fd);
	held_drop_sub(t, id);
}

/*
 * in: what we sent (topic, qos are inputs only); out: what the call left in
 * the argument, where only the out fields are the kernel's. An ARR_SELF
 * pubs array lies over the argument itself, so its pool records may have
 * overwritten the topic and qos there.
 */
static void add_sub_done(struct tctx *t, struct subrec *sr,
			 const struct agnocast_add_subscriber_args *in,
			 const struct agnocast_add_subscriber_args *out,
			 const struct agnocast_pool_info *pools, uint32_t cap)
{
	struct pctx *p = t->p;
	uint32_t i, n = out->nr_pubs < cap ? out->nr_pubs : cap;
	int fl = fcntl(out->fd, F_GETFD);

	REQUIRE(t, out->fd >= 0 && fl >= 0 && (fl & FD_CLOEXEC),
		"ADD_SUBSCRIBER fd %d (F_GETFD %d)", out->fd, fl);
	REQUIRE(t, out->subscriber_id && out->nr_pubs <= AGNOCAST_TOPIC_PUBS_MAX,
		"ADD_SUBSCRIBER id %u nr_pubs %u", out->subscriber_id, out->nr_pubs);
	for (i = 0; pools && i < n; i++)
		check_pool_info(t, &pools[i], "ADD_SUBSCRIBER pubs[]", 0);
	pthread_mutex_lock(&p->mu);
	sr->id = out->subscriber_id;
	sr->fd = out->fd;
	sr->owner = t->idx;
	sr->exposed = rng_pct(&t->r, 25);
	sr->ns = t->ns;
	sr->qos = in->qos;
	sr->last_seq = 0;
	sr->nheld = 0;
	memcpy(sr->topic, in->topic, sizeof(sr->topic));
	sr->live = 1;
	pthread_mutex_unlock(&p->mu);
	reg_add_id(p->reg, 1, sr->id, 0);
}

void op_add_subscriber(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_add_subscriber_args a;
	struct call c = { .ioc = IOC_ADD_SUBSCRIBER, .shadow = &a };
	struct subrec *sr = sub_reserve(p);
	struct agnocast_pool_info *pools;
	int bad = 0, tk, name_err, amode, e;
	uint32_t cap;

	if (!sr)
		return;
	memset(&a, 0, sizeof(a));
	tk = pick_tkind(t, 20);
	name_err = gen_topic(t, a.topic, tk);
	bad = name_err ? 0 : gen_qos(t, &a.qos, 1, rng_pct(&t->r, 4)) != 0;
	if (name_err)
		gen_qos(t, &a.qos, 1, 0);
	cap = bad || name_err ? 4 : gen_cap(t, 32, 3, &bad);
	amode = pick_arr_mode(&t->r, 10);
	pools = arr_get(&t->ar, &t->r, amode, sizeof(*pools), cap, &a.pubs);
	a.pubs_cap = cap;
	a.fd = (int32_t)rng_u64(&t->r);	/* out only */
	c.mode = pick_arg_mode(&t->r, 8);
	expect_add(&c, p, name_err, bad, amode,
		   ES(ENOSPC) | ES(EDQUOT) | ES(EMFILE) | ES(ENFILE));
	e = fz_call(t, &c);
	if (e == 0) {
		add_sub_done(t, sr, &a, c.arg, amode == ARR_NORMAL ? pools : NULL, cap);
		return;
	}
	pthread_mutex_lock(&p->mu);
	sr->live = 0;
	pthread_mutex_unlock(&p->mu);
	if (e == EDQUOT)
		win_hit(W_edquot_endpoints);
	if (e == EFAULT && p->joined && tk == TN_PRIVATE &&
	    (c.mode == ARG_RO || c.mode == ARG_NORMAL)) {
		win_hit(W_undo_add_subscriber);
		check_no_topic(t, a.topic,
			       "ADD_SUBSCRIBER failed with EFAULT: nothing may be registered");
	}
}

/* After we removed our own (not exposed) subscriber: HUP, then ENOENT. */
static void check_removed(struct tctx *t, struct subrec *sr)
{
	struct agnocast_take_args tk = { .subscriber_id = sr->id };
	struct pollfd pfd = { .fd = sr->fd, .events = POLLIN };

	REQUIRE(t, poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP) &&
		!(pfd.revents & POLLNVAL),
		"subscriber %u removed: its fd %d reports revents 0x%x, not POLLHUP",
		sr->id, sr->fd, pfd.revents);
	win_hit(W_sub_hup_own);
	fz_simple(t, IOC_TAKE, &tk, ES(ENOENT), "TAKE on a removed subscriber");
}

void op_remove_subscriber(struct tctx *t)
{
	struct agnocast_remove_args a = { 0 };
	struct call c = { .ioc = IOC_REMOVE_SUBSCRIBER, .shadow = &a };
	struct subrec *sr = NULL;
	const struct regrec *f;
	int bad = 0, e, pick = rng_below(&t->r, 10);

	c.mode = pick_arg_mode(&t->r, 4);
	c.valid = 1;
	sr = pick < 6 ? sub_pick_own(t) : NULL;
	if (sr) {
		a.id = sr->id;
		c.expect = ES(0) | (sr->exposed ? ES(ENOENT) : 0);
		c.rule = "removing our own subscriber";
	} else if (pick < 8) {
		a.id = pick == 6 ? dead_pick(t, 1) : 0;
		a.id = a.id ?: garbage_id(t);
		c.expect = ES(ENOENT);
		c.rule = "a removed or garbage subscriber id";
	} else {
		f = foreign_pick(t);
		a.id = foreign_id(t, f, 1);
		c.expect = ES(EPERM) | ES(ENOENT);
		c.rule = "another process's subscriber id";
	}
	a.reserved = gen_reserved(t, 3, &bad);
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
		c.valid = 0;
	}
	e = fz_call(t, &c);
	if (e == EPERM)
		win_hit(W_foreign_eperm);
	if (!sr || (e && e != ENOENT))
		return;
	if (e == 0 && !sr->exposed && c.mode != ARG_RO)
		check_removed(t, sr);
	if (e == 0 || e == ENOENT)
		sub_forget(t, sr);
}

/* A subscriber to use: our own (mostly), or a sibling's exposed one. */
struct subrec *pick_sub(struct tctx *t, uint32_t *id, int *precise)
{
	struct pctx *p = t->p;
	struct subrec *sr = sub_pick_own(t);
	uint32_t i, s;

	*precise = sr && !sr->exposed;
	if (sr && rng_pct(&t->r, 90)) {
		*id = sr->id;
		return sr;
	}
	*precise = 0;
	pthread_mutex_lock(&p->mu);
	s = rng_below(&t->r, MAXSUB);
	for (i = 0, sr = NULL; i < MAXSUB && !sr; i++) {
		struct subrec *q = &p->subs[(s + i) % MAXSUB];

		if (q->live == 1 && q->exposed)
			sr = q;
	}
	*id = sr ? sr->id : 0;
	pthread_mutex_unlock(&p->mu);
	return sr;
}

/* Record what RECEIVE / TAKE gave: order, bounds, then hold it. */
void got_entries(struct tctx *t, struct subrec *sr, int precise,
			uint32_t id, const struct agnocast_entry *e, uint32_t n)
{
	uint64_t now = now_ns(), prev = precise ? sr->last_seq : 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		REQUIRE(t, e[i].seq > prev && e[i].pid > 0 &&
			e[i].timestamp_ns && e[i].timestamp_ns <= now,
			"subscriber %u entry %u/%u: seq %llu (after %llu) pid %d timestamp %llu (now %llu)",
			id, i, n, (unsigned long long)e[i].seq,
			(unsigned long long)prev, e[i].pid,
			(unsigned long long)e[i].timestamp_ns,
			(unsigned long long)now);
		prev = e[i].seq;
		held_add(t, &e[i], id, !precise);
	}
	if (precise) {
		sr->last_seq = prev;
		sr->nheld += n;
	}
}

/* What RECEIVE / TAKE may return on subscriber sr. */
errset_t deliver_expect(struct subrec *sr, int precise, int mode,
			       int amode, uint32_t held)
{
	errset_t e = ES(0) | ES(EAGAIN);

	(void)sr;
	if (!precise)
		e |= ES(ENOENT) | ES(ENOBUFS);
	else if (held >= AGNOCAST_HOLD_MAX)
		return ES(ENOBUFS) | ES(EAGAIN);	/* unordered in the header */
	if (mode == ARG_RO)
		e = (e & ~ES(0)) | ES(EFAULT);
	if (amode != ARR_NORMAL)
		e |= ES(EFAULT);
	return e;
}

void deliver_failed(struct tctx *t, struct subrec *sr, int precise,
			   uint32_t id, int e, int take)
{
	if (e == ENOBUFS)
		win_hit(W_enobufs_hold_max);
	if (e == EFAULT && precise)
		win_hit(take ? W_undo_take : W_undo_receive);
	if (e == ENOENT && sr && !precise) {
		win_hit(W_closed_while_used);
		held_drop_sub(t, id);
		if (sr->owner == t->idx && sr->id == id)
			sub_forget(t, sr);
	}
}

/* An id that is not a usable subscriber of ours, and what it must give. */
uint32_t odd_sub_id(struct tctx *t, errset_t *expect)
{
	const struct regrec *f;

	switch (rng_below(&t->r, 3)) {
	case 0:
		*expect = ES(ENOENT);
		return dead_pick(t, 1) ?: garbage_id(t);
	case 1:
		*expect = ES(ENOENT);
		return garbage_id(t);
	default:
		f = foreign_pick(t);
		*expect = ES(EPERM) | ES(ENOENT);
		return foreign_id(t, f, 1);
	}
}

void op_take(struct tctx *t)
{
	struct agnocast_take_args a;
	struct call c = { .ioc = IOC_TAKE, .shadow = &a };
	struct subrec *sr = NULL;
	int precise = 0, bad = 0, e;

	memset(&a, 0, sizeof(a));
	if (rng_pct(&t->r, 88))
		sr = pick_sub(t, &a.subscriber_id, &precise);
	a.reserved = gen_reserved(t, 3, &bad);
	c.mode = pick_arg_mode(&t->r, 8);
	c.valid = !bad;
	if (!sr)
		a.subscriber_id = odd_sub_id(t, &c.expect);
	else
		c.expect = deliver_expect(sr, precise, c.mode, ARR_NORMAL, sr->nheld);
	c.rule = sr ? "TAKE on our subscriber" : "TAKE with a bad id";
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
	}
	e = fz_call(t, &c);
	if (e) {
		deliver_failed(t, sr, precise, a.subscriber_id, e, 1);
		return;
	}
	if (!sr)
		fz_fail(t, "TAKE succeeded on subscriber id %u, not ours", a.subscriber_id);
	got_entries(t, sr, precise, a.subscriber_id,
		    &((struct agnocast_take_args *)c.arg)->entry, 1);
}

static struct subrec *sub_by_id(struct pctx *p, uint32_t id)
{
	int i;

	for (i = 0; i < MAXSUB; i++)
		if (p->subs[i].live == 1 && p->subs[i].id == id)
			return &p->subs[i];
	return NULL;
}

/* RELEASE of a seq this thread does not hold on its own subscriber. */
static void release_unheld(struct tctx *t)
{
	struct subrec *sr = sub_pick_own(t);
	struct agnocast_release_args a = { 0 };

	if (!sr || sr->exposed)
		return;
	a.subscriber_id = sr->id;
	a.seq = sr->last_seq + 1 + rng_small(&t->r, 100);
	fz_simple(t, IOC_RELEASE, &a, ES(ENOENT), "RELEASE of an entry we do not hold");
}

void op_release(struct tctx *t)
{
	struct agnocast_release_args a = { 0 };
	struct call c = { .ioc = IOC_RELEASE, .shadow = &a };
	struct subrec *sr;
	struct reread rr;
	struct held h;
	uint32_t i;
	int bad = 0, e;

	if (!t->nheld || rng_pct(&t->r, 5))
		return release_unheld(t);
	i = rng_pct(&t->r, 60) ? 0 : rng_below(&t->r, t->nheld);
	h = t->held[i];
	a.subscriber_id = h.sub;
	a.seq = h.seq;
	a.reserved = gen_reserved(t, 2, &bad);
	c.mode = pick_arg_mode(&t->r, 4);
	c.valid = !bad;
	c.expect = bad ? ES(EINVAL) : ES(0) | (h.exposed ? ES(ENOENT) : 0);
	c.rule = bad ? "reserved field" : "RELEASE of an entry we hold";
	reread_held(t, &h, &rr);
	e = fz_call(t, &c);
	if (e == ENOENT) {
		win_hit(W_closed_while_used);
		held_drop_sub(t, h.sub);
		return;
	}
	if (e)
		return;
	judge_held(t, &h, &rr);
	held_forget(t, i);
	sr = h.exposed ? NULL : sub_by_id(t->p, h.sub);
	if (sr)
		sr->nheld--;
	if (!h.exposed && rng_pct(&t->r, 10))
		fz_simple(t, IOC_RELEASE, &a, ES(ENOENT), "a second RELEASE of one entry");
}

void op_poll_sub(struct tctx *t)
{
	struct pctx *p = t->p;
	struct subrec *sr = sub_pick_own(t);
	struct pollfd pfd = { .events = POLLIN };
	int precise, r;

	if (!sr)
		return;
	pthread_mutex_lock(&p->mu);
	precise = !sr->exposed;
	pfd.fd = sr->fd < 0 ? -1 : precise ? sr->fd : dup(sr->fd);
	pthread_mutex_unlock(&p->mu);
	if (pfd.fd < 0)
		return;
	r = poll(&pfd, 1, rng_pct(&t->r, 80) ? 0 : 20);
	trace_add(t, TR_POLL, r < 0 ? errno : 0, sr->id, pfd.revents, precise);
	if (!precise)
		close(pfd.fd);
	REQUIRE(t, !(pfd.revents & POLLNVAL), "subscriber fd reports POLLNVAL");
	if (precise)
		REQUIRE(t, !(pfd.revents & POLLHUP),
			"subscriber %u that nothing removed reports POLLHUP", sr->id);
	if (pfd.revents & POLLIN)
		op_receive(t);
}

void op_close_exposed(struct tctx *t)
{
	struct pctx *p = t->p;
	uint32_t i, s = rng_below(&t->r, MAXSUB);
	int fd = -1;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < MAXSUB && fd < 0; i++) {
		struct subrec *q = &p->subs[(s + i) % MAXSUB];

		if (q->live == 1 && q->exposed && q->fd >= 0) {
			fd = q->fd;
			q->fd = -1;
			close(fd);
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (fd >= 0) {
		trace_add(t, TR_CLOSE, 0, (uint64_t)fd, 0, 0);
		win_hit(W_close_exposed);
	}
}
