// SPDX-License-Identifier: Apache-2.0
/*
 * Member threads: RECEIVE, which first releases a list of seqs (since ABI 3).
 * The releases stand whatever the receiving part returns, unless the call
 * failed before it got to the subscriber (bad arguments, an unreadable
 * list, an id not ours). Threads that inject faults send no list: with an
 * injected failure the fuzzer could not tell whether the releases stood.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "call.h"
#include "chaos.h"

struct rx {
	struct agnocast_receive_args a;
	struct subrec *sr;
	struct rel_list rl;
	int precise, amode, lmode, bad;
	uint32_t cap, depth;
};

/* Capacity and output array: mostly up to depth, sometimes odd. */
static void rx_entries(struct tctx *t, struct rx *x)
{
	uint32_t want;

	want = rng_pct(&t->r, 70) ? 1 + rng_small(&t->r, x->depth)
				  : 1 + rng_small(&t->r, 2000);
	if (rng_pct(&t->r, 3))
		want = AGNOCAST_ARRAY_MAX + 1 + rng_small(&t->r, 9);
	x->amode = pick_arr_mode(&t->r, 8);
	if (x->amode == ARR_SELF)
		x->amode = ARR_RO;	/* results we could not read back */
	arr_get(&t->ar, &t->r, x->amode, sizeof(struct agnocast_entry), want,
		&x->a.entries);
	x->a.entries_cap = x->cap = want;
}

/* The release list, its placement, and the bounds it may break. */
static void rx_release(struct tctx *t, struct rx *x)
{
	uint64_t *list = (uint64_t *)(t->ar.rw + ARENA_RW_BYTES) - AGNOCAST_RELEASE_MAX - 1;

	if (x->sr && t->fi_fd < 0 && rng_pct(&t->r, 35))
		release_list_build(t, x->a.subscriber_id, &x->rl);
	memcpy(list, x->rl.seq, sizeof(x->rl.seq));
	x->a.release = (uintptr_t)list;
	x->a.release_nr = x->rl.n;
	x->lmode = ARR_NORMAL;
	if (x->rl.n && rng_pct(&t->r, 8)) {
		x->lmode = rng_pct(&t->r, 50) ? ARR_NULL : ARR_KERNEL;
		x->a.release = x->lmode == ARR_NULL ? 0 : 0xffff888000000000ULL;
	}
	if (rng_pct(&t->r, 3))
		x->a.release_nr = AGNOCAST_RELEASE_MAX + 1 + rng_below(&t->r, 100);
	else if (x->rl.n && rng_pct(&t->r, 25))
		x->a.entries_cap = x->cap = 0;	/* releases only */
	else if (!x->rl.n && rng_pct(&t->r, 2))
		x->a.entries_cap = x->cap = 0;	/* nothing at all: EINVAL */
	x->bad = x->a.entries_cap > AGNOCAST_ARRAY_MAX ||
		 x->a.release_nr > AGNOCAST_RELEASE_MAX ||
		 (!x->a.entries_cap && !x->a.release_nr);
}

/* What the call must give. */
static void rx_expect(struct rx *x, struct call *c)
{
	uint32_t held_after = x->sr ? x->sr->nheld - (x->precise ? x->rl.nours : 0) : 0;

	c->valid = !x->bad && x->amode == ARR_NORMAL && x->lmode == ARR_NORMAL;
	c->odd_array = x->amode != ARR_NORMAL;
	if (x->bad) {
		c->expect = ES(EINVAL);
		c->rule = "entries_cap or release_nr out of bounds, or both 0";
	} else if (x->lmode != ARR_NORMAL) {
		c->expect = ES(EFAULT);
		c->rule = "an unreadable release list";
	} else if (!x->sr) {
		c->rule = "RECEIVE with a bad id";	/* expect set with the id */
	} else if (!x->cap) {
		c->expect = ES(c->mode == ARG_RO ? EFAULT : 0) |
			    (x->precise ? 0 : ES(ENOENT));
		c->rule = "RECEIVE that only releases";
	} else {
		c->expect = deliver_expect(x->sr, x->precise, c->mode, x->amode, held_after);
		c->rule = "RECEIVE on our subscriber";
	}
}

/* Did the releases stand? */
static int rx_released(const struct rx *x, const struct call *c, int e)
{
	if (!x->rl.n || x->bad || x->lmode != ARR_NORMAL)
		return 0;
	if (c->mode != ARG_NORMAL && c->mode != ARG_RO)
		return 0;
	return e == 0 || e == EAGAIN || e == ENOBUFS || e == EFAULT || e == ENOMEM;
}

static void rx_done(struct tctx *t, struct rx *x, const struct call *c, int e)
{
	const struct agnocast_receive_args *o = c->arg;

	if (rx_released(x, c, e)) {
		uint32_t n = release_list_done(t, x->a.subscriber_id, x->precise, &x->rl);

		if (x->precise)
			x->sr->nheld -= n;
	}
	if (e) {
		deliver_failed(t, x->sr, x->precise, x->a.subscriber_id, e, 0);
		return;
	}
	if (!x->sr)
		fz_fail(t, "RECEIVE succeeded on subscriber id %u, not ours", x->a.subscriber_id);
	if (!x->cap || c->mode != ARG_NORMAL)
		return;
	REQUIRE(t, o->nr_entries >= 1 && o->nr_entries <= x->cap && o->nr_entries <= x->depth,
		"RECEIVE nr_entries %u with cap %u depth %u", o->nr_entries, x->cap, x->depth);
	if (x->amode == ARR_NORMAL || x->amode == ARR_STRADDLE)
		got_entries(t, x->sr, x->precise, x->a.subscriber_id,
			    (const struct agnocast_entry *)(uintptr_t)x->a.entries,
			    o->nr_entries);
}

void op_receive(struct tctx *t)
{
	static __thread struct rx x;
	struct call c = { .ioc = IOC_RECEIVE, .shadow = &x.a };
	int e;

	memset(&x, 0, sizeof(x));
	if (rng_pct(&t->r, 88))
		x.sr = pick_sub(t, &x.a.subscriber_id, &x.precise);
	/*
	 * Another thread's (exposed) record may be removed and its slot
	 * reused once pick_sub let go of p->mu: its depth only while it is
	 * still the subscriber picked, else the largest there is.
	 */
	pthread_mutex_lock(&t->p->mu);
	x.depth = !x.sr ? 8 : x.sr->live == 1 && x.sr->id == x.a.subscriber_id ?
		  x.sr->qos.depth : AGNOCAST_DEPTH_MAX;
	pthread_mutex_unlock(&t->p->mu);
	if (!x.sr)
		x.a.subscriber_id = odd_sub_id(t, &c.expect);
	rx_entries(t, &x);
	rx_release(t, &x);
	c.mode = pick_arg_mode(&t->r, 8);
	rx_expect(&x, &c);
	e = fz_call(t, &c);
	if (e == EPERM)
		win_hit(W_foreign_eperm);
	rx_done(t, &x, &c, e);
}
