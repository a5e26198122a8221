// SPDX-License-Identifier: Apache-2.0
/*
 * Entries a thread holds: their content read again before they are let
 * go, judged once the module confirmed they were held, and RECEIVE's
 * release list built from them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "call.h"
#include "chaos.h"

/* Read a held entry's content again just before RELEASE. */
void reread_held(struct tctx *t, const struct held *h, struct reread *rr)
{
	rr->rc = h->rc0 == 1 ? 1 :
		 blk_read(t, h->pid, h->addr, h->len, &rr->serial, &rr->sum,
			  rr->why, sizeof(rr->why), 0);
}

/*
 * RELEASE succeeded, so the entry was held from RECEIVE until then: its
 * content, read at both ends, must be what its publisher wrote.
 */
void judge_held(struct tctx *t, const struct held *h,
		       const struct reread *rr)
{
	char where[400] = "";
	int same;

	if (h->rc0 == 1 || rr->rc == 1)
		return;
	REQUIRE(t, h->rc0 == 0,
		"entry seq %llu addr 0x%llx of pid %d was not intact when received, though held: %s",
		(unsigned long long)h->seq, (unsigned long long)h->addr, h->pid,
		h->why0);
	same = rr->rc == 0 && rr->serial == h->serial && rr->sum == h->sum;
	if (!same)
		map_describe(t->p, h->addr, where, sizeof(where));
	REQUIRE(t, same,
		"entry seq %llu addr 0x%llx of pid %d changed while held: serial %llu -> %llu, sum 0x%x -> 0x%x (%s); %s",
		(unsigned long long)h->seq, (unsigned long long)h->addr, h->pid,
		(unsigned long long)h->serial, (unsigned long long)rr->serial,
		h->sum, rr->sum, rr->rc ? rr->why : "intact but rewritten", where);
	win_hit(W_held_verified);
	if (kill(h->pid, 0) && errno == ESRCH)
		win_hit(W_held_verified_owner_gone);
}

/* held[i] was let go (the module dropped its reference): forget it. */
void held_forget(struct tctx *t, uint32_t i)
{
	struct held h = t->held[i];

	t->held[i] = t->held[--t->nheld];
	if (h.rc0 != 1)
		map_unref(t->p, h.addr);
}

static int held_find(const struct tctx *t, uint32_t sub, uint64_t seq)
{
	uint32_t i;

	for (i = 0; i < t->nheld; i++)
		if (t->held[i].sub == sub && t->held[i].seq == seq)
			return (int)i;
	return -1;
}

/*
 * A release list for RECEIVE on sub: up to REL_OURS entries this thread
 * holds there (read again now), and seqs it does not hold (skipped).
 */
void release_list_build(struct tctx *t, uint32_t sub, struct rel_list *rl)
{
	uint32_t i, want = 1 + rng_below(&t->r, REL_OURS);

	memset(rl, 0, sizeof(*rl));
	for (i = 0; i < t->nheld && rl->nours < want; i++) {
		if (t->held[i].sub != sub)
			continue;
		rl->h[rl->nours] = t->held[i];
		reread_held(t, &t->held[i], &rl->rr[rl->nours]);
		rl->seq[rl->n++] = t->held[i].seq;
		rl->nours++;
	}
	while (rl->n < AGNOCAST_RELEASE_MAX && rng_pct(&t->r, 30))
		rl->seq[rl->n++] = rng_pct(&t->r, 50) ? 0 : UINT64_MAX - rng_below(&t->r, 9);
}

/* The releases stood: judge (if the hold was ours alone) and forget them. */
uint32_t release_list_done(struct tctx *t, uint32_t sub, int precise,
			   const struct rel_list *rl)
{
	uint32_t k;
	int i;

	for (k = 0; k < rl->nours; k++) {
		i = held_find(t, sub, rl->h[k].seq);
		if (i < 0)
			continue;
		if (precise)
			judge_held(t, &rl->h[k], &rl->rr[k]);
		held_forget(t, (uint32_t)i);
	}
	win_hit(W_release_list);
	return rl->nours;
}
