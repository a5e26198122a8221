// SPDX-License-Identifier: Apache-2.0
/*
 * Member processes: join (or stay unjoined), start threads, and run
 * random operations from the table below until the run is over.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "reader.h"

struct op {
	const char *name;
	op_fn fn;
	unsigned int weight;
};

static const struct op ops[] = {
	{ "add_publisher", op_add_publisher, 12 },
	{ "remove_publisher", op_remove_publisher, 6 },
	{ "publish", op_publish, 40 },
	{ "publish_odd", op_publish_odd, 10 },
	{ "reclaim", op_reclaim, 12 },
	{ "resize_pool", op_resize_pool, 1 },
	{ "add_subscriber", op_add_subscriber, 12 },
	{ "remove_subscriber", op_remove_subscriber, 6 },
	{ "receive", op_receive, 44 },
	{ "take", op_take, 12 },
	{ "release", op_release, 30 },
	{ "poll_sub", op_poll_sub, 8 },
	{ "close_exposed", op_close_exposed, 3 },
	{ "poll_pub", op_poll_pub, 4 },
	{ "close_exposed_pub", op_close_exposed_pub, 2 },
	{ "endpoint_state", op_endpoint_state, 6 },
	{ "version", op_version, 1 },
	{ "add_process", op_add_process, 4 },
	{ "attach_pool", op_attach_pool, 1 },
	{ "map_pool", op_map_pool, 8 },
	{ "unmap_pool", op_unmap_pool, 6 },
	{ "foreign", op_foreign, 8 },
	{ "unknown", op_unknown, 1 },
	{ "list_topics", op_list_topics, 4 },
	{ "topic_info", op_topic_info, 6 },
	{ "list_processes", op_list_processes, 4 },
	{ "status_read", op_status_read, 1 },
	{ "fork", op_fork, 1 },
	{ "exec_child", op_exec_child, 1 },
	{ "exec_self", op_exec_self, 1 },
	{ "clone_vm", op_clone_vm, 1 },
	{ "vfork", op_vfork, 1 },
	{ "unshare_ipc", op_unshare_ipc, 1 },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static const struct op *pick_op(struct tctx *t)
{
	static unsigned int total;
	unsigned int i, x;

	if (!total)
		for (i = 0; i < NOPS; i++)
			total += ops[i].weight;
	x = rng_below(&t->r, total);
	for (i = 0; i < NOPS; i++) {
		if (x < ops[i].weight)
			return &ops[i];
		x -= ops[i].weight;
	}
	return &ops[0];
}

void chaos_loop(struct tctx *t, uint32_t n)
{
	uint32_t done = 0;

	while (!run_over() && (!n || done++ < n))
		pick_op(t)->fn(t);
}

struct thread_arg {
	struct pctx *p;
	int idx;
};

static void *thread_main(void *arg)
{
	struct thread_arg *ta = arg;
	struct tctx t;

	if (tctx_init(&t, ta->p, ta->idx, stream_child(ta->p->sid, 100 + ta->idx)))
		return NULL;	/* out of memory (fault injection): fewer threads */
	chaos_loop(&t, 0);
	return NULL;
}

/* Sizes of a member's pool: small, sometimes with room to grow. */
static void member_sizes(struct tctx *t, uint64_t *size, uint64_t *max)
{
	*size = AGNOCAST_POOL_UNIT * (1 + rng_below(&t->r, 3));
	*max = rng_pct(&t->r, 50) ? 0 : *size + AGNOCAST_POOL_UNIT * rng_below(&t->r, 16);
}

static void member_threads(struct tctx *t, int n)
{
	static struct thread_arg ta[MAXTHR];
	pthread_t th;
	int i;

	for (i = 1; i < n; i++) {
		ta[i].p = t->p;
		ta[i].idx = i;
		if (pthread_create(&th, NULL, thread_main, &ta[i]) == 0)
			t->p->nthreads++;
	}
}

void member_main(enum kind kind, uint64_t sid)
{
	static struct pctx p;
	struct tctx t;
	struct rng r;
	uint64_t size, max;
	int err;

	rng_init(&r, S->seed, sid);
	err = pctx_init(&p, kind, sid, getuid());
	p.fi = rng_pct(&r, 40);
	p.may_exec = 1;
	p.nthreads = 1;
	if (!err)
		err = tctx_init(&t, &p, 0, stream_child(sid, 100));
	if (err)
		_exit(err == -ENOMEM ? 0 : 2);
	if (!getuid() && rng_pct(&t.r, 10))
		op_unshare_ipc(&t);
	member_sizes(&t, &size, &max);
	if (kind != K_loner)
		proc_join(&t, size, max);
	member_threads(&t, 1 + rng_below(&t.r, MAXTHR));
	chaos_loop(&t, 0);
	_exit(0);
}

/* ---- reader processes: introspection only, never joined ----------- */

static const struct op reader_ops[] = {
	{ "status_read", op_status_read, 4 },
	{ "list_topics", op_list_topics, 2 },
	{ "topic_info", op_topic_info, 2 },
	{ "list_processes", op_list_processes, 3 },
	{ "version", op_version, 1 },
	{ "unshare_ipc", op_unshare_ipc, 1 },
};

static void *reader_thread(void *arg)
{
	struct thread_arg *ta = arg;
	struct tctx t;
	unsigned int n = sizeof(reader_ops) / sizeof(reader_ops[0]);

	if (tctx_init(&t, ta->p, ta->idx, stream_child(ta->p->sid, 100 + ta->idx)))
		return NULL;
	while (!run_over())
		reader_ops[rng_below(&t.r, n)].fn(&t);
	return NULL;
}

void reader_main(uint64_t sid)
{
	static struct pctx p;
	static struct thread_arg ta[2];
	pthread_t th;

	if (pctx_init(&p, K_reader, sid, getuid()))
		_exit(2);
	p.nthreads = 2;
	ta[0].p = ta[1].p = &p;
	ta[1].idx = 1;
	if (pthread_create(&th, NULL, reader_thread, &ta[1]))
		p.nthreads = 1;
	reader_thread(&ta[0]);
	_exit(0);
}
