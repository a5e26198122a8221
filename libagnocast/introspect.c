// SPDX-License-Identifier: Apache-2.0
/*
 * Introspection, no joining needed: LIST_TOPICS, TOPIC_INFO,
 * LIST_PROCESSES (each asks with a guess and again with the total the
 * module reported until everything fit: the registry may grow in between),
 * and the status file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Room for what the module reported plus some growth, within its bound. */
static uint32_t grow(uint32_t total)
{
	uint64_t cap = (uint64_t)total + total / 4 + 8;

	return cap > AGNOCAST_ARRAY_MAX ? AGNOCAST_ARRAY_MAX : (uint32_t)cap;
}

/* (Re)allocate *buf for cap items of size; 0 or -ENOMEM. */
static int resize(void **buf, uint32_t cap, size_t size, const char *op)
{
	void *b = sys_realloc(*buf, (size_t)(cap ? cap : 1) * size);

	if (!b)
		return lib_fail(ENOMEM, op, "no memory for the answer");
	*buf = b;
	return 0;
}

int lib_list_topics(struct agnocast_topic_name **names, uint32_t *count)
{
	struct agnocast_list_topics_args a = { 0 };
	void *buf = NULL;
	uint32_t cap = 16;
	int r = lib_device();

	while (r >= 0 && (r = resize(&buf, cap, sizeof(**names), "AGNOCAST_LIST_TOPICS_CMD")) == 0) {
		a = (struct agnocast_list_topics_args){ .topics = P2U(buf), .topics_cap = cap };
		r = lib_ioctl(AGNOCAST_LIST_TOPICS_CMD, &a);
		if (r < 0)
			r = lib_ioctl_fail(-r, "AGNOCAST_LIST_TOPICS_CMD", NULL);
		if (r < 0 || a.nr_topics <= cap || cap == AGNOCAST_ARRAY_MAX)
			break;
		cap = grow(a.nr_topics);
	}
	if (r < 0) {
		sys_free(buf);
		return r;
	}
	*names = buf;
	*count = a.nr_topics < cap ? a.nr_topics : cap;
	return 0;
}

int lib_topic_info(const char *topic, struct agnocast_topic *out)
{
	struct agnocast_topic_info_args a;
	uint32_t pcap = 8, scap = 8;
	int r = lib_device();

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (r >= 0)
		r = endpoint_topic(a.topic, topic, "AGNOCAST_TOPIC_INFO_CMD");
	while (r >= 0 && (r = resize((void **)&out->pubs, pcap, sizeof(*out->pubs), "AGNOCAST_TOPIC_INFO_CMD")) == 0 &&
	       (r = resize((void **)&out->subs, scap, sizeof(*out->subs), "AGNOCAST_TOPIC_INFO_CMD")) == 0) {
		a.pubs = P2U(out->pubs);
		a.subs = P2U(out->subs);
		a.pubs_cap = pcap;
		a.subs_cap = scap;
		r = lib_ioctl(AGNOCAST_TOPIC_INFO_CMD, &a);
		if (r < 0)
			r = lib_ioctl_fail(-r, "AGNOCAST_TOPIC_INFO_CMD", topic);
		if (r < 0 || (a.nr_pubs <= pcap && a.nr_subs <= scap))
			break;
		pcap = a.nr_pubs > pcap ? grow(a.nr_pubs) : pcap;
		scap = a.nr_subs > scap ? grow(a.nr_subs) : scap;
	}
	if (r < 0) {
		lib_topic_free(out);
		return r;
	}
	out->nr_pubs = a.nr_pubs < pcap ? a.nr_pubs : pcap;
	out->nr_subs = a.nr_subs < scap ? a.nr_subs : scap;
	out->nr_entries = a.nr_entries;
	out->last_seq = a.last_seq;
	return 0;
}

void lib_topic_free(struct agnocast_topic *t)
{
	sys_free(t->pubs);
	sys_free(t->subs);
	t->pubs = t->subs = NULL;
	t->nr_pubs = t->nr_subs = 0;
}

int lib_list_processes(struct agnocast_process_info **procs, uint32_t *count)
{
	struct agnocast_list_processes_args a = { 0 };
	void *buf = NULL;
	uint32_t cap = 16;
	int r = lib_device();

	while (r >= 0 && (r = resize(&buf, cap, sizeof(**procs), "AGNOCAST_LIST_PROCESSES_CMD")) == 0) {
		a = (struct agnocast_list_processes_args){ .procs = P2U(buf), .procs_cap = cap };
		r = lib_ioctl(AGNOCAST_LIST_PROCESSES_CMD, &a);
		if (r < 0)
			r = lib_ioctl_fail(-r, "AGNOCAST_LIST_PROCESSES_CMD", NULL);
		if (r < 0 || a.nr_procs <= cap || cap == AGNOCAST_ARRAY_MAX)
			break;
		cap = grow(a.nr_procs);
	}
	if (r < 0) {
		sys_free(buf);
		return r;
	}
	*procs = buf;
	*count = a.nr_procs < cap ? a.nr_procs : cap;
	return 0;
}

int lib_status(char **text, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = NULL, *b;
	ssize_t got = 1;
	int fd = open(AGNOCAST_STATUS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return lib_fail(errno, "open " AGNOCAST_STATUS_PATH,
				errno == ENOENT ? "the agnocast.ko module is not loaded (see README)" : NULL);
	while (got > 0) {
		if (!buf || n + 1 >= cap) {
			cap = buf ? 2 * cap : cap;
			b = sys_realloc(buf, cap);
			if (!b) {
				got = -1;
				errno = ENOMEM;
				break;
			}
			buf = b;
		}
		do
			got = read(fd, buf + n, cap - 1 - n);
		while (got < 0 && errno == EINTR);
		if (got > 0)
			n += (size_t)got;
	}
	close(fd);
	if (got < 0) {
		sys_free(buf);
		return lib_fail(errno, "read " AGNOCAST_STATUS_PATH, NULL);
	}
	buf[n] = '\0';
	*text = buf;
	if (len)
		*len = n;
	return 0;
}

int lib_totals(struct agnocast_totals *out)
{
	unsigned long long v[6];
	char *text, *line;
	int r = lib_status(&text, NULL);

	if (r)
		return r;
	line = strstr(text, "\ntotals ");
	if (!line || sscanf(line + 1, "totals processes %llu topics %llu publishers %llu subscribers %llu entries %llu mappings %llu",
			    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		r = lib_fail(EPROTO, "read " AGNOCAST_STATUS_PATH,
			     "no totals line in the status file: the module's format differs from this library's");
	else
		*out = (struct agnocast_totals){ v[0], v[1], v[2], v[3], v[4], v[5] };
	sys_free(text);
	return r;
}
