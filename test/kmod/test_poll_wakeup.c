// SPDX-License-Identifier: Apache-2.0
/*
 * The subscriber fd: not readable before a publish, a subscriber blocked
 * in poll / epoll_wait is woken by a publish in another process, not
 * readable once drained, and POLLHUP (waking a blocked poller) after
 * REMOVE_SUBSCRIBER.
 *
 * The publisher publishes only after the subscriber told it is about to
 * wait and its task is seen sleeping; the poll timeouts are safety nets.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "roles.h"
#include "status.h"

struct waiter_cfg {
	int use_epoll;
};

static void waiter(int sock, void *arg)
{
	struct waiter_cfg *cfg = arg;
	struct agnocast_pool_info info;
	struct agnocast_entry e[4];
	struct epoll_event ev, out;
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t nr;
	pid_t pub;
	short re;
	int dev = AG_OPEN(), ep = -1, n;

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "poll/wake", 4, 0);
	RECV(sock, pub);
	MAP_PEER(dev, pub, &info);
	CHECK_EQ(poll_now(sub.fd), 0);	/* nothing yet */
	if (cfg->use_epoll) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		CHECK(ep >= 0);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		CHECK_OK(epoll_ctl(ep, EPOLL_CTL_ADD, sub.fd, &ev));
		CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
	}
	TELL(sock, "waiting");
	if (cfg->use_epoll) {
		do
			n = epoll_wait(ep, &out, 1, SYNC_TIMEOUT_MS);
		while (n < 0 && errno == EINTR);
		CHECK_EQ(n, 1);
		CHECK(out.events & EPOLLIN);
		/* Level-triggered: still ready until drained. */
		CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);
	} else {
		re = poll_wait(sub.fd);
		CHECK(re & POLLIN);
		CHECK(!(re & POLLHUP));
	}
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_MSG(e[0].addr, pub, 77);
	CHECK_EQ(poll_now(sub.fd), 0);	/* drained */
	if (cfg->use_epoll)
		CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), EAGAIN);
	RELEASE(dev, sub.id, e[0].seq);
	TELL(sock, "woken");
	WAIT_FOR(sock, "exit");
}

static void wake_test(int use_epoll)
{
	static const struct pub_cfg cp = { "poll/wake", 1, 0 };
	struct waiter_cfg cfg = { use_epoll };
	struct child w[2];
	struct pub_proc p;
	int i;

	pub_start(&p, &cp);
	for (i = 0; i < 2; i++) {
		w[i] = spawn(waiter, &cfg);
		SEND(w[i].sock, p.c.pid);
	}
	for (i = 0; i < 2; i++) {
		WAIT_FOR(w[i].sock, "waiting");
		/* Blocked in poll / epoll_wait (the only wait left). */
		WAIT_SLEEPING(w[i].pid);
	}
	CHECK_EQ(PUB_ONE(&p, 77), 1);
	for (i = 0; i < 2; i++)
		WAIT_FOR(w[i].sock, "woken");
	for (i = 0; i < 2; i++) {
		TELL(w[i].sock, "exit");
		REAP_OK(w[i].pid);
	}
	pub_stop(&p);
}

TEST(poll_woken_by_publish_in_another_process)
{
	wake_test(0);
}

TEST(epoll_woken_by_publish_in_another_process)
{
	wake_test(1);
}

struct hup_poller {
	int fd;
	pid_t tid;
	int ready_pipe;
	short revents;
	int rc;
};

static void *hup_thread(void *p)
{
	struct hup_poller *h = p;
	struct pollfd pf = { .fd = h->fd, .events = POLLIN };
	char c = 1;

	h->tid = (pid_t)syscall(SYS_gettid);
	if (write(h->ready_pipe, &c, 1) != 1)
		FAIL("write: %s", errname(errno));
	do
		h->rc = poll(&pf, 1, SYNC_TIMEOUT_MS);
	while (h->rc < 0 && errno == EINTR);
	h->revents = pf.revents;
	return NULL;
}

TEST(pollhup_after_remove_subscriber)
{
	struct hup_poller h;
	struct agnocast_entry e[2];
	struct ag_pool pool;
	struct ag_sub sub;
	pthread_t th;
	uint32_t nr;
	int dev = AG_OPEN(), p[2];
	char c;

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "poll/hup", 1, 0);
	CHECK_EQ(poll_now(sub.fd), 0);
	CHECK_OK(pipe(p));
	memset(&h, 0, sizeof(h));
	h.fd = sub.fd;
	h.ready_pipe = p[1];
	CHECK_OK(pthread_create(&th, NULL, hup_thread, &h));
	CHECK_EQ(read(p[0], &c, 1), 1);
	WAIT_SLEEPING(h.tid);
	REMOVE_SUB(dev, sub.id);
	CHECK_OK(pthread_join(th, NULL));
	CHECK_EQ(h.rc, 1);
	CHECK(h.revents & POLLHUP);
	/* And it stays so; the id is gone. */
	CHECK(poll_now(sub.fd) & POLLHUP);
	CHECK_ERR(receive_raw(dev, sub.id, e, 2, &nr), ENOENT);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	close(sub.fd);
}
