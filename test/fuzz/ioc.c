// SPDX-License-Identifier: Apache-2.0
/*
 * The table of ioctls and the errors kmod/uapi/agnocast.h allows each.
 * The common errors apply where they can: EFAULT and ENOMEM to all, EINVAL
 * to those that take input, ESRCH and EPERM to those that act for a
 * process, ENOENT to those that name an id, a pid, an entry or a topic,
 * EINTR to ADD_PROCESS (the only call "that may take long"), ENOTTY to
 * unknown commands only. Anything else is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ioc.h"

#define BASE (ES(EFAULT) | ES(ENOMEM))
#define IN (BASE | ES(EINVAL))
#define PROC (IN | ES(ESRCH) | ES(EPERM))

static void fmt_topic(char *buf, size_t len, const char *t)
{
	size_t n = strnlen(t, AGNOCAST_TOPIC_NAME_MAX), i, o = 0;

	for (i = 0; i < n && o + 5 < len; i++) {
		unsigned char c = t[i];

		if (c > ' ' && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, len - o, "\\x%02x", c);
		if (i == 40 && n > 48) {
			o += snprintf(buf + o, len - o, "...(%zu bytes)", n);
			break;
		}
	}
	buf[o] = 0;
	if (n == AGNOCAST_TOPIC_NAME_MAX && o + 8 < len)
		strcat(buf, "<no NUL>");
}

#define U(x) ((unsigned long long)(x))

static void f_version(char *b, size_t l, const void *p)
{
	(void)p;
	snprintf(b, l, "{}");
}

static void f_add_process(char *b, size_t l, const void *p)
{
	const struct agnocast_add_process_args *a = p;

	snprintf(b, l, "{pool_size %llu, pool_max %llu, reserved %u}",
		 U(a->pool_size), U(a->pool_max), a->reserved);
}

static void f_attach(char *b, size_t l, const void *p)
{
	const struct agnocast_attach_pool_args *a = p;

	snprintf(b, l, "{fd %d, reserved %u}", a->fd, a->reserved);
}

static void f_add_pub(char *b, size_t l, const void *p)
{
	const struct agnocast_add_publisher_args *a = p;
	char t[160];

	fmt_topic(t, sizeof(t), a->topic);
	snprintf(b, l, "{topic \"%s\", depth %u, flags 0x%x, sub_pids 0x%llx, cap %u}",
		 t, a->qos.depth, a->qos.flags, U(a->sub_pids), a->sub_pids_cap);
}

static void f_add_sub(char *b, size_t l, const void *p)
{
	const struct agnocast_add_subscriber_args *a = p;
	char t[160];

	fmt_topic(t, sizeof(t), a->topic);
	snprintf(b, l, "{topic \"%s\", depth %u, flags 0x%x, pubs 0x%llx, cap %u}",
		 t, a->qos.depth, a->qos.flags, U(a->pubs), a->pubs_cap);
}

static void f_remove(char *b, size_t l, const void *p)
{
	const struct agnocast_remove_args *a = p;

	snprintf(b, l, "{id %u, reserved %u}", a->id, a->reserved);
}

static void f_publish(char *b, size_t l, const void *p)
{
	const struct agnocast_publish_args *a = p;

	snprintf(b, l, "{publisher_id %u, addr 0x%llx, len %llu, reclaimed 0x%llx, cap %u, reserved %u}",
		 a->publisher_id, U(a->addr), U(a->len), U(a->reclaimed),
		 a->reclaimed_cap, a->reserved);
}

static void f_receive(char *b, size_t l, const void *p)
{
	const struct agnocast_receive_args *a = p;

	snprintf(b, l, "{subscriber_id %u, entries 0x%llx, cap %u, release 0x%llx, release_nr %u}",
		 a->subscriber_id, U(a->entries), a->entries_cap, U(a->release),
		 a->release_nr);
}

static void f_take(char *b, size_t l, const void *p)
{
	const struct agnocast_take_args *a = p;

	snprintf(b, l, "{subscriber_id %u, reserved %u}", a->subscriber_id,
		 a->reserved);
}

static void f_release(char *b, size_t l, const void *p)
{
	const struct agnocast_release_args *a = p;

	snprintf(b, l, "{subscriber_id %u, seq %llu, reserved %u}",
		 a->subscriber_id, U(a->seq), a->reserved);
}

static void f_reclaim(char *b, size_t l, const void *p)
{
	const struct agnocast_reclaim_args *a = p;

	snprintf(b, l, "{addrs 0x%llx, cap %u}", U(a->addrs), a->addrs_cap);
}

static void f_map(char *b, size_t l, const void *p)
{
	const struct agnocast_map_pool_args *a = p;

	snprintf(b, l, "{pool.pid %d, pool.reserved %u, pool.addr 0x%llx, reserved %u}",
		 a->pool.pid, a->pool.reserved, U(a->pool.addr), a->reserved);
}

static void f_unmap(char *b, size_t l, const void *p)
{
	const struct agnocast_unmap_pool_args *a = p;

	snprintf(b, l, "{pid %d, addr 0x%llx, reserved %u}", a->pid,
		 U(a->addr), a->reserved);
}

static void f_list_topics(char *b, size_t l, const void *p)
{
	const struct agnocast_list_topics_args *a = p;

	snprintf(b, l, "{topics 0x%llx, cap %u}", U(a->topics), a->topics_cap);
}

static void f_topic_info(char *b, size_t l, const void *p)
{
	const struct agnocast_topic_info_args *a = p;
	char t[160];

	fmt_topic(t, sizeof(t), a->topic);
	snprintf(b, l, "{topic \"%s\", pubs 0x%llx cap %u, subs 0x%llx cap %u}",
		 t, U(a->pubs), a->pubs_cap, U(a->subs), a->subs_cap);
}

static void f_list_procs(char *b, size_t l, const void *p)
{
	const struct agnocast_list_processes_args *a = p;

	snprintf(b, l, "{procs 0x%llx, cap %u}", U(a->procs), a->procs_cap);
}

static void f_state(char *b, size_t l, const void *p)
{
	const struct agnocast_endpoint_state_args *a = p;

	snprintf(b, l, "{id %u, reserved %u}", a->id, a->reserved);
}

static void f_unknown(char *b, size_t l, const void *p)
{
	const uint64_t *w = p;

	snprintf(b, l, "{0x%llx 0x%llx ...}", U(w[0]), U(w[1]));
}

const struct iocdesc iocs[NIOC] = {
	[IOC_VERSION] = { "VERSION", AGNOCAST_VERSION_CMD,
		sizeof(struct agnocast_version_args), BASE, 0, f_version },
	[IOC_ADD_PROCESS] = { "ADD_PROCESS", AGNOCAST_ADD_PROCESS_CMD,
		sizeof(struct agnocast_add_process_args),
		IN | ES(EPERM) | ES(E2BIG) | ES(ENOSPC) | ES(EDQUOT) | ES(EINTR),
		1, f_add_process },
	[IOC_ATTACH_POOL] = { "ATTACH_POOL", AGNOCAST_ATTACH_POOL_CMD,
		sizeof(struct agnocast_attach_pool_args),
		PROC | ES(EBADF) | ES(EBUSY), 1, f_attach },
	[IOC_ADD_PUBLISHER] = { "ADD_PUBLISHER", AGNOCAST_ADD_PUBLISHER_CMD,
		sizeof(struct agnocast_add_publisher_args),
		PROC | ES(ENXIO) | ES(ENOSPC) | ES(EDQUOT) | ES(EMFILE) | ES(ENFILE) |
		ES(ENAMETOOLONG), 1, f_add_pub },
	[IOC_ADD_SUBSCRIBER] = { "ADD_SUBSCRIBER", AGNOCAST_ADD_SUBSCRIBER_CMD,
		sizeof(struct agnocast_add_subscriber_args),
		PROC | ES(ENOSPC) | ES(EDQUOT) | ES(EMFILE) | ES(ENFILE) |
		ES(ENAMETOOLONG), 1, f_add_sub },
	[IOC_REMOVE_PUBLISHER] = { "REMOVE_PUBLISHER",
		AGNOCAST_REMOVE_PUBLISHER_CMD, sizeof(struct agnocast_remove_args),
		PROC | ES(ENOENT), 1, f_remove },
	[IOC_REMOVE_SUBSCRIBER] = { "REMOVE_SUBSCRIBER",
		AGNOCAST_REMOVE_SUBSCRIBER_CMD, sizeof(struct agnocast_remove_args),
		PROC | ES(ENOENT), 1, f_remove },
	[IOC_PUBLISH] = { "PUBLISH", AGNOCAST_PUBLISH_CMD,
		sizeof(struct agnocast_publish_args),
		PROC | ES(ENOENT) | ES(ERANGE) | ES(EDQUOT) | ES(EAGAIN), 1, f_publish },
	[IOC_RECEIVE] = { "RECEIVE", AGNOCAST_RECEIVE_CMD,
		sizeof(struct agnocast_receive_args),
		PROC | ES(ENOENT) | ES(EAGAIN) | ES(ENOBUFS), 1, f_receive },
	[IOC_TAKE] = { "TAKE", AGNOCAST_TAKE_CMD,
		sizeof(struct agnocast_take_args),
		PROC | ES(ENOENT) | ES(EAGAIN) | ES(ENOBUFS), 1, f_take },
	[IOC_RELEASE] = { "RELEASE", AGNOCAST_RELEASE_CMD,
		sizeof(struct agnocast_release_args), PROC | ES(ENOENT), 1,
		f_release },
	[IOC_RECLAIM] = { "RECLAIM", AGNOCAST_RECLAIM_CMD,
		sizeof(struct agnocast_reclaim_args), PROC, 1, f_reclaim },
	[IOC_MAP_POOL] = { "MAP_POOL", AGNOCAST_MAP_POOL_CMD,
		sizeof(struct agnocast_map_pool_args),
		PROC | ES(ENOENT) | ES(ENXIO) | ES(EDQUOT) | ES(EMFILE) |
		ES(ENFILE), 1, f_map },
	[IOC_UNMAP_POOL] = { "UNMAP_POOL", AGNOCAST_UNMAP_POOL_CMD,
		sizeof(struct agnocast_unmap_pool_args), PROC | ES(ENOENT), 1,
		f_unmap },
	[IOC_LIST_TOPICS] = { "LIST_TOPICS", AGNOCAST_LIST_TOPICS_CMD,
		sizeof(struct agnocast_list_topics_args), IN, 0, f_list_topics },
	[IOC_TOPIC_INFO] = { "TOPIC_INFO", AGNOCAST_TOPIC_INFO_CMD,
		sizeof(struct agnocast_topic_info_args),
		IN | ES(ENOENT) | ES(ENAMETOOLONG), 0, f_topic_info },
	[IOC_LIST_PROCESSES] = { "LIST_PROCESSES", AGNOCAST_LIST_PROCESSES_CMD,
		sizeof(struct agnocast_list_processes_args), IN, 0, f_list_procs },
	[IOC_PUBLISHER_STATE] = { "PUBLISHER_STATE", AGNOCAST_PUBLISHER_STATE_CMD,
		sizeof(struct agnocast_endpoint_state_args), PROC | ES(ENOENT), 1,
		f_state },
	[IOC_SUBSCRIBER_STATE] = { "SUBSCRIBER_STATE", AGNOCAST_SUBSCRIBER_STATE_CMD,
		sizeof(struct agnocast_endpoint_state_args), PROC | ES(ENOENT), 1,
		f_state },
	[IOC_UNKNOWN] = { "UNKNOWN", 0, 16, ES(ENOTTY), 0, f_unknown },
};

const char *errname(int err)
{
	const char *s;

	if (!err)
		return "0";
	s = strerrorname_np(err);
	return s ? s : "E?";
}

const char *errset_str(errset_t s, char *buf, size_t len)
{
	size_t o = 0;
	int e;

	buf[0] = 0;
	for (e = 0; e < ERRSET_BITS && o + 16 < len; e++)
		if (s & ES(e))
			o += snprintf(buf + o, len - o, "%s%s", o ? "|" : "",
				      errname(e));
	return buf;
}
