// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenario: "the id is usable by no thread before the call
 * succeeded" and "neither the id nor the descriptor exists for any
 * thread before the call succeeded". One thread makes ADD_PUBLISHER and
 * ADD_SUBSCRIBER calls that must fail (their answer cannot be written);
 * another tries the ids those calls reserve, and the descriptor number
 * ADD_SUBSCRIBER would install, all the while.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "probe.h"

#define SWEEP 24

struct ghost {
	struct pctx *p;
	uint64_t sid;
	uint32_t pub_base, sub_base;
	int fd;			/* the number ADD_SUBSCRIBER would use */
	int stop;
};

/* Try every id the failing calls may have reserved. */
static void sweep(struct tctx *t, struct ghost *g)
{
	struct agnocast_publish_args pu = { .addr = t->p->pool.addr - 4096 };
	struct agnocast_receive_args rc = { .entries_cap = 1 };
	uint32_t i;

	for (i = 0; i < SWEEP; i++) {
		pu.publisher_id = g->pub_base + i;
		fz_simple(t, IOC_PUBLISH, &pu, ES(ENOENT) | ES(EPERM),
			  "the id of an ADD_PUBLISHER that has not succeeded");
		rc.subscriber_id = g->sub_base + i;
		rc.entries = 0;
		fz_simple(t, IOC_RECEIVE, &rc, ES(ENOENT) | ES(EPERM),
			  "the id of an ADD_SUBSCRIBER that has not succeeded");
		REQUIRE(t, fcntl(g->fd, F_GETFD) < 0 && errno == EBADF,
			"descriptor %d exists while the ADD_SUBSCRIBER that reserved it fails",
			g->fd);
	}
}

static void *sweeper(void *arg)
{
	struct ghost *g = arg;
	struct tctx t;

	int n = 0;

	if (tctx_init(&t, g->p, 1, g->sid))
		return NULL;
	/* Bounded: on a slow kernel the adds take long, the sweeps add up. */
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE) && n++ < 200)
		sweep(&t, g);
	tctx_fini(&t);
	return NULL;
}

/* The next ids: one past those of a publisher and a subscriber made now. */
static int next_ids(struct tctx *t, struct ghost *g, const char *topic)
{
	struct psub s;
	uint32_t pub = p_add_pub(t, topic, 1, 0);

	if (!pub || p_add_sub(t, topic, 1, 0, &s))
		return -1;
	g->pub_base = pub + 1;
	g->sub_base = s.id + 1;
	p_cleanup(t);
	g->fd = lowest_fd();
	return 0;
}

static void failing_adds(struct tctx *t, const char *topic)
{
	union {
		struct agnocast_add_publisher_args pub;
		struct agnocast_add_subscriber_args sub;
	} a;
	struct call c = { .valid = 1, .mode = ARG_RO, .shadow = &a,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "an ADD whose answer cannot be written" };
	int i;

	for (i = 0; i < 40; i++) {
		memset(&a, 0, sizeof(a));
		memcpy(a.pub.topic, topic, AGNOCAST_TOPIC_NAME_MAX);
		c.ioc = i & 1 ? IOC_ADD_SUBSCRIBER : IOC_ADD_PUBLISHER;
		if (i & 1)
			a.sub.qos.depth = 1;
		else
			a.pub.qos.depth = 1;
		c.len = 0;
		fz_call(t, &c);
	}
}

void s_ghost(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct ghost g = { .p = t->p, .sid = stream_child(t->sid, ++t->nchild) };
	pthread_t th;

	p_topic(t, topic);
	if (next_ids(t, &g, topic) || pthread_create(&th, NULL, sweeper, &g))
		return p_cleanup(t);
	failing_adds(t, topic);
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	p_cleanup(t);
}
