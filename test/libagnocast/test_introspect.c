// SPDX-License-Identifier: Apache-2.0
/*
 * Introspection needs no joining: topics, one topic's endpoints, the
 * joined processes, the status file and its totals, as another process
 * made them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "lt.h"

/* A publisher (depth 3) and a subscriber (depth 5) on arg's topic, one entry held. */
static void endpoints(int sock, void *arg)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e;

	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_publisher_create(arg, QOS(3, 0), &pub));
	LIB_OK(agnocast_subscriber_create(arg, QOS(5, 0), &sub));
	LIB_OK(agnocast_publish(pub, LT_TEXT("i"), 2, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	TELL(sock, "ready");
	WAIT_FOR(sock, "exit");
	LIB_OK(agnocast_release(sub, &e));
	LIB_OK(agnocast_leave());
}

TEST(introspection_without_joining)
{
	struct child c = spawn(endpoints, "/lt/intro/topic");
	struct agnocast_process_info *procs;
	struct agnocast_topic_name *names;
	struct agnocast_totals tot;
	struct agnocast_topic t;
	struct agnocast_pool p;
	uint32_t n, i;
	char *text, want[64];
	size_t len;
	int found = 0;

	WAIT_FOR(c.sock, "ready");
	LIB_ERR(agnocast_pool_info(&p), ESRCH, "has not joined");
	LIB_OK(agnocast_list_topics(&names, &n));
	for (i = 0; i < n; i++)
		found |= !strcmp(names[i].name, "/lt/intro/topic");
	free(names);
	CHECK(found, "%u topics, not ours", n);
	LIB_OK(agnocast_topic_info("/lt/intro/topic", &t));
	CHECK(t.nr_pubs == 1 && t.nr_subs == 1 && t.nr_entries == 1 && t.last_seq == 1);
	CHECK(t.pubs[0].pid == c.pid && t.pubs[0].qos.depth == 3 && t.pubs[0].count == 1);
	CHECK(t.subs[0].pid == c.pid && t.subs[0].qos.depth == 5 && t.subs[0].count == 1);
	agnocast_topic_free(&t);
	CHECK(t.pubs == NULL && t.nr_pubs == 0);
	LIB_ERR(agnocast_topic_info("/lt/intro/none", &t), ENOENT, "AGNOCAST_TOPIC_INFO_CMD");
	LIB_OK(agnocast_list_processes(&procs, &n));
	for (i = 0, found = 0; i < n; i++)
		if (procs[i].pool.pid == c.pid)
			found = (procs[i].flags & AGNOCAST_PROC_ATTACHED) && procs[i].nr_publishers == 1 &&
				procs[i].nr_subscribers == 1;
	free(procs);
	CHECK(found, "process %d is not listed attached with its endpoints", c.pid);
	LIB_OK(agnocast_status(&text, &len));
	snprintf(want, sizeof(want), "\nprocess pid %d ", (int)c.pid);
	CHECK(len == strlen(text) && strstr(text, want) && strstr(text, "\ntopic /lt/intro/topic "),
	      "status: %s", text);
	free(text);
	LIB_OK(agnocast_totals(&tot));
	CHECK(tot.processes == 1 && tot.topics == 1 && tot.publishers == 1 && tot.subscribers == 1 &&
	      tot.entries == 1);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}
