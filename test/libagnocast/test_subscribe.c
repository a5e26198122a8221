// SPDX-License-Identifier: Apache-2.0
/*
 * Subscribers: a publisher in another process found in the module's answer
 * (its pool mapped read-only at its address, before any entry), receive,
 * take, release, the descriptor's POLLIN / POLLPRI and the state, every
 * documented error, the hold limit.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "lt.h"

/* Joins, publishes on arg's topic on "pub" (text), answers "published". */
static void publisher(int sock, void *arg)
{
	struct agnocast_publisher *pub;
	char cmd[24];

	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_publisher_create(arg, QOS(8, 0), &pub));
	TELL(sock, "ready");
	for (;;) {
		RECV(sock, cmd);
		if (strcmp(cmd, "pub"))
			break;
		LIB_OK(agnocast_publish(pub, LT_TEXT("from the publisher"), 19, NULL));
		TELL(sock, "published");
	}
}

TEST(listed_publisher_mapped_then_received)
{
	struct child p = spawn(publisher, "/lt/sub/listed");
	struct agnocast_pool_info pools[4];
	struct agnocast_subscriber *sub;
	struct agnocast_entry e[4];
	char cmd[24] = "pub", line[512], name[64];
	int fd;

	WAIT_FOR(p.sock, "ready");
	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/sub/listed", QOS(4, 0), &sub));
	/* Mapped from ADD_SUBSCRIBER's answer, read-only, the whole reserved range. */
	CHECK_EQ(lt_mapped(pools, 4), 1);
	CHECK_EQ(pools[0].pid, p.pid);
	snprintf(name, sizeof(name), "/dev/shm/agnocast@%d", (int)p.pid);
	lt_maps_line(getpid(), pools[0].addr, line, sizeof(line));
	CHECK(strstr(line, " r--s ") && strstr(line, name), "maps: %s", line);
	lt_maps_line(getpid(), pools[0].addr + pools[0].max - 1, line, sizeof(line));
	CHECK(strstr(line, name), "the end of the range: %s", line);
	fd = agnocast_subscriber_fd(sub);
	CHECK_EQ(lt_poll_now(fd, POLLIN), 0);
	SEND(p.sock, cmd);
	WAIT_FOR(p.sock, "published");
	CHECK(lt_poll(fd, POLLIN) & POLLIN);
	CHECK_EQ(LIB_OK(agnocast_receive(sub, e, 4)), 1);
	CHECK(e[0].pid == p.pid && e[0].addr >= pools[0].addr && e[0].addr < pools[0].addr + pools[0].max);
	CHECK(agnocast_readable(agnocast_entry_data(&e[0]), e[0].len));
	CHECK(!strcmp(agnocast_entry_data(&e[0]), "from the publisher"));
	LIB_OK(agnocast_release(sub, &e[0]));
	LIB_OK(agnocast_subscriber_destroy(sub));
	/* Its owner lives: the pool stays mapped until it exits. */
	CHECK_EQ(lt_mapped(pools, 4), 1);
	strcpy(cmd, "exit");
	SEND(p.sock, cmd);
	REAP_OK(p.pid);
	CHECK(lt_poll(LIB_OK(agnocast_events_fd()), POLLIN) & POLLIN, "the pidfd of the exited owner");
	LIB_OK(agnocast_handle_events());
	CHECK_EQ(lt_mapped(pools, 4), 0);
	CHECK_EQ(LT_TOTALS().mappings, 0);
	LIB_OK(agnocast_leave());	/* unlinks the discovery queue */
}

TEST(subscriber_errors)
{
	struct agnocast_subscriber *sub;
	struct agnocast_entry e = { .seq = 42 };

	LT_JOIN(UNIT, 0);
	LIB_ERR(agnocast_subscriber_create("", NULL, &sub), EINVAL, "empty");
	LIB_ERR(agnocast_subscriber_create("/lt/sub/err", QOS(AGNOCAST_DEPTH_MAX + 1, 0), &sub), EINVAL,
		"depth 1-1024");
	LIB_ERR(agnocast_subscriber_create("/lt/sub/err", QOS(1, 1u << 7), &sub), EINVAL, "bounds");
	LIB_OK(agnocast_subscriber_create("/lt/sub/err", NULL, &sub));
	LIB_ERR(agnocast_receive(sub, &e, 0), EINVAL, "AGNOCAST_RECEIVE_CMD");
	LIB_ERR(agnocast_receive(sub, &e, AGNOCAST_ARRAY_MAX + 1), EINVAL, "AGNOCAST_RECEIVE_CMD");
	LIB_ERR(agnocast_release(sub, &e), ENOENT, "AGNOCAST_RELEASE_CMD");
	CHECK_EQ(LIB_OK(agnocast_take(sub, &e)), 0);
	LIB_OK(agnocast_subscriber_destroy(sub));
	CHECK_EQ(agnocast_subscriber_destroy(NULL), 0);
	LIB_OK(agnocast_leave());
}

TEST(subscriber_pollpri_and_state)
{
	struct agnocast_endpoint_state_args st;
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	int fd;

	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/sub/state", QOS(4, 0), &sub));
	fd = agnocast_subscriber_fd(sub);
	CHECK_EQ(lt_poll_now(fd, POLLPRI) & POLLPRI, 0);
	LIB_OK(agnocast_publisher_create("/lt/sub/state", NULL, &pub));
	CHECK(lt_poll_now(fd, POLLPRI) & POLLPRI, "a publisher came");
	LIB_OK(agnocast_publish(pub, LT_TEXT("q"), 2, NULL));
	LIB_OK(agnocast_subscriber_state(sub, &st));
	CHECK(st.nr_publishers == 1 && st.nr_subscribers == 1 && st.queued == 1);
	CHECK_EQ(lt_poll_now(fd, POLLPRI) & POLLPRI, 0);
	LIB_OK(agnocast_publisher_destroy(pub));
	CHECK(lt_poll_now(fd, POLLPRI) & POLLPRI, "the publisher left");
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_leave());
}

/* AGNOCAST_HOLD_MAX entries held: the next receive is refused until one is released. */
TEST(hold_limit_enobufs)
{
	static struct agnocast_entry held[AGNOCAST_HOLD_MAX];
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e;
	uint32_t n = 0;

	LT_JOIN(4 * UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/sub/hold", QOS(AGNOCAST_DEPTH_MAX, 0), &sub));
	LIB_OK(agnocast_publisher_create("/lt/sub/hold", QOS(AGNOCAST_DEPTH_MAX, 0), &pub));
	while (n < AGNOCAST_HOLD_MAX) {
		for (int i = 0; i < AGNOCAST_DEPTH_MAX; i++) {
			void *m = agnocast_alloc(1);

			CHECK(m, "%s", agnocast_last_error());
			LIB_OK(agnocast_publish(pub, m, 1, NULL));
		}
		n += (uint32_t)LIB_OK(agnocast_receive(sub, held + n, AGNOCAST_DEPTH_MAX));
	}
	CHECK_EQ(n, AGNOCAST_HOLD_MAX);
	LIB_OK(agnocast_publish(pub, agnocast_alloc(1), 1, NULL));
	LIB_ERR(agnocast_receive(sub, &e, 1), ENOBUFS, "release some");
	LIB_OK(agnocast_release(sub, &held[0]));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	/* Destroying the subscriber drops every reference it holds. */
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_publisher_destroy(pub));
	LIB_OK(agnocast_reclaim());
	CHECK_EQ(LT_TOTALS().entries, 0);
	LIB_OK(agnocast_leave());
}
