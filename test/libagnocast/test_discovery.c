// SPDX-License-Identifier: Apache-2.0
/*
 * Discovery: a subscriber maps a pool it learnt only from its queue (before
 * any entry), the queue's name and mode, the one notice format as another
 * reader sees it, agnocast_announce's answers, and no queue left behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lt.h"

/* Joins and creates a publisher on arg's topic when told "go"; stays until "exit". */
static void late_publisher(int sock, void *arg)
{
	struct agnocast_publisher *pub;
	struct agnocast_pool p = LT_JOIN(UNIT, 0);

	SEND(sock, p.addr);
	WAIT_FOR(sock, "go");
	LIB_OK(agnocast_publisher_create(arg, NULL, &pub));
	TELL(sock, "created");
	WAIT_FOR(sock, "exit");
}

TEST(pool_learnt_only_from_the_discovery_queue)
{
	struct child p = spawn(late_publisher, "/lt/disc/late");
	struct agnocast_pool_info pools[4];
	struct agnocast_subscriber *sub;
	char queue[64];
	struct stat st;
	uint64_t addr;
	int ev;

	RECV(p.sock, addr);
	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/disc/late", NULL, &sub));
	snprintf(queue, sizeof(queue), "/dev/mqueue/new_publisher@%d", (int)getpid());
	CHECK_OK(stat(queue, &st));
	CHECK_EQ(st.st_mode & 0777, 0622);
	CHECK_EQ(lt_mapped(pools, 4), 0);
	ev = LIB_OK(agnocast_events_fd());
	CHECK_EQ(lt_poll_now(ev, POLLIN), 0);
	TELL(p.sock, "go");
	WAIT_FOR(p.sock, "created");
	/* No entry yet: the notice alone. */
	CHECK(lt_poll(ev, POLLIN) & POLLIN, "no announcement");
	CHECK_EQ(LIB_OK(agnocast_discovery_drain()), 1);
	CHECK_EQ(lt_mapped(pools, 4), 1);
	CHECK(pools[0].pid == p.pid && pools[0].addr == addr);
	CHECK_EQ(lt_poll_now(ev, POLLIN), 0);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
	CHECK(lt_poll(ev, POLLIN) & POLLIN, "the owner's pidfd");
	LIB_OK(agnocast_handle_events());
	CHECK_EQ(lt_mapped(pools, 4), 0);
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_leave());
	CHECK(access(queue, F_OK) != 0, "%s left after agnocast_leave()", queue);
}

/* A reader of its own queue, made without the library: what does a notice look like? */
static void raw_reader(int sock, void *arg)
{
	struct mq_attr attr = { .mq_maxmsg = AGNOCAST_QUEUE_DEPTH, .mq_msgsize = AGNOCAST_NOTICE_MAX };
	char name[64], msg[AGNOCAST_NOTICE_MAX + 1];
	mqd_t q;
	ssize_t n;

	(void)arg;
	snprintf(name, sizeof(name), "/new_publisher@%d", (int)getpid());
	q = mq_open(name, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0600, &attr);
	CHECK(q >= 0, "mq_open %s: %m", name);
	TELL(sock, "ready");
	n = mq_receive(q, msg, sizeof(msg), NULL);
	CHECK(n > 0, "mq_receive: %m");
	msg[n] = 0;
	SEND(sock, msg);
	mq_close(q);
	mq_unlink(name);
}

TEST(the_one_notice_format)
{
	struct child r = spawn(raw_reader, NULL);
	char msg[AGNOCAST_NOTICE_MAX + 1], want[128], topic[160];

	WAIT_FOR(r.sock, "ready");
	LT_JOIN(UNIT, 0);
	CHECK_EQ(LIB_OK(agnocast_announce(r.pid, "/lt/\"quoted\"\\back")), 1);
	RECV(r.sock, msg);
	snprintf(want, sizeof(want), "{\"pid\":%d,\"topic\":\"/lt/\\\"quoted\\\"\\\\back\"}", (int)getpid());
	CHECK(!strcmp(msg, want), "notice %s, want %s", msg, want);
	REAP_OK(r.pid);
	/* No queue (gone): a hint that reaches nobody is not an error. */
	CHECK_EQ(LIB_OK(agnocast_announce(r.pid, "/lt/x")), 0);
	memset(topic, '\x01', sizeof(topic) - 1);	/* each byte escaped as \u0001 */
	topic[sizeof(topic) - 1] = 0;
	LIB_ERR(agnocast_announce(r.pid, topic), EMSGSIZE, "longer than");
}

TEST(no_discovery_flag_means_no_queue)
{
	struct agnocast_join_opts o = { .pool_size = UNIT, .dev_fd = -1,
					.flags = AGNOCAST_OPT_NO_DISCOVERY };
	struct agnocast_subscriber *sub;
	char queue[64];

	LIB_OK(agnocast_join(&o));
	LIB_OK(agnocast_subscriber_create("/lt/disc/none", NULL, &sub));
	snprintf(queue, sizeof(queue), "/dev/mqueue/new_publisher@%d", (int)getpid());
	CHECK(access(queue, F_OK) != 0, "%s exists", queue);
	LIB_ERR(agnocast_discovery_create(), ESRCH, "AGNOCAST_OPT_NO_DISCOVERY");
	CHECK_EQ(LIB_OK(agnocast_discovery_drain()), 0);
	LIB_OK(agnocast_subscriber_destroy(sub));
}

/* Every process of the suite that subscribed left: none of its queues is left. */
TEST_LAST(no_discovery_queue_left)
{
	DIR *d = opendir("/dev/mqueue");
	struct dirent *de;

	CHECK(d, "/dev/mqueue: %m");
	while ((de = readdir(d)))
		CHECK(strncmp(de->d_name, "new_publisher@", 14) || lt_queue_was_there(de->d_name),
		      "/dev/mqueue/%s is left", de->d_name);
	closedir(d);
}
