// SPDX-License-Identifier: Apache-2.0
/*
 * Topic names (1..255 bytes, NUL inside the field, no byte <= 0x20, no
 * 0x7f), QoS depth bounds, and topics living exactly as long as an
 * endpoint uses them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

/* Raw ADD_PUBLISHER / ADD_SUBSCRIBER / TOPIC_INFO with a raw name field. */
static int pub_field(int dev, const char *field, uint32_t depth, uint32_t *id)
{
	struct agnocast_add_publisher_args a;
	int32_t pids[4];
	int r;

	memset(&a, 0, sizeof(a));
	memcpy(a.topic, field, AGNOCAST_TOPIC_NAME_MAX);
	a.qos.depth = depth;
	a.sub_pids = p2u(pids);
	a.sub_pids_cap = 4;
	r = ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &a);
	if (r == 0 && id)
		*id = a.publisher_id;
	return r;
}

static int sub_field(int dev, const char *field, uint32_t depth, int *fd)
{
	struct agnocast_add_subscriber_args a;
	struct agnocast_pool_info pubs[4];
	int r;

	memset(&a, 0, sizeof(a));
	memcpy(a.topic, field, AGNOCAST_TOPIC_NAME_MAX);
	a.qos.depth = depth;
	a.pubs = p2u(pubs);
	a.pubs_cap = 4;
	r = ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &a);
	if (r == 0 && fd)
		*fd = a.fd;
	return r;
}

static int info_field(int dev, const char *field)
{
	struct agnocast_topic_info_args a;

	memset(&a, 0, sizeof(a));
	memcpy(a.topic, field, AGNOCAST_TOPIC_NAME_MAX);
	return ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &a);
}

static void field_of(char *field, const char *name)
{
	memset(field, 0, AGNOCAST_TOPIC_NAME_MAX);
	memcpy(field, name, strlen(name));
}

TEST(name_length_bounds)
{
	char field[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_name names[2];
	struct ag_pool pool;
	int dev = AG_OPEN(), fd = -1;

	JOIN(dev, UNIT, 0, &pool);
	/* 256 bytes, no NUL anywhere in the field. */
	memset(field, 'n', sizeof(field));
	CHECK_ERR(pub_field(dev, field, 1, NULL), ENAMETOOLONG);
	CHECK_ERR(sub_field(dev, field, 1, NULL), ENAMETOOLONG);
	CHECK_ERR(info_field(dev, field), ENAMETOOLONG);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);

	/* 255 bytes and the NUL in the last byte: the longest name. */
	field[AGNOCAST_TOPIC_NAME_MAX - 1] = 0;
	CHECK_OK(pub_field(dev, field, 1, NULL));
	CHECK_OK(sub_field(dev, field, 1, &fd));
	CHECK_OK(info_field(dev, field));
	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(names);
	lt.topics_cap = 2;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, 1);
	CHECK(!memcmp(names[0].name, field, AGNOCAST_TOPIC_NAME_MAX));
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);

	/* One byte. */
	field_of(field, "x");
	CHECK_OK(pub_field(dev, field, 1, NULL));
	CHECK_STATUS_TOTALS(1, 2, 2, 1, 0, 0);
	close(fd);
}

TEST(name_bytes)
{
	static const char *const bad[] = {
		"", " ", "a b", " lead", "trail ", "a\tb", "a\nb", "\x01",
		"a\x1f", "a\x7f", "\x7f",
	};
	static const char *const good[] = {
		"!", "~", "/a/b_c-d.e:f", "caf\xc3\xa9", "\x80\xff", "A@1",
	};
	char field[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_name names[8];
	struct ag_pool pool;
	size_t i, j;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		field_of(field, bad[i]);
		if (pub_field(dev, field, 1, NULL) != -1 || errno != EINVAL)
			FAIL("ADD_PUBLISHER of name #%zu (\"%s\"): expected EINVAL, got %s",
			     i, bad[i], errname(errno));
		if (sub_field(dev, field, 1, NULL) != -1 || errno != EINVAL)
			FAIL("ADD_SUBSCRIBER of name #%zu: expected EINVAL, got %s",
			     i, errname(errno));
		if (info_field(dev, field) != -1 || errno != EINVAL)
			FAIL("TOPIC_INFO of name #%zu: expected EINVAL, got %s",
			     i, errname(errno));
	}
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		field_of(field, good[i]);
		if (pub_field(dev, field, 1, NULL))
			FAIL("ADD_PUBLISHER of name #%zu: %s", i, errname(errno));
	}
	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(names);
	lt.topics_cap = 8;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, sizeof(good) / sizeof(good[0]));
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		for (j = 0; j < lt.nr_topics; j++)
			if (!strcmp(names[j].name, good[i]))
				break;
		if (j == lt.nr_topics)
			FAIL("LIST_TOPICS does not list name #%zu", i);
	}
}

TEST(bytes_after_the_nul_are_not_the_name)
{
	char field[AGNOCAST_TOPIC_NAME_MAX];
	struct ag_pool pool;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	field_of(field, "same");
	CHECK_OK(pub_field(dev, field, 1, NULL));
	memset(field + 5, 'z', sizeof(field) - 5);	/* junk after the NUL */
	CHECK_OK(pub_field(dev, field, 1, NULL));
	CHECK_STATUS_TOTALS(1, 1, 2, 0, 0, 0);
}

TEST(depth_bounds)
{
	char field[AGNOCAST_TOPIC_NAME_MAX];
	struct ag_pool pool;
	struct topic_info ti;
	int dev = AG_OPEN(), fd1 = -1, fd2 = -1;

	JOIN(dev, UNIT, 0, &pool);
	field_of(field, "depth");
	CHECK_ERR(pub_field(dev, field, 0, NULL), EINVAL);
	CHECK_ERR(pub_field(dev, field, AGNOCAST_DEPTH_MAX + 1, NULL), EINVAL);
	CHECK_ERR(pub_field(dev, field, ~0u, NULL), EINVAL);
	CHECK_ERR(sub_field(dev, field, 0, NULL), EINVAL);
	CHECK_ERR(sub_field(dev, field, AGNOCAST_DEPTH_MAX + 1, NULL), EINVAL);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	CHECK_OK(pub_field(dev, field, 1, NULL));
	CHECK_OK(pub_field(dev, field, AGNOCAST_DEPTH_MAX, NULL));
	CHECK_OK(sub_field(dev, field, 1, &fd1));
	CHECK_OK(sub_field(dev, field, AGNOCAST_DEPTH_MAX, &fd2));
	TOPIC_INFO(dev, "depth", &ti);
	CHECK_EQ(ti.a.nr_pubs, 2);
	CHECK_EQ(ti.a.nr_subs, 2);
	CHECK((ti.pubs[0].qos.depth == 1 && ti.pubs[1].qos.depth == AGNOCAST_DEPTH_MAX) ||
	      (ti.pubs[1].qos.depth == 1 && ti.pubs[0].qos.depth == AGNOCAST_DEPTH_MAX));
	CHECK((ti.subs[0].qos.depth == 1 && ti.subs[1].qos.depth == AGNOCAST_DEPTH_MAX) ||
	      (ti.subs[1].qos.depth == 1 && ti.subs[0].qos.depth == AGNOCAST_DEPTH_MAX));
	close(fd1);
	close(fd2);
}

TEST(topic_lives_while_used)
{
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_info_args tia;
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	memset(&tia, 0, sizeof(tia));
	set_topic(tia.topic, "lives");
	/* Unknown topic. */
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &tia), ENOENT);

	pub = ADD_PUB(dev, "lives", 1, 0);
	sub = ADD_SUB(dev, "lives", 1, 0);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	REMOVE_PUB(dev, pub);
	CHECK_STATUS_TOTALS(1, 1, 0, 1, 0, 0);
	REMOVE_SUB(dev, sub.id);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	memset(&lt, 0, sizeof(lt));
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, 0);
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &tia), ENOENT);
	close(sub.fd);

	/* A new endpoint starts the topic afresh: seq from 1 again. */
	pub = ADD_PUB(dev, "lives", 1, 0);
	write_msg(pool.addr, 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
}
