// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios: bounds reached exactly. AGNOCAST_HOLD_MAX, and the
 * module parameters while the supervisor has them lowered (judged only
 * if the parameter did not change meanwhile).
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

static int publish_n(struct tctx *t, uint32_t pub, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (p_publish(t, pub, p_scratch(t, i), NULL, 0, NULL, NULL))
			return -1;
	return 0;
}

/* Hold AGNOCAST_HOLD_MAX entries: then ENOBUFS, until one is released. */
void s_hold_max(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry *e = (void *)t->ar.rw;
	struct agnocast_take_args tk = { 0 };
	uint32_t pub, r, held = 0;
	uint64_t lim;
	struct psub s;

	param_snapshot(P_ENTRIES, &lim);
	if (lim < 3 * AGNOCAST_HOLD_MAX)
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, AGNOCAST_DEPTH_MAX, 0);
	if (!pub || p_add_sub(t, topic, AGNOCAST_DEPTH_MAX, 0, &s))
		return p_cleanup(t);
	for (r = 0; r < AGNOCAST_HOLD_MAX / AGNOCAST_DEPTH_MAX; r++) {
		if (publish_n(t, pub, AGNOCAST_DEPTH_MAX))
			return p_cleanup(t);
		held += p_receive(t, s.id, e, AGNOCAST_DEPTH_MAX, ES(0), "RECEIVE of a full window");
	}
	REQUIRE(t, held == AGNOCAST_HOLD_MAX, "held %u entries, want %u", held, AGNOCAST_HOLD_MAX);
	if (publish_n(t, pub, 1))
		return p_cleanup(t);
	p_receive(t, s.id, e, 1 + rng_below(&t->r, 16), ES(ENOBUFS),
		  "RECEIVE while holding AGNOCAST_HOLD_MAX references");
	tk.subscriber_id = s.id;
	pcall(t, IOC_TAKE, &tk, ES(ENOBUFS), "TAKE while holding AGNOCAST_HOLD_MAX references");
	win_hit(W_enobufs_hold_max);
	p_release(t, s.id, e[0].seq);
	p_receive(t, s.id, e, 4, ES(0), "RECEIVE after releasing one of AGNOCAST_HOLD_MAX");
	p_cleanup(t);
}

static uint32_t endpoints(struct pctx *p)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < MAXPUB; i++)
		n += p->pubs[i].live != 0;
	for (i = 0; i < MAXSUB; i++)
		n += p->subs[i].live != 0;
	return n;
}

void s_edquot_endpoints(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_publisher_args a;
	struct psub s;
	uint64_t lim;
	uint32_t gen = param_snapshot(P_ENDPOINTS, &lim), n = endpoints(t->p);
	int e;

	if ((gen & 1) || lim > 16 || n > lim)
		return;
	p_topic(t, topic);
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	for (; n < lim; n++) {
		e = p_add_sub(t, topic, 1, 0, &s);
		judge(t, gen, !e, "ADD_SUBSCRIBER below max_endpoints_per_process", EDQUOT);
		if (e)
			return p_cleanup(t);
	}
	e = pcall(t, IOC_ADD_PUBLISHER, &a, 0, NULL);
	if (!e)
		p_keep_pub(t, a.publisher_id, a.fd);	/* the bound changed meanwhile? */
	judge(t, gen, e == EDQUOT, "ADD_PUBLISHER at max_endpoints_per_process", e);
	e = p_add_sub(t, topic, 1, 0, &s) ? EDQUOT : 0;
	judge(t, gen, e == EDQUOT, "ADD_SUBSCRIBER at max_endpoints_per_process", e);
	if (param_stable(gen))
		win_hit(W_edquot_endpoints);
	p_cleanup(t);
}

void s_edquot_entries(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_publish_args a = { 0 };
	uint64_t lim;
	uint32_t gen = param_snapshot(P_ENTRIES, &lim), pub, n = t->p->outst_total;
	int e;

	if ((gen & 1) || lim > 2000 || n > lim)
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	for (; pub && n < lim; n++) {
		e = p_publish(t, pub, p_scratch(t, n), NULL, 0, NULL, NULL);
		judge(t, gen, !e, "PUBLISH below max_entries_per_process", EDQUOT);
		if (e)
			return p_cleanup(t);
	}
	a.publisher_id = pub;
	a.addr = p_scratch(t, 0);
	e = pub ? pcall(t, IOC_PUBLISH, &a, 0, NULL) : EDQUOT;
	if (!e)
		outst_inc(t->p, a.addr);	/* wrongly published: keep count */
	judge(t, gen, e == EDQUOT, "PUBLISH at max_entries_per_process", e);
	if (param_stable(gen) && pub)
		win_hit(W_edquot_entries);
	p_cleanup(t);
}

/* Map up to lim + 1 peers' pools: the one past the bound must fail. */
void s_edquot_mappings(struct tctx *t)
{
	struct peer pe[8];
	struct agnocast_map_pool_args a;
	struct agnocast_unmap_pool_args u = { 0 };
	uint64_t lim;
	uint32_t gen = param_snapshot(P_MAPPINGS, &lim), n = 0, i;
	int e, mapped[8] = { 0 };

	if ((gen & 1) || lim > 6)
		return;
	for (n = 0; n <= lim && !peer_start(t, &pe[n], 1); n++)
		if (!pe[n].ok) {
			peer_stop(t, &pe[n], 1);
			break;
		}
	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		a.pool.pid = pe[i].pid;
		e = pcall(t, IOC_MAP_POOL, &a, 0, NULL);
		if (!e)
			close(a.fd);
		mapped[i] = !e;
		judge(t, gen, i < lim ? !e : e == EDQUOT,
		      i < lim ? "MAP_POOL below max_mappings_per_process"
			      : "MAP_POOL past max_mappings_per_process", e);
	}
	if (n > lim && param_stable(gen))
		win_hit(W_edquot_mappings);
	for (i = 0; i < n; i++) {
		u.pid = pe[i].pid;
		if (mapped[i])
			pcall(t, IOC_UNMAP_POOL, &u, ES(0), "UNMAP_POOL of our MAP_POOL");
		peer_stop(t, &pe[i], 1);
	}
}

struct join_bound {
	uint32_t gen;
	int procs;
};

static void c_join_bound(struct tctx *t, void *arg)
{
	struct join_bound *jb = arg;
	struct agnocast_add_process_args a = { .pool_size = AGNOCAST_POOL_UNIT };
	int e = pcall(t, IOC_ADD_PROCESS, &a, 0, NULL);

	judge(t, jb->gen, e == EDQUOT || e == ENOSPC,
	      jb->procs ? "a root join past max_procs_per_user"
			: "a root join past max_window_per_user", e);
	if (param_stable(jb->gen))
		win_hit(jb->procs ? W_edquot_procs : W_edquot_window);
}

/* A bound on joins that the probe's own pool already reaches. */
void s_edquot_join(struct tctx *t)
{
	struct join_bound jb;
	uint64_t procs, window, slot;

	jb.gen = param_snapshot(P_PROCS, &procs);
	if (param_snapshot(P_WINDOW, &window) != jb.gen || (jb.gen & 1) || getuid())
		return;
	slot = (t->p->pool.max + AGNOCAST_POOL_ALIGN - 1) / AGNOCAST_POOL_ALIGN *
	       AGNOCAST_POOL_ALIGN;
	jb.procs = procs <= 1;
	if (jb.procs || window < slot + AGNOCAST_POOL_ALIGN)
		in_child(t, c_join_bound, &jb);
}

