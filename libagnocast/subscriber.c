// SPDX-License-Identifier: Apache-2.0
/*
 * Subscribers: ADD_SUBSCRIBER (after the discovery queue, so that no
 * announcement can be missed) with the pools of the publishers already
 * there, RECEIVE / TAKE with the pool of every entry mapped and its hold
 * counted, RELEASE, SUBSCRIBER_STATE, REMOVE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Map the pools ADD_SUBSCRIBER listed; one that is gone or unattached waits for its entries. */
static int map_listed(const struct agnocast_pool_info *pubs, uint32_t n)
{
	uint32_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (pubs[i].pid <= 0)
			continue;	/* not visible here: mapped by its first entry's address */
		r = peers_map_pid(pubs[i].pid, "listed by ADD_SUBSCRIBER");
		if (r < 0 && r != -ENOENT && r != -ENXIO)
			return r;
	}
	return 0;
}

static void remove_new(uint32_t id, int fd)
{
	struct agnocast_remove_args a = { .id = id };

	lib_ioctl(AGNOCAST_REMOVE_SUBSCRIBER_CMD, &a);
	close(fd);
}

/* ADD_SUBSCRIBER into sub, then the listed pools. */
static int subscribe(struct agnocast_subscriber *sub, const char *topic, const struct agnocast_qos *qos)
{
	/* At most AGNOCAST_TOPIC_PUBS_MAX publisher processes: never truncated. */
	struct agnocast_pool_info *pubs = sys_calloc(AGNOCAST_TOPIC_PUBS_MAX, sizeof(*pubs));
	struct agnocast_add_subscriber_args a;
	int r;

	if (!pubs)
		return lib_fail(ENOMEM, "malloc", "no memory to subscribe");
	memset(&a, 0, sizeof(a));
	r = endpoint_topic(a.topic, topic, "AGNOCAST_ADD_SUBSCRIBER_CMD");
	if (r == 0) {
		a.qos = endpoint_qos(qos);
		a.pubs = P2U(pubs);
		a.pubs_cap = AGNOCAST_TOPIC_PUBS_MAX;
		r = lib_ioctl(AGNOCAST_ADD_SUBSCRIBER_CMD, &a);
		if (r < 0)
			r = lib_ioctl_fail(-r, "AGNOCAST_ADD_SUBSCRIBER_CMD", topic);
	}
	if (r == 0) {
		r = map_listed(pubs, a.nr_pubs < a.pubs_cap ? a.nr_pubs : a.pubs_cap);
		if (r)
			remove_new(a.subscriber_id, a.fd);
	}
	sys_free(pubs);
	if (r)
		return r;
	sub->ep.id = a.subscriber_id;
	sub->ep.is_sub = true;
	sub->fd = a.fd;
	memcpy(sub->ep.topic, a.topic, sizeof(a.topic));
	return 0;
}

int lib_subscriber_create(const char *topic, const struct agnocast_qos *qos,
			  struct agnocast_subscriber **out)
{
	struct agnocast_subscriber *sub;
	int r = lib_acting("agnocast_subscriber_create");

	if (r)
		return r;
	if (!(lib.opts & AGNOCAST_OPT_NO_DISCOVERY)) {
		pthread_mutex_lock(&lib.lock);
		r = discovery_create_locked();
		pthread_mutex_unlock(&lib.lock);
		if (r)
			return r;
	}
	sub = sys_calloc(1, sizeof(*sub));
	if (!sub)
		return lib_fail(ENOMEM, "malloc", "no memory for a subscriber");
	r = subscribe(sub, topic, qos);
	if (r) {
		sys_free(sub);
		return r;
	}
	endpoint_link(&sub->ep);
	*out = sub;
	return 0;
}

uint32_t lib_subscriber_id(const struct agnocast_subscriber *sub)
{
	return sub->ep.id;
}

int lib_subscriber_fd(const struct agnocast_subscriber *sub)
{
	return sub->fd;
}

int lib_subscriber_state(struct agnocast_subscriber *sub, struct agnocast_endpoint_state_args *out)
{
	int r = endpoint_alive(&sub->ep, "agnocast_subscriber_state");

	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	out->id = sub->ep.id;
	r = lib_ioctl(AGNOCAST_SUBSCRIBER_STATE_CMD, out);
	return r < 0 ? lib_ioctl_fail(-r, "AGNOCAST_SUBSCRIBER_STATE_CMD", sub->ep.topic) : 0;
}

/* Map and hold the pools of entries e[0..n); on failure release them all. */
static int hold_all(struct agnocast_subscriber *sub, struct agnocast_entry *e, uint32_t n)
{
	struct agnocast_release_args rel = { .subscriber_id = sub->ep.id };
	uint32_t i, j;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = peers_hold(sub, &e[i]);
	if (r == 0)
		return 0;
	for (j = 0; j < n; j++) {
		if (j < i - 1)
			peers_unhold(sub, e[j].addr);
		rel.seq = e[j].seq;
		lib_ioctl(AGNOCAST_RELEASE_CMD, &rel);
	}
	return r;
}

/* A RECEIVE's outcome: r from the ioctl, nr entries in e (at most cap) held. */
static int received(struct agnocast_subscriber *sub, int r, uint32_t nr,
		    struct agnocast_entry *e, uint32_t cap)
{
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return lib_ioctl_fail(-r, "AGNOCAST_RECEIVE_CMD", sub->ep.topic);
	if (nr > cap)
		nr = cap;
	r = hold_all(sub, e, nr);
	return r ? r : (int)nr;
}

int lib_receive(struct agnocast_subscriber *sub, struct agnocast_entry *e, uint32_t cap)
{
	struct agnocast_receive_args a = { .subscriber_id = sub->ep.id, .entries_cap = cap,
					   .entries = P2U(e) };
	int r = endpoint_alive(&sub->ep, "agnocast_receive");

	if (r)
		return r;
	r = lib_ioctl(AGNOCAST_RECEIVE_CMD, &a);
	return received(sub, r, a.nr_entries, e, cap);
}

/*
 * One RECEIVE that first releases rel[0..nrel) (the module's release list,
 * at most AGNOCAST_RELEASE_MAX a call: the rest go one by one before it),
 * then receives up to cap entries (cap 0: only releases).
 */
int lib_receive_release(struct agnocast_subscriber *sub, const struct agnocast_entry *rel,
			uint32_t nrel, struct agnocast_entry *e, uint32_t cap)
{
	uint64_t seqs[AGNOCAST_RELEASE_MAX];
	struct agnocast_receive_args a = { .subscriber_id = sub->ep.id, .entries_cap = cap,
					   .entries = P2U(e), .release = P2U(seqs) };
	int r = endpoint_alive(&sub->ep, "agnocast_receive_release");
	uint32_t i;

	if (r)
		return r;
	for (; nrel > AGNOCAST_RELEASE_MAX; nrel--) {
		r = lib_release(sub, &rel[nrel - 1]);
		if (r)
			return r;
	}
	if (nrel == 0 && cap == 0)
		return 0;
	for (i = 0; i < nrel; i++)
		seqs[i] = rel[i].seq;
	a.release_nr = nrel;
	r = lib_ioctl(AGNOCAST_RECEIVE_CMD, &a);
	/* The releases stand whatever the receiving part returned, bounds aside. */
	if (r != -EINVAL)
		for (i = 0; i < nrel; i++)
			peers_unhold(sub, rel[i].addr);
	return received(sub, r, a.nr_entries, e, cap);
}

int lib_take(struct agnocast_subscriber *sub, struct agnocast_entry *e)
{
	struct agnocast_take_args a = { .subscriber_id = sub->ep.id };
	int r = endpoint_alive(&sub->ep, "agnocast_take");

	if (r)
		return r;
	r = lib_ioctl(AGNOCAST_TAKE_CMD, &a);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return lib_ioctl_fail(-r, "AGNOCAST_TAKE_CMD", sub->ep.topic);
	*e = a.entry;
	r = hold_all(sub, e, 1);
	return r ? r : 1;
}

int lib_release(struct agnocast_subscriber *sub, const struct agnocast_entry *e)
{
	struct agnocast_release_args a = { .subscriber_id = sub->ep.id, .seq = e->seq };
	int r = endpoint_alive(&sub->ep, "agnocast_release");

	if (r)
		return r;
	r = lib_ioctl(AGNOCAST_RELEASE_CMD, &a);
	if (r < 0)
		return lib_ioctl_fail(-r, "AGNOCAST_RELEASE_CMD", sub->ep.topic);
	peers_unhold(sub, e->addr);
	return 0;
}

int lib_subscriber_destroy(struct agnocast_subscriber *sub)
{
	struct agnocast_remove_args a;
	int r = 0;

	if (!sub)
		return 0;
	a = (struct agnocast_remove_args){ .id = sub->ep.id };
	if (!atomic_load(&sub->ep.dead) && lib_acting("agnocast_subscriber_destroy") == 0) {
		r = lib_ioctl(AGNOCAST_REMOVE_SUBSCRIBER_CMD, &a);
		/* ENOENT: gone already (its descriptor was closed); still ours to free. */
		if (r == -ENOENT)
			r = 0;
		if (r < 0)
			r = lib_ioctl_fail(-r, "AGNOCAST_REMOVE_SUBSCRIBER_CMD", sub->ep.topic);
	}
	endpoint_unlink(&sub->ep);
	if (sub->fd >= 0)
		close(sub->fd);
	peers_drop_sub(sub);
	sys_free(sub);
	return r;
}
