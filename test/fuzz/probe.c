// SPDX-License-Identifier: Apache-2.0
/*
 * Probe processes (see probe.h): pick scenarios, mostly those of a bound
 * the supervisor has lowered right now. Each scenario sets up what it
 * needs on private topics, checks its rule exactly, and removes
 * everything it made (p_cleanup); a setup step refused by a lowered
 * bound (EDQUOT) ends it without a verdict.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "probe.h"

struct scen {
	const char *name;
	void (*fn)(struct tctx *t);
	unsigned int weight;
};

static const struct scen scens[] = {
	{ "efault_add_sub", s_efault_add_sub, 4 },
	{ "efault_add_pub", s_efault_add_pub, 3 },
	{ "efault_deliver", s_efault_deliver, 6 },
	{ "efault_publish", s_efault_publish, 4 },
	{ "efault_reclaim", s_efault_reclaim, 3 },
	{ "depth_reclaim", s_depth_reclaim, 3 },
	{ "peer", s_peer, 4 },
	{ "unattached_peer", s_unattached_peer, 2 },
	{ "children", s_children, 3 },
	{ "clone", s_clone, 3 },
	{ "hold_max", s_hold_max, 1 },
	{ "edquot_endpoints", s_edquot_endpoints, 3 },
	{ "edquot_entries", s_edquot_entries, 3 },
	{ "edquot_mappings", s_edquot_mappings, 2 },
	{ "edquot_join", s_edquot_join, 3 },
	{ "inherited", s_inherited, 3 },
	{ "exec", s_exec, 2 },
	{ "ipc", s_ipc, 2 },
	{ "range", s_range, 3 },
	{ "attach", s_attach, 2 },
	{ "receive_window", s_receive_window, 4 },
	{ "transient_local", s_transient_local, 3 },
	{ "answers", s_answers, 2 },
	{ "held_pin", s_held_pin, 2 },
	{ "ghost", s_ghost, 1 },
	{ "topic_full", s_topic_full, 1 },
	{ "emfile", s_emfile, 2 },
	{ "reliable", s_reliable, 3 },
	{ "events", s_events, 3 },
	{ "receive_release", s_receive_release, 3 },
};
#define NSCENS (sizeof(scens) / sizeof(scens[0]))
_Static_assert(NSCENS <= sizeof(((struct shared *)0)->scen_runs) / sizeof(uint64_t),
	       "S->scen_runs is too small");

/* While the supervisor has a bound lowered, mostly test that bound. */
static const struct scen *bound_scen(struct tctx *t)
{
	static const struct { enum param p; void (*fn)(struct tctx *t); } b[] = {
		{ P_ENDPOINTS, s_edquot_endpoints }, { P_ENTRIES, s_edquot_entries },
		{ P_MAPPINGS, s_edquot_mappings }, { P_PROCS, s_edquot_join },
		{ P_WINDOW, s_edquot_join },
	};
	unsigned int i, k;
	uint64_t v;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		param_snapshot(b[i].p, &v);
		if (v == S->param_default[b[i].p] || !rng_pct(&t->r, 60))
			continue;
		for (k = 0; k < NSCENS; k++)
			if (scens[k].fn == b[i].fn)
				return &scens[k];
	}
	return NULL;
}

static const struct scen *pick_scen(struct tctx *t)
{
	const struct scen *s = bound_scen(t);
	unsigned int i, total = 0, x;

	if (s)
		return s;
	for (i = 0; i < NSCENS; i++)
		total += scens[i].weight;
	x = rng_below(&t->r, total);
	for (i = 0; i < NSCENS; i++) {
		if (x < scens[i].weight)
			return &scens[i];
		x -= scens[i].weight;
	}
	return &scens[0];
}

const char *probe_scen_name(unsigned int i)
{
	return i < NSCENS ? scens[i].name : NULL;
}

void probe_main(uint64_t sid)
{
	static struct pctx p;
	struct tctx t;
	uint64_t size;

	if (pctx_init(&p, K_probe, sid, getuid()) || tctx_init(&t, &p, 0, stream_child(sid, 100)))
		_exit(0);
	p.nthreads = 1;
	size = AGNOCAST_POOL_UNIT * (1 + rng_below(&t.r, 3));
	/* A lowered bound refuses the join: do unjoined things meanwhile. */
	while (proc_join(&t, size, size + AGNOCAST_POOL_UNIT * (1 + rng_below(&t.r, 4))))
		chaos_loop(&t, 50);
	while (!run_over()) {
		const struct scen *s = pick_scen(&t);

		trace_add(&t, TR_CHECK, 0, (uint64_t)(s - scens), 0, 0);
		count_add(&S->scen_runs[s - scens], 1);
		s->fn(&t);
	}
	_exit(0);
}
