// SPDX-License-Identifier: Apache-2.0
/*
 * A process's death (SIGKILL of a publisher mid-stream, of a subscriber
 * holding references, of a process that is both; a plain exit without any
 * cleanup; an execve) drops everything it owned or held. Survivors keep
 * working, a publisher gets back the entries the dead held, and the counts
 * return to zero.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "roles.h"
#include "status.h"

#define STREAM 1000

static void streaming_publisher(int sock, void *arg)
{
	struct ag_pool pool;
	uint32_t pub, i;
	uint64_t addr;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	/* Depth 16: even if all is published before the subscriber's first
	 * RECEIVE, 16 entries are there for it. */
	pub = ADD_PUB(dev, "exit/stream", 16, 0);
	SEND(sock, pool);
	WAIT_FOR(sock, "go");
	for (i = 0; i < STREAM; i++) {
		addr = pool.addr + (uint64_t)i * 64;
		write_msg(addr, i);
		PUBLISH(dev, pub, addr, sizeof(struct msg));
	}
	/* Wait to be killed (never told anything). */
	WAIT_FOR(sock, "never");
}

struct held {
	uint64_t seq, addr;
	uint32_t label;
};

static void stream_subscriber(int sock, void *arg)
{
	struct agnocast_pool_info info, info2;
	struct agnocast_entry e[64];
	static struct held h[STREAM];
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t n = 0, got, i, nr;
	pid_t pub, pub2;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "exit/stream", AGNOCAST_DEPTH_MAX, 0);
	RECV(sock, pub);
	MAP_PEER(dev, pub, &info);
	TELL(sock, "ready");
	while (n < 5) {
		if (!(poll_wait(sub.fd) & POLLIN))
			FAIL("no entry from the streaming publisher");
		got = RECEIVE(dev, sub.id, e, 64);
		for (i = 0; i < got; i++) {
			h[n].seq = e[i].seq;
			h[n].addr = e[i].addr;
			h[n].label = MSG_LABEL(e[i].addr);
			n++;
		}
	}
	TELL(sock, "got5");
	WAIT_FOR(sock, "dead");
	/* The publisher is dead: what we hold is intact and releasable. */
	for (i = 0; i < n; i++) {
		CHECK_MSG(h[i].addr, pub, h[i].label);
		RELEASE(dev, sub.id, h[i].seq);
	}
	/* Whatever is still pending is valid too (or was dropped). */
	while (receive_raw(dev, sub.id, e, 64, &nr) == 0) {
		for (i = 0; i < nr; i++) {
			CHECK_EQ(e[i].pid, pub);
			MSG_LABEL(e[i].addr);
			RELEASE(dev, sub.id, e[i].seq);
		}
	}
	CHECK_EQ(errno, EAGAIN);
	UNMAP_PEER(dev, &info);
	TELL(sock, "drained");

	/* A new publisher on the same topic reaches us. */
	RECV(sock, pub2);
	MAP_PEER(dev, pub2, &info2);
	TELL(sock, "mapped");
	if (!(poll_wait(sub.fd) & POLLIN))
		FAIL("no entry from the second publisher");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 64), 1);
	CHECK_EQ(e[0].pid, pub2);
	CHECK_MSG(e[0].addr, pub2, 4242);
	RELEASE(dev, sub.id, e[0].seq);
	TELL(sock, "received");
	WAIT_FOR(sock, "exit");
}

TEST(sigkill_publisher_midstream)
{
	static const struct pub_cfg second = { "exit/stream", 1, 0 };
	struct child p, s;
	struct pub_proc p2;
	struct ag_pool pool;
	struct status st;

	p = spawn(streaming_publisher, NULL);
	RECV(p.sock, pool);
	s = spawn(stream_subscriber, NULL);
	SEND(s.sock, p.pid);
	WAIT_FOR(s.sock, "ready");
	TELL(p.sock, "go");
	WAIT_FOR(s.sock, "got5");
	KILL_REAP(p.pid);
	TELL(s.sock, "dead");
	WAIT_FOR(s.sock, "drained");

	STATUS_READ(&st);
	CHECK(st_find(&st, "process", "pid", p.pid) == NULL);
	CHECK_TOTALS(&st, 1, 1, 0, 1, 0, 0);
	status_free(&st);
	CHECK(!shm_exists(p.pid));

	pub_start(&p2, &second);
	SEND(s.sock, p2.c.pid);
	WAIT_FOR(s.sock, "mapped");
	PUB_ONE(&p2, 4242);
	WAIT_FOR(s.sock, "received");
	TELL(s.sock, "exit");
	REAP_OK(s.pid);
	pub_stop(&p2);
}

TEST(sigkill_subscriber_holding_references)
{
	static const struct sub_cfg holder = { "exit/holder", 1, { { 10, 0 } }, 1 };
	static const struct sub_cfg polite = { "exit/holder", 1, { { 10, 0 } }, 0 };
	struct sub_proc s1, s2;
	struct recv_result r;
	struct ag_pool pool;
	uint64_t addr[7], recl[8];
	uint32_t pub, nr, i;
	pid_t me = getpid();
	int dev;

	sub_start(&s1, &holder);
	sub_start(&s2, &polite);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "exit/holder", 1, 0);
	sub_map(&s1, me);
	sub_map(&s2, me);
	for (i = 1; i <= 5; i++) {
		addr[i] = pool.addr + i * 64;
		write_msg(addr[i], i);
		CHECK_EQ(PUBLISH_R(dev, pub, addr[i], 16, recl, 8, &nr), i);
		CHECK_EQ(nr, 0);	/* s1 holds everything */
		SUB_RECV(&s1, 16, &r);
		CHECK_SEQS(&r, 0, i);
		SUB_RECV(&s2, 16, &r);
		CHECK_SEQS(&r, 0, i);
	}
	CHECK_EQ(RECLAIM(dev, recl, 8), 0);
	KILL_REAP(s1.c.pid);
	CHECK_STATUS_TOTALS(2, 1, 1, 1, 5, 1);

	/* Entries 1..4 are back (5 is still in the history). */
	CHECK_EQ(RECLAIM(dev, recl, 8), 4);
	for (i = 0; i < 4; i++)
		CHECK_EQ(recl[i], addr[i + 1]);
	CHECK_EQ(RECLAIM(dev, recl, 8), 0);
	CHECK_STATUS_TOTALS(2, 1, 1, 1, 1, 1);

	/* Business as usual with the survivor. */
	addr[6] = pool.addr + 6 * 64;
	write_msg(addr[6], 6);
	CHECK_EQ(PUBLISH_R(dev, pub, addr[6], 16, recl, 8, &nr), 6);
	CHECK_EQ(nr, 1);
	CHECK_EQ(recl[0], addr[5]);
	SUB_RECV(&s2, 16, &r);
	CHECK_SEQS(&r, 0, 6);
	CHECK_EQ(r.e[0][0].label, 6);
	sub_stop(&s2);
}

/* A process that publishes on one topic and subscribes to another. */
struct both_cfg {
	const char *pub_topic, *sub_topic;
};

struct both_cmd {
	char op[8];
	int32_t pid;
	uint32_t label;
};

struct both_reply {
	uint32_t nr, pad;
	uint64_t v[8];	/* seqs, or addresses */
};

static void both_role(int sock, void *arg)
{
	struct both_cfg *cfg = arg;
	struct agnocast_pool_info info[2];
	struct agnocast_entry e[16];
	struct both_reply rep;
	struct both_cmd cmd;
	struct ag_pool pool;
	struct ag_sub sub;
	struct held h[16];
	uint32_t pub, nh = 0, n = 0, i, got;
	int dev = AG_OPEN(), nmaps = 0;

	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, cfg->sub_topic, 10, 0);
	pub = ADD_PUB(dev, cfg->pub_topic, 1, 0);
	SEND(sock, pool);
	for (;;) {
		RECV(sock, cmd);
		memset(&rep, 0, sizeof(rep));
		if (!strcmp(cmd.op, "map")) {
			MAP_PEER(dev, cmd.pid, &info[nmaps++]);
		} else if (!strcmp(cmd.op, "unmap")) {
			UNMAP_PEER(dev, &info[--nmaps]);
		} else if (!strcmp(cmd.op, "pub")) {
			uint64_t addr = pool.addr + (uint64_t)(n++) * 64;

			write_msg(addr, cmd.label);
			rep.v[0] = PUBLISH_R(dev, pub, addr, 16, rep.v + 2, 6, &rep.nr);
			rep.v[1] = addr;
		} else if (!strcmp(cmd.op, "recv")) {
			got = RECEIVE(dev, sub.id, e, 16);
			for (i = 0; i < got && nh < 16; i++) {
				h[nh].seq = e[i].seq;
				h[nh].addr = e[i].addr;
				h[nh].label = MSG_LABEL(e[i].addr);
				rep.v[i] = e[i].seq;
				nh++;
			}
			rep.nr = got;
		} else if (!strcmp(cmd.op, "recl")) {
			rep.nr = RECLAIM(dev, rep.v, 8);
		} else if (!strcmp(cmd.op, "relall")) {
			for (i = 0; i < nh; i++) {
				CHECK_MSG(h[i].addr, cmd.pid, h[i].label);
				RELEASE(dev, sub.id, h[i].seq);
			}
			rep.nr = nh;
			nh = 0;
		} else {
			break;
		}
		SEND(sock, rep);
	}
}

static struct both_reply both(struct child *c, const char *op, pid_t pid,
			      uint32_t label)
{
	struct both_cmd cmd;
	struct both_reply rep;

	memset(&cmd, 0, sizeof(cmd));
	snprintf(cmd.op, sizeof(cmd.op), "%s", op);
	cmd.pid = pid;
	cmd.label = label;
	SEND(c->sock, cmd);
	RECV(c->sock, rep);
	return rep;
}

TEST(sigkill_process_that_publishes_and_subscribes)
{
	static struct both_cfg xc = { "exit/ta", "exit/tb" };
	static struct both_cfg yc = { "exit/tb", "exit/ta" };
	static const struct sub_cfg zc = { "exit/tb", 1, { { 10, 0 } }, 0 };
	struct child x, y;
	struct sub_proc z;
	struct recv_result r;
	struct ag_pool px, py;
	struct both_reply rep;
	struct status st;
	uint64_t yb1, yb2;

	x = spawn(both_role, &xc);
	RECV(x.sock, px);
	y = spawn(both_role, &yc);
	RECV(y.sock, py);
	both(&x, "map", y.pid, 0);
	both(&y, "map", x.pid, 0);

	CHECK_EQ(both(&x, "pub", 0, 11).v[0], 1);
	CHECK_EQ(both(&y, "recv", 0, 0).nr, 1);
	CHECK_EQ(both(&x, "pub", 0, 12).v[0], 2);
	CHECK_EQ(both(&y, "recv", 0, 0).nr, 1);
	rep = both(&y, "pub", 0, 21);
	CHECK_EQ(rep.v[0], 1);
	yb1 = rep.v[1];
	CHECK_EQ(both(&x, "recv", 0, 0).nr, 1);
	rep = both(&y, "pub", 0, 22);
	CHECK_EQ(rep.v[0], 2);
	CHECK_EQ(rep.nr, 0);	/* x holds yb1 */
	yb2 = rep.v[1];
	CHECK_EQ(both(&x, "recv", 0, 0).nr, 1);
	CHECK_STATUS_TOTALS(2, 2, 2, 2, 4, 2);

	KILL_REAP(x.pid);
	/* x's pool lives on: y holds two of its entries and maps it. */
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 2, 1, 1, 4, 1);
	CHECK(!strcmp(st_str(ST_PROC(&st, x.pid), "state"), "exited"));
	status_free(&st);

	rep = both(&y, "recl", 0, 0);
	CHECK_EQ(rep.nr, 1);
	CHECK_EQ(rep.v[0], yb1);
	CHECK_EQ(both(&y, "relall", x.pid, 0).nr, 2);
	both(&y, "unmap", 0, 0);
	STATUS_READ(&st);
	CHECK(st_find(&st, "process", "pid", x.pid) == NULL);
	CHECK_TOTALS(&st, 1, 2, 1, 1, 1, 0);
	status_free(&st);
	CHECK(!shm_exists(x.pid));

	/* y goes on: a new subscriber on its topic gets its next entry. */
	sub_start(&z, &zc);
	CHECK_EQ(z.h.nr_pubs[0], 1);
	rep = both(&y, "pub", 0, 23);
	CHECK_EQ(rep.v[0], 3);
	CHECK_EQ(rep.nr, 1);
	CHECK_EQ(rep.v[2], yb2);
	SUB_RECV(&z, 16, &r);
	CHECK_SEQS(&r, 0, 3);
	CHECK_EQ(r.e[0][0].label, 23);
	sub_stop(&z);
	{
		struct both_cmd cmd;

		memset(&cmd, 0, sizeof(cmd));
		snprintf(cmd.op, sizeof(cmd.op), "exit");
		SEND(y.sock, cmd);
		REAP_OK(y.pid);
	}
}

static void quitter(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct agnocast_entry e[4];
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub;
	pid_t other;
	int dev = AG_OPEN();

	(void)arg;
	RECV(sock, other);
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "exit/quit1", 4, 0);
	write_msg(pool.addr, 1);
	write_msg(pool.addr + 64, 2);
	PUBLISH(dev, pub, pool.addr, 16);
	PUBLISH(dev, pub, pool.addr + 64, 16);
	sub = ADD_SUB(dev, "exit/quit2", 10, 0);
	MAP_PEER(dev, other, &info);
	TELL(sock, "ready");
	WAIT_FOR(sock, "recv");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	TELL(sock, "holding");
	WAIT_FOR(sock, "exit");
	/* Plain exit: nothing removed, released or unmapped. */
}

TEST(plain_exit_without_any_cleanup)
{
	static const struct pub_cfg yc = { "exit/quit2", 1, 0 };
	struct pub_proc y;
	struct child x;
	struct status st;
	uint64_t y1, recl[8];

	pub_start(&y, &yc);
	x = spawn(quitter, NULL);
	SEND(x.sock, y.c.pid);
	WAIT_FOR(x.sock, "ready");
	CHECK_EQ(PUB_ONE_ADDR(&y, 1, &y1), 1);
	TELL(x.sock, "recv");
	WAIT_FOR(x.sock, "holding");
	CHECK_EQ(PUB_ONE(&y, 2), 2);
	CHECK_STATUS_TOTALS(2, 2, 2, 1, 4, 1);

	TELL(x.sock, "exit");
	REAP_OK(x.pid);
	STATUS_READ(&st);
	CHECK(st_find(&st, "process", "pid", x.pid) == NULL);
	CHECK(st_topic(&st, "exit/quit1") == NULL);
	/* y1: released by the exit and out of the history, not handed back. */
	CHECK_TOTALS(&st, 1, 1, 1, 0, 2, 0);
	CHECK_EQ(ST_U64(ST_PROC(&st, y.c.pid), "reclaimable"), 1);
	status_free(&st);
	CHECK(!shm_exists(x.pid));
	CHECK_EQ(pub_reclaim(&y, recl), 1);
	CHECK_EQ(recl[0], y1);
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 1, 0);
	pub_stop(&y);
}

/* ---- execve ---- */

static void execer(int sock, void *arg)
{
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub;
	pid_t me = getpid();
	char devs[16], socks[16], reps[16];
	int dev;

	(void)arg;
	/* Not close-on-exec: the new image keeps the open file. */
	dev = open(AGNOCAST_DEVICE_PATH, O_RDWR);
	CHECK(dev >= 0);
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "exit/exec", 2, 0);
	write_msg(pool.addr, 1);
	PUBLISH(dev, pub, pool.addr, 16);
	sub = ADD_SUB(dev, "exit/exec", 2, 0);
	(void)sub;
	SEND(sock, me);
	WAIT_FOR(sock, "exec");
	CHECK_OK(fcntl(sock, F_SETFD, 0));
	snprintf(devs, sizeof(devs), "%d", dev);
	snprintf(socks, sizeof(socks), "%d", sock);
	snprintf(reps, sizeof(reps), "%d", g_report_fd);
	execl("/proc/self/exe", "agnocast-ktest", "--helper", "after_exec",
	      devs, socks, reps, (char *)NULL);
	FAIL("execl /proc/self/exe: %s", errname(errno));
}

HELPER(after_exec)
{
	struct agnocast_reclaim_args rcl;
	struct ag_pool pool;
	uint64_t addrs[2];
	int dev, sock;

	if (argc != 4)
		return 2;
	dev = atoi(argv[1]);
	sock = atoi(argv[2]);
	g_report_fd = atoi(argv[3]);
	/* Same pid, same open file, but a new mm: not joined any more. */
	memset(&rcl, 0, sizeof(rcl));
	rcl.addrs = p2u(addrs);
	rcl.addrs_cap = 2;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl), ESRCH);
	TELL(sock, "execd");
	WAIT_FOR(sock, "join");
	JOIN(dev, UNIT, 0, &pool);	/* a fresh join, the name free again */
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
	return 0;
}

TEST(exec_drops_the_registration)
{
	struct child c;
	pid_t pid;

	c = spawn(execer, NULL);
	RECV(c.sock, pid);
	CHECK_EQ(pid, c.pid);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 1, 0);
	TELL(c.sock, "exec");
	WAIT_FOR(c.sock, "execd");
	/* The process lives on (it still has the device open). */
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	CHECK(!shm_exists(c.pid));
	TELL(c.sock, "join");
	WAIT_FOR(c.sock, "joined");
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}
