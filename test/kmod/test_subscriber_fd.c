// SPDX-License-Identifier: Apache-2.0
/*
 * The subscriber is its descriptor: closing its last copy removes it as
 * REMOVE_SUBSCRIBER does (its id unknown, its references dropped and the
 * entries reclaimable); a dup, a forked child's inherited copy or a copy
 * passed to another process keeps it until that last copy goes; removal
 * (REMOVE_SUBSCRIBER or its process's end) makes every copy report
 * POLLHUP. An ADD_SUBSCRIBER or MAP_POOL that fails on copy-out (EFAULT)
 * or for want of a descriptor (EMFILE) leaves no descriptor open and
 * nothing registered or declared.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "roles.h"
#include "status.h"

/* References held on the topic's entries, by all its subscribers. */
static uint64_t topic_held(const char *topic, int dev)
{
	struct agnocast_topic_info_args a;
	struct agnocast_endpoint_info subs[4];
	uint64_t n = 0;
	uint32_t i;

	memset(&a, 0, sizeof(a));
	set_topic(a.topic, topic);
	a.subs = p2u(subs);
	a.subs_cap = 4;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &a));
	for (i = 0; i < a.nr_subs && i < 4; i++)
		n += subs[i].count;
	return n;
}

static int remove_sub_raw(int dev, uint32_t id)
{
	struct agnocast_remove_args a = { .id = id };

	return ag_ioctl(dev, AGNOCAST_REMOVE_SUBSCRIBER_CMD, &a);
}

/* Send / receive one descriptor over a message socket (SCM_RIGHTS). */
static void send_fd(int sock, int fd)
{
	char byte = 'F', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
		FAIL("sendmsg SCM_RIGHTS: %s", errname(errno));
}

static int recv_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (poll(&(struct pollfd){ .fd = sock, .events = POLLIN }, 1,
		 SYNC_TIMEOUT_MS) != 1)
		FAIL("no descriptor from the peer");
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		FAIL("recvmsg SCM_RIGHTS: %s", errname(errno));
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		FAIL("no SCM_RIGHTS in the message");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* ---- closing the fd ------------------------------------------------ */

TEST(close_removes_subscriber_and_its_references)
{
	struct pub_cfg cfg = { "subfd/close", 1, 0 };
	struct agnocast_entry e[4];
	struct pub_proc p;
	struct ag_pool pool;
	struct ag_sub sub;
	struct status st;
	const struct st_rec *t;
	uint64_t addr[3], recl[8];
	uint32_t nr;
	int dev = AG_OPEN(), i;

	pub_start(&p, &cfg);
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "subfd/close", 4, 0);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(PUB_ONE_ADDR(&p, i + 1, &addr[i]), i + 1);
		CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
		CHECK_EQ(e[0].seq, i + 1);
	}
	/* Entries 1 and 2 are past depth 1 but held. */
	CHECK_EQ(pub_reclaim(&p, recl), 0);
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 1, 1, 1, 3, 0);
	t = ST_TOPIC(&st, "subfd/close");
	CHECK_EQ(ST_U64(st_find_in(&st, t, "subscriber", "id", sub.id), "held"), 3);
	status_free(&st);

	close(sub.fd);
	/* Entries: the retained one, and two reclaimable not handed back. */
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 1, 1, 0, 3, 0);
	CHECK_EQ(ST_U64(ST_PROC(&st, p.c.pid), "reclaimable"), 2);
	t = ST_TOPIC(&st, "subfd/close");
	CHECK_EQ(ST_U64(t, "subscribers"), 0);
	CHECK(st_find_in(&st, t, "subscriber", "id", sub.id) == NULL);
	CHECK_EQ(ST_U64(ST_PROC(&st, getpid()), "subscribers"), 0);
	status_free(&st);
	CHECK_ERR(remove_sub_raw(dev, sub.id), ENOENT);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), ENOENT);
	CHECK_ERR(release_raw(dev, sub.id, 1), ENOENT);
	/* What it held is the publisher's again, oldest first. */
	CHECK_EQ(pub_reclaim(&p, recl), 2);
	CHECK_EQ(recl[0], addr[0]);
	CHECK_EQ(recl[1], addr[1]);
	CHECK_STATUS_TOTALS(2, 1, 1, 0, 1, 0);
	pub_stop(&p);
}

/* ---- copies of the fd ---------------------------------------------- */

struct copy_ctx {
	int fd;		/* the copy the child inherits */
	int dev;
	uint32_t id;
};

/* Polls its inherited copy when told; closes it when told. */
static void copy_holder(int sock, void *arg)
{
	struct copy_ctx *c = arg;
	struct agnocast_entry e[2];
	short rev;
	uint32_t nr;

	WAIT_FOR(sock, "poll");
	TELL(sock, "polling");
	rev = poll_wait(c->fd);
	SEND(sock, rev);
	/* The id is its parent's: not ours to use. */
	CHECK_ERR(receive_raw(c->dev, c->id, e, 2, &nr), ESRCH);
	WAIT_FOR(sock, "close");
	close(c->fd);
	TELL(sock, "closed");
	WAIT_FOR(sock, "exit");
}

TEST(dup_and_inherited_copies_keep_it)
{
	struct agnocast_entry e[4];
	struct copy_ctx cc;
	struct ag_pool pool;
	struct ag_sub sub;
	struct child c;
	uint32_t pub;
	short rev;
	int dev = AG_OPEN(), d;

	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "subfd/copies", 1, 0);
	sub = ADD_SUB(dev, "subfd/copies", 4, 0);
	d = dup(sub.fd);
	CHECK(d >= 0);
	close(sub.fd);
	/* The dup keeps it: it still gets entries and poll says so. */
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	write_msg(pool.addr, 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
	CHECK(poll_now(d) & POLLIN);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	RELEASE(dev, sub.id, 1);

	/* A forked child's copy keeps it after our last one is closed. */
	cc.fd = d;
	cc.dev = dev;
	cc.id = sub.id;
	c = spawn(copy_holder, &cc);
	close(d);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 1, 0);
	TELL(c.sock, "poll");
	WAIT_FOR(c.sock, "polling");
	WAIT_SLEEPING(c.pid);
	write_msg(pool.addr + 64, 2);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr + 64, 16), 2);
	RECV(c.sock, rev);
	CHECK_EQ(rev, POLLIN);
	/* We have no copy any more, but the subscriber is ours. */
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 2);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 1, 0);
	CHECK_EQ(topic_held("subfd/copies", dev), 1);

	/* The last copy closes: the subscriber and its reference go. */
	TELL(c.sock, "close");
	WAIT_FOR(c.sock, "closed");
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 1, 0);
	CHECK_EQ(topic_held("subfd/copies", dev), 0);
	CHECK_ERR(remove_sub_raw(dev, sub.id), ENOENT);
	CHECK_ERR(release_raw(dev, sub.id, 2), ENOENT);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

/* Blocks in poll on its inherited copy until the subscriber is removed. */
static void hup_waiter(int sock, void *arg)
{
	struct copy_ctx *c = arg;
	short rev;

	TELL(sock, "polling");
	rev = poll_wait(c->fd);
	SEND(sock, rev);
	WAIT_FOR(sock, "exit");
}

TEST(remove_subscriber_hangs_up_every_copy)
{
	struct agnocast_entry e[2];
	struct copy_ctx cc;
	struct ag_pool pool;
	struct ag_sub sub;
	struct child c;
	uint32_t nr;
	short rev;
	int dev = AG_OPEN(), d;

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "subfd/hup", 1, 0);
	d = dup(sub.fd);
	CHECK(d >= 0);
	cc.fd = sub.fd;
	c = spawn(hup_waiter, &cc);
	WAIT_FOR(c.sock, "polling");
	WAIT_SLEEPING(c.pid);
	CHECK_EQ(poll_now(sub.fd), 0);
	REMOVE_SUB(dev, sub.id);
	RECV(c.sock, rev);
	CHECK(rev & POLLHUP);
	CHECK(poll_now(sub.fd) & POLLHUP);
	CHECK(poll_now(d) & POLLHUP);
	/* Gone although three copies are open. */
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	CHECK_ERR(receive_raw(dev, sub.id, e, 2, &nr), ENOENT);
	CHECK_ERR(remove_sub_raw(dev, sub.id), ENOENT);
	close(sub.fd);
	close(d);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

/* Subscribes, hands its fd over and closes its own; publishes on "pub". */
static void passing_subscriber(int sock, void *arg)
{
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "subfd/passed", 1, 0);
	sub = ADD_SUB(dev, "subfd/passed", 1, 0);
	send_fd(sock, sub.fd);
	close(sub.fd);
	WAIT_FOR(sock, "pub");
	write_msg(pool.addr, 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
	TELL(sock, "published");
	WAIT_FOR(sock, "exit");
}

TEST(process_end_hangs_up_a_passed_copy)
{
	struct child c;
	int fd;

	c = spawn(passing_subscriber, NULL);
	fd = recv_fd(c.sock);
	/* Our copy (not joined, another process) is its only one. */
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	CHECK_EQ(poll_now(fd), 0);
	TELL(c.sock, "pub");
	WAIT_FOR(c.sock, "published");
	CHECK_EQ(poll_now(fd), POLLIN);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
	/* Its process ended: removed, and our copy says so. */
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	CHECK_EQ(poll_now(fd), POLLHUP);
	close(fd);
}

/* ---- failed calls leave no fd -------------------------------------- */

/* A page holding a filled argument, then made read-only. */
static void *ro_page_with(const void *arg, size_t len)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(page != MAP_FAILED);
	memcpy(page, arg, len);
	CHECK_OK(mprotect(page, 4096, PROT_READ));
	return page;
}

TEST(failed_add_subscriber_leaves_no_fd)
{
	struct agnocast_add_subscriber_args a, *ro;
	struct agnocast_pool_info pubs[4];
	struct ag_pool pool;
	int dev = AG_OPEN(), free_fd, nfds, i;
	static const char *const topics[] = { "subfd/efault", "subfd/efault-alone" };

	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "subfd/efault", 1, 0);
	for (i = 0; i < 2; i++) {
		memset(&a, 0, sizeof(a));
		set_topic(a.topic, topics[i]);
		a.qos.depth = 1;
		a.pubs = p2u(pubs);	/* writable: only the argument is not */
		a.pubs_cap = 4;
		a.fd = -1;
		ro = ro_page_with(&a, sizeof(a));
		free_fd = lowest_free_fd();
		nfds = nr_open_fds();
		CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, ro), EFAULT);
		CHECK_EQ(lowest_free_fd(), free_fd);
		CHECK_EQ(nr_open_fds(), nfds);
		/* No subscriber; the lonely topic was not left behind. */
		CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);

		/* Writable again: the same call works, on the same fd number. */
		CHECK_OK(mprotect(ro, 4096, PROT_READ | PROT_WRITE));
		CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, ro));
		CHECK_EQ(ro->fd, free_fd);
		CHECK_EQ(ro->nr_pubs, i == 0 ? 1 : 0);
		CHECK_STATUS_TOTALS(1, i + 1, 1, 1, 0, 0);
		close(ro->fd);
		CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);
		munmap(ro, 4096);
	}
}

static void owner(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
}

TEST(failed_map_pool_leaves_no_fd)
{
	struct agnocast_map_pool_args a, *ro;
	struct ag_pool pool;
	struct status st;
	struct child o;
	int dev = AG_OPEN(), free_fd, nfds;

	o = spawn(owner, NULL);
	WAIT_FOR(o.sock, "joined");
	JOIN(dev, UNIT, 0, &pool);
	memset(&a, 0, sizeof(a));
	a.pool.pid = o.pid;
	a.fd = -2;
	ro = ro_page_with(&a, sizeof(a));
	free_fd = lowest_free_fd();
	nfds = nr_open_fds();
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, ro), EFAULT);
	CHECK_EQ(lowest_free_fd(), free_fd);
	CHECK_EQ(nr_open_fds(), nfds);
	/* Nothing declared: no mapping, no mapper, nothing to undo. */
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 0, 0, 0, 0, 0);
	CHECK_EQ(ST_U64(ST_PROC(&st, o.pid), "mappers"), 0);
	status_free(&st);
	CHECK_ERR(unmap_pool_raw(dev, o.pid), EINVAL);

	CHECK_OK(mprotect(ro, 4096, PROT_READ | PROT_WRITE));
	CHECK_OK(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, ro));
	CHECK_EQ(ro->fd, free_fd);
	CHECK_EQ(ro->pool.pid, o.pid);
	close(ro->fd);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	CHECK_OK(unmap_pool_raw(dev, o.pid));
	munmap(ro, 4096);
	TELL(o.sock, "exit");
	REAP_OK(o.pid);
}

/* No descriptor free: EMFILE, and nothing registered or declared. */
TEST(emfile_registers_nothing)
{
	struct agnocast_add_subscriber_args a;
	struct agnocast_pool_info pubs[2];
	struct rlimit lim, low;
	struct ag_pool pool;
	struct status st;
	struct child o;
	int dev = AG_OPEN(), free_fd, fd;

	o = spawn(owner, NULL);
	WAIT_FOR(o.sock, "joined");
	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "subfd/emfile", 1, 0);
	free_fd = lowest_free_fd();
	CHECK_OK(getrlimit(RLIMIT_NOFILE, &lim));
	low = lim;
	low.rlim_cur = free_fd;
	CHECK_OK(setrlimit(RLIMIT_NOFILE, &low));

	memset(&a, 0, sizeof(a));
	set_topic(a.topic, "subfd/emfile");
	a.qos.depth = 1;
	a.pubs = p2u(pubs);
	a.pubs_cap = 2;
	a.fd = -1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &a), EMFILE);
	set_topic(a.topic, "subfd/emfile-alone");
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &a), EMFILE);
	CHECK_ERR(map_pool_fd(dev, o.pid, NULL, &fd), EMFILE);
	CHECK_EQ(fd, -1);
	/* Our own pool needs no descriptor: still answered. */
	CHECK_OK(map_pool_fd(dev, getpid(), NULL, &fd));
	CHECK_EQ(fd, -1);
	CHECK_OK(setrlimit(RLIMIT_NOFILE, &lim));
	CHECK_EQ(lowest_free_fd(), free_fd);
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 1, 1, 0, 0, 0);
	CHECK_EQ(ST_U64(ST_PROC(&st, o.pid), "mappers"), 0);
	status_free(&st);
	CHECK_ERR(unmap_pool_raw(dev, o.pid), EINVAL);

	set_topic(a.topic, "subfd/emfile");
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &a));
	CHECK_EQ(a.fd, free_fd);
	CHECK_EQ(a.nr_pubs, 1);
	CHECK_STATUS_TOTALS(2, 1, 1, 1, 0, 0);
	close(a.fd);
	TELL(o.sock, "exit");
	REAP_OK(o.pid);
}
