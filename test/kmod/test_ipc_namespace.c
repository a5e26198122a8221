// SPDX-License-Identifier: Apache-2.0
/*
 * Topics are per IPC namespace: the same name in two namespaces is two
 * topics (own publishers, subscribers, sequence numbers); LIST_TOPICS,
 * TOPIC_INFO and the status file's topic lines show only the caller's. A
 * topic holds its namespace: one left by every task cannot be met by any
 * namespace created later (the old module keyed topics by a namespace
 * pointer it held no reference on, so a new namespace could land at the
 * freed address and meet the old topic). Pids in answers are those of the
 * caller's pid namespace (0 when not visible), and a pool is still mapped
 * by address.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
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

/* ---- a topic holds its IPC namespace ---------------------------------- */

#define NS_ROUNDS 2000
#define NS_PER_WORKER 100
#define NS_DEADLINE_MS 20000

/*
 * P: subscribes to /camera in a namespace of its own (N1), then leaves it
 * for another (N2): N1 has no task left, only P's topic in it.
 */
static void camera_subscriber(int sock, void *arg)
{
	char names[8][AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[4];
	struct ag_pool pool;
	struct ag_sub sub;
	struct status st;
	uint32_t nr;
	int dev;

	(void)arg;
	CHECK_OK(unshare(CLONE_NEWIPC));
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "/camera", 8, AGNOCAST_QOS_TRANSIENT_LOCAL);
	list_names(dev, names, &nr);
	CHECK_EQ(nr, 1);
	CHECK_OK(unshare(CLONE_NEWIPC));
	list_names(dev, names, &nr);
	CHECK_EQ(nr, 0);
	TELL(sock, "ready");

	/* The churn may outlast one safety timeout: the parent ticks. */
	for (;;) {
		char word[24];

		RECV(sock, word);
		if (!strcmp(word, "check"))
			break;
		CHECK(!strcmp(word, "tick"));
	}
	/* Nobody met our topic: nothing arrived. */
	CHECK_EQ(poll_now(sub.fd), 0);
	CHECK_ERR(receive_raw(dev, sub.id, e, 4, &nr), EAGAIN);
	STATUS_READ(&st);
	CHECK(st_topic(&st, "/camera") == NULL);
	CHECK_EQ(st.totals[1], 1);
	CHECK_EQ(st.totals[3], 1);
	status_free(&st);
	TELL(sock, "checked");
	WAIT_FOR(sock, "exit");
}

struct ns_round {
	uint32_t done;
	uint32_t pad;
	uint64_t deadline;
};

/*
 * Q: in fresh IPC namespaces, one after the other: each is empty, and a
 * publisher on /camera there meets no subscriber.
 */
static void namespace_churner(int sock, void *arg)
{
	char names[8][AGNOCAST_TOPIC_NAME_MAX];
	struct ns_round *r = arg;
	struct topic_info ti;
	struct ag_pool pool;
	int32_t pids[4];
	uint32_t nr, pub, i;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &pool);
	for (i = 0; i < NS_PER_WORKER && now_ms() < r->deadline; i++) {
		CHECK_OK(unshare(CLONE_NEWIPC));
		list_names(dev, names, &nr);
		if (nr)
			FAIL("namespace #%u: a fresh IPC namespace lists %u topic(s), the first \"%s\"",
			     r->done + i, nr, names[0]);
		pub = ADD_PUB_EX(dev, "/camera", 1, 0, pids, 4, &nr);
		if (nr)
			FAIL("namespace #%u: a new publisher on /camera met %u subscriber process(es), pid %d",
			     r->done + i, nr, pids[0]);
		CHECK_EQ(PUBLISH(dev, pub, pool.addr, 8), 1);
		TOPIC_INFO(dev, "/camera", &ti);
		CHECK_EQ(ti.a.nr_subs, 0);
		CHECK_EQ(ti.a.nr_pubs, 1);
		REMOVE_PUB(dev, pub);
	}
	SEND(sock, i);
}

TEST(topic_holds_its_ipc_namespace)
{
	char names[8][AGNOCAST_TOPIC_NAME_MAX];
	struct ns_round r = { 0 };
	struct child p, q;
	uint64_t t0 = now_ms();
	uint32_t n, nr;
	int dev = AG_OPEN();

	p = spawn(camera_subscriber, NULL);
	WAIT_FOR(p.sock, "ready");
	CHECK_STATUS_TOTALS(1, 1, 0, 1, 0, 0);
	r.deadline = t0 + NS_DEADLINE_MS;
	while (r.done < NS_ROUNDS && now_ms() < r.deadline) {
		q = spawn(namespace_churner, &r);
		RECV(q.sock, n);
		REAP_OK(q.pid);
		r.done += n;
		TELL(p.sock, "tick");
	}
	note("%u fresh IPC namespaces in %.1f s", r.done, (now_ms() - t0) / 1000.0);
	CHECK(r.done >= NS_PER_WORKER);
	TELL(p.sock, "check");
	WAIT_FOR(p.sock, "checked");
	/* Ours (the initial one) does not have it either; N1 still does. */
	list_names(dev, names, &nr);
	CHECK_EQ(nr, 0);
	CHECK_STATUS_TOTALS(1, 1, 0, 1, 0, 0);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}

/* ---- pids are those of the caller's pid namespace -------------------- */

struct pidns_hello {
	struct ag_pool pool;
	int32_t pid;
	uint32_t pub;
};

/* G: pid 1 of a new pid namespace; the publisher T is not visible. */
static void pidns_subscriber(int sock)
{
	struct agnocast_pool_info pubs[4];
	struct agnocast_map_pool_args mp;
	struct agnocast_list_processes_args lp;
	struct agnocast_process_info procs[4];
	struct agnocast_entry e[4];
	struct pidns_hello h;
	struct topic_info ti;
	struct ag_pool pool;
	struct ag_sub sub;
	struct status st;
	uint32_t nr;
	void *m;
	int dev;

	RECV(sock, h);
	CHECK_EQ(getpid(), 1);
	/* T's pool came down with fork: only the descriptor shall give it. */
	CHECK_OK(munmap(u2p(h.pool.addr), h.pool.max));
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB_EX(dev, "pidns/topic", 4, AGNOCAST_QOS_TRANSIENT_LOCAL,
			 pubs, 4, &nr);
	CHECK_EQ(nr, 1);
	CHECK_EQ(pubs[0].pid, 0);
	CHECK_EQ(pubs[0].addr, h.pool.addr);
	CHECK_EQ(pubs[0].size, h.pool.size);
	CHECK_EQ(pubs[0].max, h.pool.max);

	/* Its pid means nothing here; its address names it. */
	CHECK_ERR(map_pool_raw(dev, h.pid, NULL), ENOENT);
	memset(&mp, 0, sizeof(mp));
	mp.pool.addr = pubs[0].addr + 100;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &mp));
	CHECK_EQ(mp.pool.pid, 0);
	CHECK_EQ(mp.pool.addr, h.pool.addr);
	CHECK(mp.fd >= 0);
	m = mmap(u2p(mp.pool.addr), mp.pool.max, PROT_READ,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, mp.fd, 0);
	CHECK(m == u2p(mp.pool.addr));
	close(mp.fd);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 1);
	CHECK_EQ(e[0].pid, 0);
	CHECK_EQ(e[0].publisher_id, h.pub);
	CHECK_MSG(e[0].addr, h.pid, 77);

	TOPIC_INFO(dev, "pidns/topic", &ti);
	CHECK_EQ(ti.a.nr_pubs, 1);
	CHECK_EQ(ti.pubs[0].pid, 0);
	CHECK_EQ(ti.subs[0].pid, 1);
	memset(&lp, 0, sizeof(lp));
	lp.procs = p2u(procs);
	lp.procs_cap = 4;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
	CHECK_EQ(lp.nr_procs, 1);
	CHECK_EQ(procs[0].pool.pid, 1);
	STATUS_READ(&st);
	CHECK_EQ(st.totals[0], 2);
	CHECK_EQ(st_count(&st, "process", NULL), 1);
	CHECK(ST_PROC(&st, 1) != NULL);
	CHECK(st_find(&st, "publisher", "pid", 0) != NULL);
	CHECK(st_find(&st, "entry", "pid", 0) != NULL);
	status_free(&st);
	TELL(sock, "ready");
	WAIT_FOR(sock, "exit");
}

/* S: makes the pid namespace, forks G into it, and waits for it. */
static void pidns_parent(int sock, void *arg)
{
	pid_t g;
	int st;

	(void)arg;
	CHECK_OK(unshare(CLONE_NEWPID));
	fflush(NULL);
	g = fork();
	CHECK(g >= 0);
	if (g == 0) {
		pidns_subscriber(sock);
		_exit(0);
	}
	SEND(sock, g);
	CHECK_EQ(waitpid(g, &st, 0), g);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("the subscriber in the new pid namespace failed (status 0x%x)", st);
}

TEST(pids_are_those_of_the_callers_pid_namespace)
{
	struct pidns_hello h;
	struct topic_info ti;
	struct status st;
	struct child s;
	int32_t pids[4];
	uint32_t nr;
	pid_t g;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 0, &h.pool);
	h.pid = getpid();
	h.pub = ADD_PUB(dev, "pidns/topic", 4, AGNOCAST_QOS_TRANSIENT_LOCAL);
	write_msg(h.pool.addr, 77);
	CHECK_EQ(PUBLISH(dev, h.pub, h.pool.addr, sizeof(struct msg)), 1);
	s = spawn(pidns_parent, NULL);
	RECV(s.sock, g);
	SEND(s.sock, h);
	WAIT_FOR(s.sock, "ready");
	/* From here, G has its pid of our namespace. */
	TOPIC_INFO(dev, "pidns/topic", &ti);
	CHECK_EQ(ti.a.nr_subs, 1);
	CHECK_EQ(ti.subs[0].pid, g);
	ADD_PUB_EX(dev, "pidns/topic", 1, 0, pids, 4, &nr);
	CHECK_EQ(nr, 1);
	CHECK_EQ(pids[0], g);
	STATUS_READ(&st);
	CHECK_EQ(st_count(&st, "process", NULL), 2);
	CHECK_EQ(ST_U64(ST_PROC(&st, g), "subscribers"), 1);
	CHECK_EQ(ST_U64(ST_PROC(&st, getpid()), "mappers"), 1);
	status_free(&st);
	TELL(s.sock, "exit");
	REAP_OK(s.pid);
	CHECK_STATUS_TOTALS(1, 1, 2, 0, 1, 0);
}
