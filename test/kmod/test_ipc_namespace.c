// SPDX-License-Identifier: Apache-2.0
/*
 * Topics are per IPC namespace: the same name in two namespaces is two
 * topics (own publishers, subscribers, sequence numbers); LIST_TOPICS,
 * TOPIC_INFO and the status file's topic lines show only the caller's.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

static void list_names(int dev, char names[][AGNOCAST_TOPIC_NAME_MAX],
		       uint32_t *nr)
{
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_name buf[8];
	uint32_t i;

	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(buf);
	lt.topics_cap = 8;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	*nr = lt.nr_topics;
	for (i = 0; i < lt.nr_topics && i < 8; i++)
		memcpy(names[i], buf[i].name, AGNOCAST_TOPIC_NAME_MAX);
}

static int has_name(char names[][AGNOCAST_TOPIC_NAME_MAX], uint32_t nr,
		    const char *name)
{
	uint32_t i;

	for (i = 0; i < nr; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

static void other_namespace(int sock, void *arg)
{
	char names[8][AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_topic_info_args tia;
	struct agnocast_entry e[4];
	struct topic_info ti;
	struct ag_pool pool;
	struct ag_sub sub;
	struct status st;
	const struct st_rec *t;
	uint32_t nr, nr_pubs, pub;
	int dev;

	(void)arg;
	CHECK_OK(unshare(CLONE_NEWIPC));
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	/* The parent's publisher on this name is not ours to see. */
	sub = ADD_SUB_EX(dev, "ipc/shared", 10, AGNOCAST_QOS_TRANSIENT_LOCAL,
			 NULL, 0, &nr_pubs);
	CHECK_EQ(nr_pubs, 0);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), EAGAIN);
	ADD_PUB(dev, "ipc/only-child", 1, 0);
	/* Our own publisher on the shared name: a topic of its own. */
	pub = ADD_PUB(dev, "ipc/shared", 1, 0);
	write_msg(pool.addr, 9);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].pid, getpid());
	RELEASE(dev, sub.id, 1);

	list_names(dev, names, &nr);
	CHECK_EQ(nr, 2);
	CHECK(has_name(names, nr, "ipc/shared"));
	CHECK(has_name(names, nr, "ipc/only-child"));
	TOPIC_INFO(dev, "ipc/shared", &ti);
	CHECK_EQ(ti.a.nr_pubs, 1);
	CHECK_EQ(ti.a.nr_subs, 1);
	CHECK_EQ(ti.pubs[0].pid, getpid());
	CHECK_EQ(ti.a.last_seq, 1);
	memset(&tia, 0, sizeof(tia));
	set_topic(tia.topic, "ipc/only-parent");
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &tia), ENOENT);

	STATUS_READ(&st);
	CHECK_EQ(st_count(&st, "topic", NULL), 2);
	t = ST_TOPIC(&st, "ipc/shared");
	CHECK_EQ(ST_U64(t, "publishers"), 1);
	CHECK_EQ(ST_U64(t, "subscribers"), 1);
	CHECK(st_find_in(&st, t, "publisher", "pid", getppid()) == NULL);
	CHECK(st_topic(&st, "ipc/only-child") != NULL);
	CHECK(st_topic(&st, "ipc/only-parent") == NULL);
	/* The totals count the whole module. */
	CHECK_EQ(st.totals[1], 4);
	status_free(&st);
	TELL(sock, "ready");

	WAIT_FOR(sock, "check");
	/* The parent published again on its "ipc/shared": not for us. */
	CHECK_EQ(poll_now(sub.fd), 0);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), EAGAIN);
	TELL(sock, "checked");
	WAIT_FOR(sock, "exit");
}

TEST(topics_are_per_ipc_namespace)
{
	char names[8][AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_topic_info_args tia;
	struct agnocast_entry e[4];
	struct topic_info ti;
	struct ag_pool pool;
	struct ag_sub sub;
	struct status st;
	const struct st_rec *t;
	struct child c;
	uint32_t pub, nr, nr_subs;
	int dev;

	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "ipc/shared", 4, AGNOCAST_QOS_TRANSIENT_LOCAL);
	ADD_PUB(dev, "ipc/only-parent", 1, 0);
	write_msg(pool.addr, 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
	write_msg(pool.addr + 64, 2);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + 64, 16), 2);

	c = spawn(other_namespace, NULL);
	WAIT_FOR(c.sock, "ready");

	/* The child's subscriber on "ipc/shared" is not on our topic. */
	ADD_PUB_EX(dev, "ipc/shared", 1, 0, NULL, 0, &nr_subs);
	CHECK_EQ(nr_subs, 0);
	sub = ADD_SUB(dev, "ipc/shared", 10, 0);
	write_msg(pool.addr + 128, 3);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + 128, 16), 3);
	/* Only our own entry (the child's seq 1 went to its topic). */
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 3);
	CHECK_EQ(e[0].pid, getpid());
	RELEASE(dev, sub.id, 3);
	TELL(c.sock, "check");
	WAIT_FOR(c.sock, "checked");

	list_names(dev, names, &nr);
	CHECK_EQ(nr, 2);
	CHECK(has_name(names, nr, "ipc/shared"));
	CHECK(has_name(names, nr, "ipc/only-parent"));
	TOPIC_INFO(dev, "ipc/shared", &ti);
	CHECK_EQ(ti.a.nr_pubs, 2);
	CHECK_EQ(ti.a.nr_subs, 1);
	CHECK_EQ(ti.subs[0].pid, getpid());
	CHECK_EQ(ti.a.last_seq, 3);
	memset(&tia, 0, sizeof(tia));
	set_topic(tia.topic, "ipc/only-child");
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &tia), ENOENT);

	STATUS_READ(&st);
	CHECK_EQ(st_count(&st, "topic", NULL), 2);
	t = ST_TOPIC(&st, "ipc/shared");
	CHECK_EQ(ST_U64(t, "publishers"), 2);
	CHECK_EQ(ST_U64(t, "subscribers"), 1);
	CHECK(st_find_in(&st, t, "subscriber", "pid", c.pid) == NULL);
	CHECK(st_topic(&st, "ipc/only-child") == NULL);
	/* Entries: our three (depth 4) and the child's one. */
	CHECK_TOTALS(&st, 2, 4, 5, 2, 4, 0);
	status_free(&st);

	TELL(c.sock, "exit");
	REAP_OK(c.pid);
	close(sub.fd);
}
