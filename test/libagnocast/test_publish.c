// SPDX-License-Identifier: Apache-2.0
/*
 * Publishers: create, publish, reclaim, destroy, the publisher's descriptor
 * (POLLOUT with reliable subscribers, POLLPRI) and state, every documented
 * error, the quota retry, and one publisher used by four threads at once.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "lt.h"

TEST(publish_receive_release_reclaim_in_one_process)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e[4], t;
	uint64_t seq = 0;
	char *a, *b;

	LT_JOIN(2 * UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/pub/one", QOS(4, 0), &sub));
	LIB_OK(agnocast_publisher_create("/lt/pub/one", QOS(1, 0), &pub));
	a = LT_TEXT("first");
	CHECK_EQ(lt_poll_now(agnocast_subscriber_fd(sub), POLLIN), 0);
	LIB_OK(agnocast_publish(pub, a, 6, &seq));
	CHECK_EQ(seq, 1);
	CHECK(lt_poll(agnocast_subscriber_fd(sub), POLLIN) & POLLIN);
	CHECK_EQ(LIB_OK(agnocast_receive(sub, e, 4)), 1);
	CHECK_EQ(e[0].addr, (uintptr_t)a);
	CHECK(e[0].seq == 1 && e[0].len == 6 && e[0].pid == getpid());
	CHECK_EQ(e[0].publisher_id, agnocast_publisher_id(pub));
	CHECK(!strcmp(agnocast_entry_data(&e[0]), "first"));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, e + 1, 3)), 0);
	/* The first falls out of the history but is held: nothing to reclaim. */
	b = LT_TEXT("second");
	LIB_OK(agnocast_publish(pub, b, 7, &seq));
	CHECK_EQ(seq, 2);
	CHECK_EQ(LIB_OK(agnocast_reclaim()), 0);
	LIB_OK(agnocast_release(sub, &e[0]));
	CHECK_EQ(LIB_OK(agnocast_reclaim()), 1);
	/* take: the newest only. */
	LIB_OK(agnocast_publish(pub, LT_TEXT("third"), 6, NULL));
	CHECK_EQ(LIB_OK(agnocast_take(sub, &t)), 1);
	CHECK(t.seq == 3 && !strcmp(agnocast_entry_data(&t), "third"));
	CHECK_EQ(LIB_OK(agnocast_take(sub, &t)), 0);
	LIB_ERR(agnocast_release(sub, &e[0]), ENOENT, "AGNOCAST_RELEASE_CMD");
	LIB_OK(agnocast_publisher_destroy(pub));
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_leave());	/* unlinks the discovery queue */
}

/* receive_release: the releases and the next receive in one RECEIVE. */
TEST(receive_release_in_one_call)
{
	struct agnocast_publisher *pub;
	struct agnocast_subscriber *sub;
	struct agnocast_entry e[2], f[2];

	LT_JOIN(2 * UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/pub/relrecv", QOS(4, 0), &sub));
	LIB_OK(agnocast_publisher_create("/lt/pub/relrecv", QOS(1, 0), &pub));
	LIB_OK(agnocast_publish(pub, LT_TEXT("one"), 4, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive_release(sub, NULL, 0, e, 2)), 1);
	CHECK(e[0].seq == 1 && !strcmp(agnocast_entry_data(&e[0]), "one"));
	/* "one" leaves the history but is held; released by the call that receives "two". */
	LIB_OK(agnocast_publish(pub, LT_TEXT("two"), 4, NULL));
	CHECK_EQ(LIB_OK(agnocast_reclaim()), 0);
	CHECK_EQ(LIB_OK(agnocast_receive_release(sub, &e[0], 1, f, 2)), 1);
	CHECK(f[0].seq == 2 && !strcmp(agnocast_entry_data(&f[0]), "two"));
	CHECK_EQ(LIB_OK(agnocast_reclaim()), 1);
	LIB_ERR(agnocast_release(sub, &e[0]), ENOENT, "AGNOCAST_RELEASE_CMD");
	/* Nothing new: 0, and the release stands. */
	CHECK_EQ(LIB_OK(agnocast_receive_release(sub, &f[0], 1, e, 2)), 0);
	LIB_ERR(agnocast_release(sub, &f[0]), ENOENT, "AGNOCAST_RELEASE_CMD");
	/* cap 0: only releases. */
	LIB_OK(agnocast_publish(pub, LT_TEXT("three"), 6, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, e, 2)), 1);
	CHECK_EQ(LIB_OK(agnocast_receive_release(sub, e, 1, NULL, 0)), 0);
	LIB_ERR(agnocast_release(sub, &e[0]), ENOENT, "AGNOCAST_RELEASE_CMD");
	CHECK_EQ(LIB_OK(agnocast_receive_release(sub, NULL, 0, NULL, 0)), 0);
	LIB_OK(agnocast_publisher_destroy(pub));
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_leave());
}

TEST(publisher_errors)
{
	struct agnocast_publisher *pub;
	char name[300];
	int on_stack = 0;
	void *block;

	LT_JOIN(UNIT, 0);
	LIB_ERR(agnocast_publisher_create("", NULL, &pub), EINVAL, "empty");
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	LIB_ERR(agnocast_publisher_create(name, NULL, &pub), ENAMETOOLONG, "longer than 255");
	LIB_ERR(agnocast_publisher_create("/a b", NULL, &pub), EINVAL, "no space or control byte");
	LIB_ERR(agnocast_publisher_create("/lt/pub/err", QOS(0, 0), &pub), EINVAL, "depth 1-1024");
	LIB_ERR(agnocast_publisher_create("/lt/pub/err", QOS(1, AGNOCAST_QOS_RELIABLE), &pub), EINVAL,
		"documented bounds");
	LIB_OK(agnocast_publisher_create("/lt/pub/err", NULL, &pub));
	LIB_ERR(agnocast_publish(pub, &on_stack, 4, NULL), EINVAL, "publish blocks from agnocast_alloc()");
	block = agnocast_alloc(64);
	CHECK(block);
	LIB_ERR(agnocast_publish(pub, block, 2 * UNIT, NULL), ERANGE, "not inside this process's pool");
	LIB_OK(agnocast_publish(pub, block, 64, NULL));
	LIB_OK(agnocast_publisher_destroy(pub));
	CHECK_EQ(agnocast_publisher_destroy(NULL), 0);
}

TEST(reliable_subscriber_full_eagain_then_pollout)
{
	struct agnocast_endpoint_state_args st;
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e;
	void *refused;
	int pfd;

	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_publisher_create("/lt/pub/reliable", QOS(4, 0), &pub));
	pfd = agnocast_publisher_fd(pub);
	CHECK(pfd >= 0 && (lt_poll_now(pfd, POLLOUT) & POLLOUT));
	LIB_OK(agnocast_subscriber_create("/lt/pub/reliable", QOS(1, AGNOCAST_QOS_RELIABLE), &sub));
	CHECK(lt_poll_now(pfd, POLLPRI) & POLLPRI, "a subscriber came: POLLPRI");
	LIB_OK(agnocast_publisher_state(pub, &st));
	CHECK(st.nr_publishers == 1 && st.nr_subscribers == 1 && st.nr_full == 0);
	CHECK_EQ(lt_poll_now(pfd, POLLPRI) & POLLPRI, 0);
	LIB_OK(agnocast_publish(pub, LT_TEXT("one"), 4, NULL));
	refused = LT_TEXT("two");
	LIB_ERR(agnocast_publish(pub, refused, 4, NULL), EAGAIN, "POLLOUT on agnocast_publisher_fd()");
	CHECK_EQ(lt_poll_now(pfd, POLLOUT) & POLLOUT, 0);
	LIB_OK(agnocast_publisher_state(pub, &st));
	CHECK_EQ(st.nr_full, 1);
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	LIB_OK(agnocast_release(sub, &e));
	CHECK(lt_poll(pfd, POLLOUT) & POLLOUT);
	/* The refused block is still ours: publish it now. */
	LIB_OK(agnocast_publish(pub, refused, 4, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	CHECK(!strcmp(agnocast_entry_data(&e), "two"));
	LIB_OK(agnocast_release(sub, &e));
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_publisher_destroy(pub));
	LIB_OK(agnocast_leave());
}

TEST(entry_quota_edquot_and_the_reclaim_retry)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e[2];

	LT_JOIN(UNIT, 0);
	PARAM_SET("max_entries_per_process", 2);
	LIB_OK(agnocast_subscriber_create("/lt/pub/quota", QOS(4, 0), &sub));
	LIB_OK(agnocast_publisher_create("/lt/pub/quota", QOS(1, 0), &pub));
	/* Each received (held) before the next pushes it out of the history. */
	LIB_OK(agnocast_publish(pub, LT_TEXT("1"), 2, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e[0], 1)), 1);
	LIB_OK(agnocast_publish(pub, LT_TEXT("2"), 2, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e[1], 1)), 1);
	/* Both held: nothing to reclaim, the quota stands. */
	LIB_ERR(agnocast_publish(pub, LT_TEXT("3"), 2, NULL), EDQUOT, "max_entries_per_process");
	LIB_OK(agnocast_release(sub, &e[0]));
	LIB_OK(agnocast_release(sub, &e[1]));
	/* The first is reclaimable but not handed back: the library reclaims and retries. */
	LIB_OK(agnocast_publish(pub, LT_TEXT("4"), 2, NULL));
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_publisher_destroy(pub));
	LIB_OK(agnocast_leave());
}

/* ---- one publisher, four threads --------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 100

struct tmsg {
	uint32_t thread, index;
	uint64_t check;
};

static uint64_t tcheck(uint32_t t, uint32_t i)
{
	return ((uint64_t)t << 32 | i) * 0x9e3779b97f4a7c15ULL;
}

static struct agnocast_publisher *shared_pub;

/* Publish PER_THREAD messages, waiting for room (POLLOUT) when the reader is full. */
static void *publisher_thread(void *arg)
{
	uint32_t t = (uint32_t)(uintptr_t)arg;

	for (uint32_t i = 0; i < PER_THREAD; i++) {
		struct tmsg *m = agnocast_alloc(sizeof(*m));
		int r;

		CHECK(m, "%s", agnocast_last_error());
		*m = (struct tmsg){ t, i, tcheck(t, i) };
		while ((r = agnocast_publish(shared_pub, m, sizeof(*m), NULL)) == -EAGAIN)
			CHECK(lt_poll(agnocast_publisher_fd(shared_pub), POLLOUT));
		LIB_OK(r);
	}
	return NULL;
}

static void reader(int sock, void *arg)
{
	static uint8_t seen[THREADS][PER_THREAD];
	struct agnocast_subscriber *sub;
	struct agnocast_entry e[16];
	uint32_t got = 0;

	(void)arg;
	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_subscriber_create("/lt/pub/threads", QOS(16, AGNOCAST_QOS_RELIABLE), &sub));
	TELL(sock, "subscribed");
	while (got < THREADS * PER_THREAD) {
		int n;

		CHECK(lt_poll(agnocast_subscriber_fd(sub), POLLIN) & POLLIN, "after %u messages", got);
		n = LIB_OK(agnocast_receive(sub, e, 16));
		for (int i = 0; i < n; i++, got++) {
			const struct tmsg *m = agnocast_entry_data(&e[i]);

			CHECK(e[i].len == sizeof(*m) && m->thread < THREADS && m->index < PER_THREAD &&
			      m->check == tcheck(m->thread, m->index), "message %u", got);
			CHECK(!seen[m->thread][m->index]++, "thread %u message %u twice", m->thread, m->index);
			LIB_OK(agnocast_release(sub, &e[i]));
		}
	}
	SEND(sock, got);
	WAIT_FOR(sock, "exit");
	LIB_OK(agnocast_leave());
}

TEST(one_publisher_four_threads)
{
	pthread_t th[THREADS];
	struct child r = spawn(reader, NULL);
	uint32_t got = 0;

	WAIT_FOR(r.sock, "subscribed");
	LT_JOIN(4 * UNIT, 64 * UNIT);
	LIB_OK(agnocast_publisher_create("/lt/pub/threads", QOS(1, 0), &shared_pub));
	for (uintptr_t t = 0; t < THREADS; t++)
		CHECK_OK(pthread_create(&th[t], NULL, publisher_thread, (void *)t));
	for (int t = 0; t < THREADS; t++)
		CHECK_OK(pthread_join(th[t], NULL));
	RECV(r.sock, got);
	CHECK_EQ(got, THREADS * PER_THREAD);
	TELL(r.sock, "exit");
	REAP_OK(r.pid);
	/* Everything was released: every block comes back. */
	LIB_OK(agnocast_publisher_destroy(shared_pub));
	LIB_OK(agnocast_reclaim());
	CHECK_EQ(LT_TOTALS().entries, 0);
}
