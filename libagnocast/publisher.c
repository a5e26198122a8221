// SPDX-License-Identifier: Apache-2.0
/*
 * Publishers: ADD_PUBLISHER (the publisher is also its descriptor) and the
 * announcements, PUBLISH with the reclaimed blocks going back to the
 * allocator, RECLAIM, PUBLISHER_STATE, REMOVE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define RECLAIM_BATCH	64

/* Give blocks the module handed back to the allocator. */
static void free_reclaimed(const uint64_t *addrs, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		lib_free(U2P(addrs[i]));	/* ignores what is not the allocator's */
}

/* RECLAIM until the module has nothing more; how many, or -errno. */
static int drain_reclaim(void)
{
	uint64_t addrs[RECLAIM_BATCH];
	struct agnocast_reclaim_args a;
	int total = 0, r;

	do {
		a = (struct agnocast_reclaim_args){ .addrs = P2U(addrs), .addrs_cap = RECLAIM_BATCH };
		r = lib_ioctl(AGNOCAST_RECLAIM_CMD, &a);
		if (r < 0)
			return lib_ioctl_fail(-r, "AGNOCAST_RECLAIM_CMD", NULL);
		free_reclaimed(addrs, a.nr_addrs);
		total += (int)a.nr_addrs;
	} while (a.nr_addrs == RECLAIM_BATCH);
	return total;
}

int lib_reclaim(void)
{
	int r = lib_acting("agnocast_reclaim");

	return r ? r : drain_reclaim();
}

/* Tell every other subscribed process about us (a hint: failures are fine). */
static void announce_all(const int32_t *pids, uint32_t n, const char *topic)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0 && pids[i] != lib.pid)
			discovery_announce(pids[i], topic);
}

int lib_publisher_create(const char *topic, const struct agnocast_qos *qos,
			 struct agnocast_publisher **out)
{
	/* A topic has at most AGNOCAST_TOPIC_SUBS_MAX subscribers: never truncated. */
	int32_t pids[AGNOCAST_TOPIC_SUBS_MAX];
	struct agnocast_add_publisher_args a;
	struct agnocast_publisher *pub;
	int r = lib_acting("agnocast_publisher_create");

	if (r)
		return r;
	memset(&a, 0, sizeof(a));
	r = endpoint_topic(a.topic, topic, "AGNOCAST_ADD_PUBLISHER_CMD");
	if (r)
		return r;
	pub = sys_calloc(1, sizeof(*pub));
	if (!pub)
		return lib_fail(ENOMEM, "malloc", "no memory for a publisher");
	a.qos = endpoint_qos(qos);
	a.sub_pids = P2U(pids);
	a.sub_pids_cap = AGNOCAST_TOPIC_SUBS_MAX;
	r = lib_ioctl(AGNOCAST_ADD_PUBLISHER_CMD, &a);
	if (r < 0) {
		sys_free(pub);
		return lib_ioctl_fail(-r, "AGNOCAST_ADD_PUBLISHER_CMD", topic);
	}
	pub->ep.id = a.publisher_id;
	pub->fd = a.fd;
	memcpy(pub->ep.topic, a.topic, sizeof(a.topic));
	endpoint_link(&pub->ep);
	announce_all(pids, a.nr_sub_pids < a.sub_pids_cap ? a.nr_sub_pids : a.sub_pids_cap, topic);
	*out = pub;
	return 0;
}

uint32_t lib_publisher_id(const struct agnocast_publisher *pub)
{
	return pub->ep.id;
}

int lib_publisher_fd(const struct agnocast_publisher *pub)
{
	return pub->fd;
}

int lib_publisher_state(struct agnocast_publisher *pub, struct agnocast_endpoint_state_args *out)
{
	int r = endpoint_alive(&pub->ep, "agnocast_publisher_state");

	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	out->id = pub->ep.id;
	r = lib_ioctl(AGNOCAST_PUBLISHER_STATE_CMD, out);
	return r < 0 ? lib_ioctl_fail(-r, "AGNOCAST_PUBLISHER_STATE_CMD", pub->ep.topic) : 0;
}

/* PUBLISH once; the reclaimed addresses into recl. 0 or -errno (no message). */
static int publish_once(struct agnocast_publish_args *a, uint64_t *recl)
{
	a->reclaimed = P2U(recl);
	a->reclaimed_cap = RECLAIM_BATCH;
	a->seq = 0;
	a->nr_reclaimed = 0;
	return lib_ioctl(AGNOCAST_PUBLISH_CMD, a);
}

int lib_publish(struct agnocast_publisher *pub, void *block, size_t len, uint64_t *seq)
{
	uint64_t recl[RECLAIM_BATCH];
	struct agnocast_publish_args a = { .publisher_id = pub->ep.id, .addr = P2U(block), .len = len };
	int r = endpoint_alive(&pub->ep, "agnocast_publish");

	if (r)
		return r;
	if (!lib_owns(block))
		return lib_fail(EINVAL, "agnocast_publish",
				"%p is not in this process's pool: publish blocks from agnocast_alloc()", block);
	r = publish_once(&a, recl);
	if (r == -EDQUOT && drain_reclaim() > 0)
		r = publish_once(&a, recl);
	if (r == -EFAULT && a.seq) {
		/* Published; the reclaimed addresses stayed queued for RECLAIM. */
		if (seq)
			*seq = a.seq;
		drain_reclaim();
		return 0;
	}
	if (r < 0)
		return lib_ioctl_fail(-r, "AGNOCAST_PUBLISH_CMD", pub->ep.topic);
	free_reclaimed(recl, a.nr_reclaimed);
	if (seq)
		*seq = a.seq;
	if (a.nr_reclaimed == RECLAIM_BATCH)
		drain_reclaim();	/* more may wait; a failure here is no publish's */
	return 0;
}

int lib_publisher_destroy(struct agnocast_publisher *pub)
{
	struct agnocast_remove_args a;
	int r = 0;

	if (!pub)
		return 0;
	a = (struct agnocast_remove_args){ .id = pub->ep.id };
	if (!atomic_load(&pub->ep.dead) && lib_acting("agnocast_publisher_destroy") == 0) {
		r = lib_ioctl(AGNOCAST_REMOVE_PUBLISHER_CMD, &a);
		if (r < 0)
			r = lib_ioctl_fail(-r, "AGNOCAST_REMOVE_PUBLISHER_CMD", pub->ep.topic);
	}
	endpoint_unlink(&pub->ep);
	if (pub->fd >= 0)
		close(pub->fd);
	sys_free(pub);
	return r;
}
