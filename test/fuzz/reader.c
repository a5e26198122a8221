// SPDX-License-Identifier: Apache-2.0
/* Introspection ioctls and the status file (see reader.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "gen.h"
#include "reader.h"

void check_pool_info(struct tctx *t, const struct agnocast_pool_info *i,
		     const char *what, int may_be_unattached)
{
	OBSERVE(t, i->pid > 0 && !i->reserved && i->addr % AGNOCAST_POOL_ALIGN == 0 &&
		i->addr >= AGNOCAST_POOL_BASE && i->max % AGNOCAST_POOL_UNIT == 0 &&
		i->max && i->max <= AGNOCAST_POOL_SIZE_MAX &&
		i->addr + i->max <= AGNOCAST_POOL_LIMIT && i->size <= i->max &&
		(may_be_unattached || i->size),
		"%s: pool pid %d addr 0x%llx size %llu max %llu reserved %u", what,
		i->pid, (unsigned long long)i->addr, (unsigned long long)i->size,
		(unsigned long long)i->max, i->reserved);
}

static int name_ok(const char *n)
{
	size_t len = strnlen(n, AGNOCAST_TOPIC_NAME_MAX), i;

	if (!len || len == AGNOCAST_TOPIC_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)n[i] <= ' ' || n[i] == 0x7f)
			return 0;
	return 1;
}

/* What an introspection call must give, by argument and array modes. */
static errset_t intro_expect(int mode, int amode, int bad)
{
	if (bad)
		return ES(EINVAL);
	if (mode == ARG_RO)
		return ES(EFAULT);
	return ES(0) | (amode != ARR_NORMAL ? ES(EFAULT) : 0);
}

/* Was item i of elt bytes left as the fill pattern (never written)? */
static int untouched(const void *arr, size_t elt, uint32_t i)
{
	const uint8_t *b = (const uint8_t *)arr + i * elt;
	size_t k;

	for (k = 0; k < elt; k++)
		if (b[k] != 0xee)
			return 0;
	return 1;
}

/*
 * Items [0, min(nr, cap)) must all have been written; returns how many
 * were (what the other checks then look at).
 */
static uint32_t check_filled(struct tctx *t, const char *what, const void *arr,
			     size_t elt, uint32_t nr, uint32_t cap)
{
	uint32_t i;

	for (i = 0; i < nr && i < cap; i++)
		if (untouched(arr, elt, i))
			break;
	OBSERVE(t, i == (nr < cap ? nr : cap),
		"%s reported %u items with capacity %u but left item %u unwritten",
		what, nr, cap, i);
	return i;
}

void op_list_topics(struct tctx *t)
{
	struct agnocast_list_topics_args a;
	struct call c = { .ioc = IOC_LIST_TOPICS, .shadow = &a };
	const struct agnocast_topic_name *names;
	int bad = 0, amode = pick_arr_mode(&t->r, 10);
	uint32_t cap, want, i, n;

	memset(&a, 0, sizeof(a));
	want = cap = gen_cap(t, 64, 3, &bad);
	names = arr_get(&t->ar, &t->r, amode, sizeof(*names), cap, &a.topics);
	a.topics_cap = bad ? want : cap;
	if (names && !bad)
		memset((void *)names, 0xee, cap * sizeof(*names));
	c.mode = pick_arg_mode(&t->r, 6);
	c.valid = !bad;
	c.expect = intro_expect(c.mode, amode, bad);
	c.odd_array = amode != ARR_NORMAL;
	c.rule = bad ? "topics_cap above AGNOCAST_ARRAY_MAX" : "LIST_TOPICS";
	if (fz_call(t, &c) || c.mode != ARG_NORMAL || amode != ARR_NORMAL)
		return;
	n = ((struct agnocast_list_topics_args *)c.arg)->nr_topics;
	n = check_filled(t, "LIST_TOPICS", names, sizeof(*names), n, cap);
	for (i = 0; i < n; i++)
		OBSERVE(t, name_ok(names[i].name), "LIST_TOPICS name %u of %u is not a valid topic name", i, n);
}

/* A topic of ours in the calling thread's namespace, if any. */
static int own_topic(struct tctx *t, char *topic, uint32_t *pub, uint32_t *sub)
{
	struct pubrec *pr = pub_pick_own(t);
	struct subrec *sr = sub_pick_own(t);

	*pub = *sub = 0;
	if (pr && pr->ns == t->ns && !pr->exposed) {	/* a sibling may close it */
		memcpy(topic, pr->topic, AGNOCAST_TOPIC_NAME_MAX);
		*pub = pr->id;
		return 1;
	}
	if (sr && sr->ns == t->ns && !sr->exposed) {
		memcpy(topic, sr->topic, AGNOCAST_TOPIC_NAME_MAX);
		*sub = sr->id;
		return 1;
	}
	return 0;
}

static void check_endpoints(struct tctx *t, const struct agnocast_endpoint_info *e,
			    uint32_t n, uint32_t want_id, int sub)
{
	uint32_t i, found = !want_id;

	for (i = 0; i < n; i++) {
		OBSERVE(t, e[i].id && e[i].pid > 0 && e[i].qos.depth >= 1 &&
			e[i].qos.depth <= AGNOCAST_DEPTH_MAX &&
			!(e[i].qos.flags & ~(sub ? AGNOCAST_QOS_SUB_FLAGS : AGNOCAST_QOS_PUB_FLAGS)) &&
			!e[i].reserved &&
			e[i].count <= (sub ? AGNOCAST_HOLD_MAX : e[i].qos.depth),
			"TOPIC_INFO %s %u: id %u pid %d depth %u flags 0x%x count %u reserved %u",
			sub ? "subscriber" : "publisher", i, e[i].id, e[i].pid,
			e[i].qos.depth, e[i].qos.flags, e[i].count, e[i].reserved);
		if (e[i].id == want_id && e[i].pid == getpid())
			found = 1;
	}
	OBSERVE(t, found, "TOPIC_INFO does not list our %s %u", sub ? "subscriber" : "publisher",
		want_id);
}

void op_topic_info(struct tctx *t)
{
	struct agnocast_topic_info_args a;
	struct call c = { .ioc = IOC_TOPIC_INFO, .shadow = &a };
	const struct agnocast_topic_info_args *o;
	struct agnocast_endpoint_info *pubs, *subs;
	int bad = 0, name_err = 0, ours, am1, am2;
	uint32_t pub, sub, pc, sc;

	memset(&a, 0, sizeof(a));
	ours = rng_pct(&t->r, 50) && own_topic(t, a.topic, &pub, &sub);
	if (!ours)
		name_err = gen_topic(t, a.topic, pick_tkind(t, 15));
	pc = gen_cap(t, 300, name_err ? 0 : 2, &bad);
	sc = gen_cap(t, 80, name_err || bad ? 0 : 2, &bad);
	am1 = pick_arr_mode(&t->r, 6);
	am2 = pick_arr_mode(&t->r, 6);
	a.pubs_cap = pc;
	a.subs_cap = sc;
	pubs = arr_get(&t->ar, &t->r, am1, sizeof(*pubs), pc, &a.pubs);
	subs = arr_get(&t->ar, &t->r, am2, sizeof(*subs), sc, &a.subs);
	if (subs && pubs)
		a.subs = a.pubs + 300 * sizeof(*pubs);	/* no overlap */
	subs = subs && pubs ? pubs + 300 : subs;
	c.mode = pick_arg_mode(&t->r, 6);
	c.valid = !bad && !name_err;
	c.odd_array = am1 != ARR_NORMAL || am2 != ARR_NORMAL;
	c.expect = name_err ? ES(name_err) :
		   intro_expect(c.mode, am1 == ARR_NORMAL ? am2 : am1, bad) |
		   (ours || bad ? 0 : ES(ENOENT));
	c.rule = ours ? "TOPIC_INFO of a topic we have an endpoint on" : "TOPIC_INFO";
	if (fz_call(t, &c) || c.mode != ARG_NORMAL)
		return;
	o = c.arg;
	OBSERVE(t, o->nr_pubs <= AGNOCAST_TOPIC_PUBS_MAX && o->nr_subs <= AGNOCAST_TOPIC_SUBS_MAX,
		"TOPIC_INFO nr_pubs %u nr_subs %u", o->nr_pubs, o->nr_subs);
	if (am1 == ARR_NORMAL)
		check_endpoints(t, pubs, o->nr_pubs < pc ? o->nr_pubs : pc,
				ours && o->nr_pubs <= pc ? pub : 0, 0);
	if (am2 == ARR_NORMAL)
		check_endpoints(t, subs, o->nr_subs < sc ? o->nr_subs : sc,
				ours && o->nr_subs <= sc ? sub : 0, 1);
}

static void check_disjoint(struct tctx *t, const struct agnocast_process_info *p,
			   uint32_t n)
{
	uint32_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			OBSERVE(t, p[i].pool.addr >= p[j].pool.addr + p[j].pool.max ||
				p[j].pool.addr >= p[i].pool.addr + p[i].pool.max,
				"LIST_PROCESSES: pools of pids %d (0x%llx+%llu) and %d (0x%llx+%llu) overlap",
				p[i].pool.pid, (unsigned long long)p[i].pool.addr,
				(unsigned long long)p[i].pool.max, p[j].pool.pid,
				(unsigned long long)p[j].pool.addr,
				(unsigned long long)p[j].pool.max);
}

static void check_procs(struct tctx *t, const struct agnocast_process_info *p,
			uint32_t n, int whole)
{
	struct pctx *me = t->p;
	uint32_t i, mine = 0;

	for (i = 0; i < n; i++) {
		OBSERVE(t, !(p[i].flags & ~(AGNOCAST_PROC_EXITED | AGNOCAST_PROC_ATTACHED)),
			"LIST_PROCESSES flags 0x%x", p[i].flags);
		check_pool_info(t, &p[i].pool, "LIST_PROCESSES", 1);
		if (p[i].pool.pid == getpid() && p[i].pool.addr == me->pool.addr)
			mine = !(p[i].flags & AGNOCAST_PROC_EXITED) &&
			       (p[i].flags & AGNOCAST_PROC_ATTACHED) &&
			       p[i].pool.max == me->pool.max;
	}
	check_disjoint(t, p, n);
	OBSERVE(t, mine || !whole || !me->attached,
		"LIST_PROCESSES (%u, complete) does not list us (pid %d, 0x%llx) live and attached",
		n, (int)getpid(), (unsigned long long)me->pool.addr);
}

void op_list_processes(struct tctx *t)
{
	struct agnocast_list_processes_args a;
	struct call c = { .ioc = IOC_LIST_PROCESSES, .shadow = &a };
	const struct agnocast_process_info *procs;
	int bad = 0, amode = pick_arr_mode(&t->r, 10);
	uint32_t cap, want, n, filled;

	memset(&a, 0, sizeof(a));
	want = cap = gen_cap(t, 200, 3, &bad);
	procs = arr_get(&t->ar, &t->r, amode, sizeof(*procs), cap, &a.procs);
	a.procs_cap = bad ? want : cap;
	if (procs && !bad)
		memset((void *)procs, 0xee, cap * sizeof(*procs));
	c.mode = pick_arg_mode(&t->r, 6);
	c.valid = !bad;
	c.expect = intro_expect(c.mode, amode, bad);
	c.odd_array = amode != ARR_NORMAL;
	c.rule = bad ? "procs_cap above AGNOCAST_ARRAY_MAX" : "LIST_PROCESSES";
	if (fz_call(t, &c) || c.mode != ARG_NORMAL || amode != ARR_NORMAL)
		return;
	n = ((struct agnocast_list_processes_args *)c.arg)->nr_procs;
	filled = check_filled(t, "LIST_PROCESSES", procs, sizeof(*procs), n, cap);
	check_procs(t, procs, filled, n <= cap && filled == n);
}
