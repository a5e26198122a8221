// SPDX-License-Identifier: Apache-2.0
/* Member threads: the publisher side (see chaos.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"

/* A free publisher record, reserved (live 2) until the call is done. */
static struct pubrec *pub_reserve(struct pctx *p)
{
	struct pubrec *pr = NULL;
	int i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < MAXPUB && !pr; i++)
		if (!p->pubs[i].live)
			pr = &p->pubs[i];
	if (pr) {
		pr->live = 2;
		pr->fd = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return pr;
}

static void pub_set_live(struct pctx *p, struct pubrec *pr, int live)
{
	pthread_mutex_lock(&p->mu);
	pr->live = live;
	pthread_mutex_unlock(&p->mu);
}

/* Nothing registered after a failed ADD: the private topic is unknown. */
void check_no_topic(struct tctx *t, const char *topic, const char *what)
{
	struct agnocast_topic_info_args ti;

	memset(&ti, 0, sizeof(ti));
	memcpy(ti.topic, topic, sizeof(ti.topic));
	fz_simple(t, IOC_TOPIC_INFO, &ti, ES(ENOENT),
		  what);
}

static void check_sub_pids(struct tctx *t, const int32_t *pids, uint32_t n)
{
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		REQUIRE(t, pids[i] > 0, "ADD_PUBLISHER sub_pids[%u] = %d", i, pids[i]);
		for (j = 0; j < i; j++)
			REQUIRE(t, pids[i] != pids[j],
				"ADD_PUBLISHER listed pid %d twice", pids[i]);
	}
}

/* in: what we sent; out: the argument after the call (see add_sub_done). */
static void add_pub_done(struct tctx *t, struct pubrec *pr,
			 const struct agnocast_add_publisher_args *in,
			 const struct agnocast_add_publisher_args *out,
			 const int32_t *pids, uint32_t cap)
{
	struct pctx *p = t->p;
	int fl = fcntl(out->fd, F_GETFD);

	REQUIRE(t, out->fd >= 0 && fl >= 0 && (fl & FD_CLOEXEC),
		"ADD_PUBLISHER fd %d (F_GETFD %d)", out->fd, fl);
	REQUIRE(t, out->nr_sub_pids <= AGNOCAST_TOPIC_SUBS_MAX && out->publisher_id,
		"ADD_PUBLISHER id %u nr_sub_pids %u", out->publisher_id, out->nr_sub_pids);
	if (pids)
		check_sub_pids(t, pids, out->nr_sub_pids < cap ? out->nr_sub_pids : cap);
	pthread_mutex_lock(&p->mu);
	pr->id = out->publisher_id;
	pr->fd = out->fd;
	pr->exposed = rng_pct(&t->r, 20);
	pr->owner = t->idx;
	pr->ns = t->ns;
	pr->qos = in->qos;
	pr->last_seq = 0;
	memcpy(pr->topic, in->topic, sizeof(pr->topic));
	pr->live = 1;
	pthread_mutex_unlock(&p->mu);
	reg_add_id(p->reg, 0, pr->id, 0);
}

void op_add_publisher(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_add_publisher_args a;
	struct call c = { .ioc = IOC_ADD_PUBLISHER, .shadow = &a };
	struct pubrec *pr = pub_reserve(p);
	int bad = 0, tk, name_err, amode, e;
	int32_t *pids;
	uint32_t cap;

	if (!pr)
		return;
	memset(&a, 0, sizeof(a));
	tk = pick_tkind(t, 20);
	name_err = gen_topic(t, a.topic, tk);
	bad = name_err ? 0 : gen_qos(t, &a.qos, 0, rng_pct(&t->r, 4)) != 0;
	if (name_err)
		gen_qos(t, &a.qos, 0, 0);
	a.fd = (int32_t)rng_u64(&t->r);	/* out only */
	cap = bad || name_err ? 8 : gen_cap(t, 64, 3, &bad);
	amode = pick_arr_mode(&t->r, 10);
	pids = arr_get(&t->ar, &t->r, amode, sizeof(int32_t), cap, &a.sub_pids);
	a.sub_pids_cap = cap;
	c.mode = pick_arg_mode(&t->r, 8);
	if (p->joined && !p->attached && !name_err && !bad) {
		c.valid = amode == ARR_NORMAL;
		c.expect = ES(ENXIO) | ES(EDQUOT);	/* unordered in the header */
		c.rule = "no pool attached yet";
	} else {
		expect_add(&c, p, name_err, bad, amode, ES(ENOSPC) | ES(EDQUOT));
	}
	e = fz_call(t, &c);
	if (e == 0) {
		add_pub_done(t, pr, &a, c.arg, amode == ARR_NORMAL ? pids : NULL, cap);
		return;
	}
	pub_set_live(p, pr, 0);
	if (e == EFAULT && p->attached && tk == TN_PRIVATE &&
	    (c.mode == ARG_RO || c.mode == ARG_NORMAL)) {
		win_hit(W_undo_add_publisher);
		check_no_topic(t, a.topic,
			       "ADD_PUBLISHER failed with EFAULT: nothing may be registered");
	}
}

/* Our publisher is gone: HUP on its fd (if we know it), close, forget. */
static void pub_forget(struct tctx *t, struct pubrec *pr, int check_hup)
{
	struct pctx *p = t->p;
	struct pollfd pfd = { .events = POLLOUT };
	uint32_t id = pr->id;	/* the record may be reused once unlocked */

	pthread_mutex_lock(&p->mu);
	pfd.fd = pr->fd;
	pr->fd = -1;
	dead_add(p, 0, id);
	pr->live = 0;
	pthread_mutex_unlock(&p->mu);
	if (check_hup && pfd.fd >= 0) {
		REQUIRE(t, poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP),
			"publisher %u removed: its fd reports revents 0x%x, not POLLHUP",
			id, pfd.revents);
		win_hit(W_pub_hup_own);
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
}

/* The id to remove and what must come of it. */
static struct pubrec *remove_target(struct tctx *t, struct agnocast_remove_args *a,
				    struct call *c)
{
	struct pubrec *pr = NULL;
	unsigned int pick = rng_below(&t->r, 10);

	if (pick < 6 && (pr = pub_pick_own(t))) {
		a->id = pr->id;
		c->expect = ES(0) | (pr->exposed ? ES(ENOENT) : 0);
		c->rule = "removing our own publisher";
	} else if (pick < 8) {
		a->id = (pick == 6 ? dead_pick(t, 0) : 0) ?: garbage_id(t);
		c->expect = ES(ENOENT);
		c->rule = "a removed or garbage publisher id";
	} else {
		a->id = foreign_id(t, foreign_pick(t), 0);
		c->expect = ES(EPERM) | ES(ENOENT);
		c->rule = "another process's (or a dead one's) publisher id";
	}
	return pr;
}

void op_remove_publisher(struct tctx *t)
{
	struct agnocast_remove_args a = { 0 };
	struct call c = { .ioc = IOC_REMOVE_PUBLISHER, .shadow = &a, .valid = 1 };
	struct pubrec *pr;
	int bad = 0, e;

	c.mode = pick_arg_mode(&t->r, 4);
	pr = remove_target(t, &a, &c);
	a.reserved = gen_reserved(t, 3, &bad);
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
		c.valid = 0;
	}
	e = fz_call(t, &c);
	if (e == EPERM)
		win_hit(W_foreign_eperm);
	if (pr && (e == 0 || e == ENOENT) && c.expect != ES(EINVAL))
		pub_forget(t, pr, e == 0 && !pr->exposed);
}

/* Back to the free list: the block was not published. */
static void blk_unpublish(struct pctx *p, uint64_t addr, int b)
{
	pthread_mutex_lock(&p->mu);
	outst_dec(p, addr);
	if (b >= 0)
		p->blkfree[b] = 1;
	pthread_mutex_unlock(&p->mu);
}

static int arr_no_self(struct tctx *t, unsigned int odd)
{
	int m = pick_arr_mode(&t->r, odd);

	return m == ARR_SELF ? ARR_RO : m;
}

/* Results of a PUBLISH that succeeded: seq order, handed-back addresses. */
static void publish_done(struct tctx *t, struct pubrec *pr, int own,
			 const struct agnocast_publish_args *out, int amode,
			 uint64_t uptr, uint32_t cap)
{
	REQUIRE(t, out->nr_reclaimed <= cap, "nr_reclaimed %u > cap %u",
		out->nr_reclaimed, cap);
	if (own) {
		REQUIRE(t, out->seq > pr->last_seq,
			"PUBLISH on publisher %u gave seq %llu after %llu",
			pr->id, (unsigned long long)out->seq,
			(unsigned long long)pr->last_seq);
		pr->last_seq = out->seq;
		reg_add_id(t->p->reg, 0, pr->id, out->seq);
	}
	if (amode == ARR_NORMAL || amode == ARR_STRADDLE)
		take_back(t, (const uint64_t *)(uintptr_t)uptr, out->nr_reclaimed,
			  "PUBLISH");
}

/* Pick a publisher: our own (precise), or a sibling thread's. */
static struct pubrec *pick_pub(struct tctx *t, int *own)
{
	struct pctx *p = t->p;
	struct pubrec *pr = pub_pick_own(t);
	uint32_t i, s;

	*own = pr != NULL;
	if (pr && rng_pct(&t->r, 90))
		return pr;
	s = rng_below(&t->r, MAXPUB);
	for (i = 0; i < MAXPUB; i++) {
		struct pubrec *q = &p->pubs[(s + i) % MAXPUB];

		if (q->live == 1 && q->owner != t->idx) {
			*own = 0;
			return q;
		}
	}
	return pr;
}

void op_publish(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_publish_args a;
	struct call c = { .ioc = IOC_PUBLISH, .shadow = &a };
	struct pubrec *pr;
	int own, b, amode, e, published;
	uint32_t cap;

	pr = p->attached ? pick_pub(t, &own) : NULL;
	if (!pr)
		return;
	pthread_mutex_lock(&p->mu);
	b = blk_take(p);
	if (b >= 0) {
		blk_write(p, b);
		outst_inc(p, blk_addr(p, b));
	}
	pthread_mutex_unlock(&p->mu);
	if (b < 0)
		return op_reclaim(t);
	memset(&a, 0, sizeof(a));
	a.publisher_id = pr->id;
	a.addr = blk_addr(p, b);
	a.len = BLK;
	amode = arr_no_self(t, 8);
	cap = rng_small(&t->r, 64);
	arr_get(&t->ar, &t->r, amode, sizeof(uint64_t), cap, &a.reclaimed);
	a.reclaimed_cap = cap;
	c.mode = pick_arg_mode(&t->r, 6);
	c.valid = amode == ARR_NORMAL;
	c.odd_array = amode != ARR_NORMAL;
	c.expect = ES(EDQUOT) | ES(EAGAIN) | (c.mode == ARG_RO ? ES(EFAULT) : ES(0)) |
		   (amode != ARR_NORMAL ? ES(EFAULT) : 0) |
		   (own && !pr->exposed ? 0 : ES(ENOENT));
	c.rule = own ? "a well-formed PUBLISH on our own publisher"
		     : "a well-formed PUBLISH on a sibling thread's publisher";
	e = fz_call(t, &c);
	published = e == 0 || (e == EFAULT && (c.mode == ARG_NORMAL || c.mode == ARG_RO));
	if (!published)
		blk_unpublish(p, a.addr, b);
	else if (e == EFAULT)
		win_hit(W_publish_efault_published);
	if (e == 0)
		publish_done(t, pr, own, c.arg, amode, a.reclaimed, cap);
	if (e == EDQUOT)
		win_hit(W_edquot_entries);
	if (e == EAGAIN)
		win_hit(W_reliable_full);
	if (e == ENOENT && own && pr->exposed)
		pub_forget(t, pr, 0);	/* a sibling closed its last fd */
}

/* An odd address for PUBLISH; *expect: what the range rule requires. */
static void odd_range(struct tctx *t, struct agnocast_publish_args *a,
		      errset_t *expect)
{
	struct pctx *p = t->p;
	uint64_t base = p->pool.addr, fl = p->floor, off;
	const struct regrec *f;

	switch (rng_below(&t->r, 6)) {
	case 0:	/* the scratch area: inside whatever the size is */
	case 1:
		off = fl - SCRATCH + rng_below(&t->r, SCRATCH + 1);
		a->addr = base + off;
		a->len = rng_pct(&t->r, 30) ? 0 : rng_below(&t->r, fl - off + 1);
		*expect = ES(0);
		return;
	case 2:	/* around the current size, which siblings change */
		a->addr = base + fl + rng_below(&t->r, p->pool.max - fl + 1) -
			  rng_below(&t->r, 64);
		a->len = rng_below(&t->r, 300);
		*expect = ES(0) | ES(ERANGE);
		return;
	case 3:	/* a length that wraps around */
		a->addr = base + rng_below(&t->r, fl);
		a->len = UINT64_MAX - rng_below(&t->r, 16);
		break;
	case 4:	/* another pool, or nowhere near ours */
		f = foreign_pick(t);
		a->addr = f && f->pool_addr && f->pool_addr != base ?
			  f->pool_addr + rng_below(&t->r, 4096) : 0;
		a->len = rng_below(&t->r, 64);
		break;
	default:
		a->addr = rng_pct(&t->r, 50) ? base - 1 - rng_below(&t->r, 4096)
					     : base + p->pool.max + rng_below(&t->r, 1 << 20);
		a->len = rng_below(&t->r, 8);
		break;
	}
	/* A dead process's pool may have been where ours is now. */
	*expect = a->addr - base <= p->pool.max && a->len <= p->pool.max ?
		  ES(0) | ES(ERANGE) : ES(ERANGE);
}

void op_publish_odd(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_publish_args a;
	struct call c = { .ioc = IOC_PUBLISH, .shadow = &a };
	struct pubrec *pr = NULL;
	errset_t range = ES(0) | ES(ERANGE);
	uint64_t *recl = (uint64_t *)t->ar.rw;	/* prefaulted (see arena.c) */
	int bad = 0, track, e;

	memset(&a, 0, sizeof(a));
	if (p->attached) {
		pr = pub_pick_own(t);
		odd_range(t, &a, &range);
	}
	a.publisher_id = pr ? pr->id : garbage_id(t);
	a.reclaimed = (uintptr_t)recl;
	a.reclaimed_cap = rng_below(&t->r, 65);
	a.reserved = gen_reserved(t, 3, &bad);
	c.valid = 1;
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
		c.valid = 0;
	} else if (p->joined) {
		c.expect = pr ? range | ES(EDQUOT) | ES(EAGAIN) |
			   (pr->exposed ? ES(ENOENT) : 0) : ES(ENOENT);
		c.rule = pr ? "PUBLISH range rule (our own publisher)"
			    : "PUBLISH with a garbage publisher id";
	}
	track = pr && !bad && a.addr >= p->pool.addr &&
		a.addr - p->pool.addr <= p->pool.max;	/* len 0 at the end */
	if (track) {
		pthread_mutex_lock(&p->mu);
		outst_inc(p, a.addr);
		pthread_mutex_unlock(&p->mu);
	}
	e = fz_call(t, &c);
	if (track && e)
		blk_unpublish(p, a.addr, -1);
	if (e == ERANGE)
		win_hit(W_publish_erange);
	if (e == ENOENT && pr && pr->exposed)
		pub_forget(t, pr, 0);
	if (e == 0 && pr)
		publish_done(t, pr, 1, c.arg, ARR_NORMAL, a.reclaimed, a.reclaimed_cap);
}

void op_reclaim(struct tctx *t)
{
	struct agnocast_reclaim_args a;
	struct call c = { .ioc = IOC_RECLAIM, .shadow = &a };
	const struct agnocast_reclaim_args *out;
	int bad = 0, amode = arr_no_self(t, 10), e;
	uint32_t cap;

	memset(&a, 0, sizeof(a));
	cap = rng_pct(&t->r, 4) ? (bad = 1, 0) : 1 + rng_small(&t->r, 63);
	if (!bad)
		cap = rng_pct(&t->r, 3) ? (bad = 1, AGNOCAST_ARRAY_MAX + 1) : cap;
	arr_get(&t->ar, &t->r, amode, sizeof(uint64_t), cap, &a.addrs);
	a.addrs_cap = cap;
	c.mode = pick_arg_mode(&t->r, 6);
	c.valid = !bad && amode == ARR_NORMAL;
	c.odd_array = amode != ARR_NORMAL;
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "addrs_cap out of 1 .. AGNOCAST_ARRAY_MAX";
	} else if (t->p->joined) {
		c.expect = c.mode == ARG_RO ? ES(EFAULT)
					    : ES(0) | (amode != ARR_NORMAL ? ES(EFAULT) : 0);
		c.rule = "RECLAIM (nr_addrs is always written)";
	}
	e = fz_call(t, &c);
	if (e == EFAULT && c.mode != ARG_NORMAL)
		win_hit(W_reclaim_efault_kept);
	if (e)
		return;
	out = c.arg;
	REQUIRE(t, out->nr_addrs <= cap, "nr_addrs %u > cap %u", out->nr_addrs, cap);
	if (amode == ARR_NORMAL || amode == ARR_STRADDLE)
		take_back(t, (const uint64_t *)(uintptr_t)a.addrs, out->nr_addrs,
			  "RECLAIM");
}

void op_resize_pool(struct tctx *t)
{
	struct pctx *p = t->p;
	struct stat st;
	uint64_t to;
	int r;

	if (!p->attached || p->pool.shm_fd < 0 || fstat(p->pool.shm_fd, &st))
		return;
	to = p->floor + rng_below(&t->r, p->pool.max - p->floor + 1);
	if (rng_pct(&t->r, 30))
		to = p->pool.max;
	r = ftruncate(p->pool.shm_fd, to);
	trace_add(t, TR_TRUNCATE, r ? errno : 0, (uint64_t)st.st_size, to, 0);
	if (!r)
		win_hit((uint64_t)st.st_size < to ? W_pool_grow : W_pool_shrink);
}

/* Our publisher's descriptor: never POLLNVAL; no POLLHUP unless exposed. */
void op_poll_pub(struct tctx *t)
{
	struct pctx *p = t->p;
	struct pubrec *pr = pub_pick_own(t);
	struct pollfd pfd = { .events = POLLOUT | POLLPRI };
	int precise, r;

	if (!pr)
		return;
	pthread_mutex_lock(&p->mu);
	precise = !pr->exposed;
	pfd.fd = pr->fd < 0 ? -1 : precise ? pr->fd : dup(pr->fd);
	pthread_mutex_unlock(&p->mu);
	if (pfd.fd < 0)
		return;
	r = poll(&pfd, 1, rng_pct(&t->r, 80) ? 0 : 20);
	trace_add(t, TR_POLL, r < 0 ? errno : 0, pr->id, pfd.revents, precise);
	if (!precise)
		close(pfd.fd);
	REQUIRE(t, !(pfd.revents & POLLNVAL), "publisher fd reports POLLNVAL");
	if (precise)
		REQUIRE(t, !(pfd.revents & POLLHUP),
			"publisher %u that nothing removed reports POLLHUP", pr->id);
	if (pfd.revents & POLLPRI)
		win_hit(W_epollpri);
}

/* Close an exposed publisher's descriptor under its owner's feet. */
void op_close_exposed_pub(struct tctx *t)
{
	struct pctx *p = t->p;
	uint32_t i, s = rng_below(&t->r, MAXPUB);
	int fd = -1;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < MAXPUB && fd < 0; i++) {
		struct pubrec *q = &p->pubs[(s + i) % MAXPUB];

		if (q->live == 1 && q->exposed && q->fd >= 0) {
			fd = q->fd;
			q->fd = -1;
			close(fd);
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (fd >= 0) {
		trace_add(t, TR_CLOSE, 0, (uint64_t)fd, 1, 0);
		win_hit(W_close_exposed_pub);
	}
}
