// SPDX-License-Identifier: Apache-2.0
/*
 * What publishers and subscribers share: the topic field, the default
 * QoS, the list of live handles (for leave() and fork) and their death.
 * Each is also its descriptor (ADD_PUBLISHER / ADD_SUBSCRIBER give one;
 * closing it would remove the endpoint): the library closes it when the
 * endpoint is destroyed or removed by leave(), and in a forked child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_DEPTH	10

int endpoint_topic(char field[AGNOCAST_TOPIC_NAME_MAX], const char *topic, const char *op)
{
	size_t n = topic ? strnlen(topic, AGNOCAST_TOPIC_NAME_MAX) : 0;

	if (n == 0)
		return lib_fail(EINVAL, op, "the topic name is empty: name it with 1 to %d bytes",
				AGNOCAST_TOPIC_NAME_MAX - 1);
	if (n == AGNOCAST_TOPIC_NAME_MAX)
		return lib_fail(ENAMETOOLONG, op, "the topic name is longer than %d bytes",
				AGNOCAST_TOPIC_NAME_MAX - 1);
	memset(field, 0, AGNOCAST_TOPIC_NAME_MAX);
	memcpy(field, topic, n);
	return 0;
}

struct agnocast_qos endpoint_qos(const struct agnocast_qos *qos)
{
	struct agnocast_qos q = { .depth = DEFAULT_DEPTH, .flags = 0 };

	return qos ? *qos : q;
}

void endpoint_link(struct lib_endpoint *ep)
{
	pthread_mutex_lock(&lib.lock);
	ep->next = lib.endpoints.next;
	ep->prev = &lib.endpoints;
	lib.endpoints.next->prev = ep;
	lib.endpoints.next = ep;
	pthread_mutex_unlock(&lib.lock);
}

void endpoint_unlink(struct lib_endpoint *ep)
{
	pthread_mutex_lock(&lib.lock);
	if (ep->next) {
		ep->prev->next = ep->next;
		ep->next->prev = ep->prev;
		ep->next = ep->prev = NULL;
	}
	pthread_mutex_unlock(&lib.lock);
}

int endpoint_alive(const struct lib_endpoint *ep, const char *op)
{
	int r = lib_acting(op);

	if (r == 0 && atomic_load(&ep->dead))
		r = lib_fail(ESRCH, op, "this %s on %s was removed by agnocast_leave(): create a new one",
			     ep->is_sub ? "subscriber" : "publisher", ep->topic);
	return r;
}

/* REMOVE_PUBLISHER / REMOVE_SUBSCRIBER; 0 or -errno with a message. */
static int remove_in_module(struct lib_endpoint *ep)
{
	struct agnocast_remove_args a = { .id = ep->id };
	const char *op = ep->is_sub ? "AGNOCAST_REMOVE_SUBSCRIBER_CMD" : "AGNOCAST_REMOVE_PUBLISHER_CMD";
	int r = lib_ioctl(ep->is_sub ? AGNOCAST_REMOVE_SUBSCRIBER_CMD : AGNOCAST_REMOVE_PUBLISHER_CMD, &a);

	return r < 0 ? lib_ioctl_fail(-r, op, ep->topic) : 0;
}

/* The descriptor of an endpoint (the publisher or subscriber itself). */
static int *endpoint_fd(struct lib_endpoint *ep)
{
	if (ep->is_sub)
		return &((struct agnocast_subscriber *)ep)->fd;
	return &((struct agnocast_publisher *)ep)->fd;
}

/* Remove one endpoint in the module and make its handle dead; lib.lock held. */
static void kill_endpoint(struct lib_endpoint *ep, bool in_module)
{
	int *fd = endpoint_fd(ep);

	if (in_module)
		remove_in_module(ep);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	atomic_store(&ep->dead, true);
	ep->prev->next = ep->next;
	ep->next->prev = ep->prev;
	ep->next = ep->prev = NULL;
}

void endpoints_remove_all(void)
{
	struct agnocast_subscriber *subs[64];
	unsigned int n, i;

	do {
		n = 0;
		pthread_mutex_lock(&lib.lock);
		while (lib.endpoints.next != &lib.endpoints && n < 64) {
			struct lib_endpoint *ep = lib.endpoints.next;

			if (ep->is_sub)
				subs[n++] = (struct agnocast_subscriber *)ep;
			kill_endpoint(ep, true);
		}
		pthread_mutex_unlock(&lib.lock);
		/* Their holds went with them (peers lock after lib.lock). */
		for (i = 0; i < n; i++)
			peers_drop_sub(subs[i]);
	} while (n == 64);
}

/* In a forked child, with lib.lock and the peers lock held (fork.c). */
void endpoints_forked(void)
{
	while (lib.endpoints.next != &lib.endpoints) {
		struct lib_endpoint *ep = lib.endpoints.next;

		if (ep->is_sub) {
			struct agnocast_subscriber *sub = (struct agnocast_subscriber *)ep;

			sys_free(sub->holds);
			sub->holds = NULL;
			sub->nr_holds = sub->cap_holds = 0;
		}
		kill_endpoint(ep, false);
	}
}
