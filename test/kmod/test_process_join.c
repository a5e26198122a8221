// SPDX-License-Identifier: Apache-2.0
/*
 * ADD_PROCESS: version, ESRCH before joining, a fresh join and its status
 * line, joining twice (same thread, another thread, another open of the
 * device), argument errors, and a forked child being a process of its own.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

TEST(version_without_join)
{
	struct agnocast_version_args v;
	struct status st;
	char ver[64];
	int dev = AG_OPEN();

	memset(&v, 0xff, sizeof(v));
	CHECK_OK(ag_ioctl(dev, AGNOCAST_VERSION_CMD, &v));
	CHECK_EQ(v.abi, AGNOCAST_ABI_VERSION);
	snprintf(ver, sizeof(ver), "%u.%u.%u", v.major, v.minor, v.patch);
	STATUS_READ(&st);
	CHECK(!strcmp(st.version, ver));
	CHECK_EQ(st.abi, AGNOCAST_ABI_VERSION);
	/* Asking the version is not joining. */
	CHECK_TOTALS(&st, 0, 0, 0, 0, 0, 0);
	status_free(&st);
}

TEST(esrch_before_join)
{
	struct agnocast_attach_pool_args at = { 0 };
	struct agnocast_add_publisher_args pa;
	struct agnocast_add_subscriber_args sa;
	struct agnocast_remove_args rm = { .id = 1 };
	struct agnocast_publish_args pu;
	struct agnocast_receive_args rc;
	struct agnocast_take_args tk;
	struct agnocast_release_args rl = { .subscriber_id = 1, .seq = 1 };
	struct agnocast_reclaim_args rcl;
	struct agnocast_map_pool_args mp;
	struct agnocast_entry e[4];
	uint64_t addrs[4];
	int32_t pids[4];
	struct agnocast_pool_info pubs[4];
	char name[64];
	int dev = AG_OPEN(), shm;

	/* A correctly named, sized pool file: only "not joined" is wrong. */
	pool_name(name, sizeof(name), getpid());
	shm = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0444);
	CHECK(shm >= 0);
	CHECK_OK(ftruncate(shm, UNIT));
	at.fd = shm;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at), ESRCH);
	close(shm);
	CHECK_OK(shm_unlink(name));

	memset(&pa, 0, sizeof(pa));
	set_topic(pa.topic, "esrch");
	pa.qos.depth = 1;
	pa.sub_pids = p2u(pids);
	pa.sub_pids_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &pa), ESRCH);

	memset(&sa, 0, sizeof(sa));
	set_topic(sa.topic, "esrch");
	sa.qos.depth = 1;
	sa.pubs = p2u(pubs);
	sa.pubs_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &sa), ESRCH);

	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm), ESRCH);
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_REMOVE_SUBSCRIBER_CMD, &rm), ESRCH);

	memset(&pu, 0, sizeof(pu));
	pu.publisher_id = 1;
	pu.addr = AGNOCAST_POOL_BASE;
	pu.len = 8;
	pu.reclaimed = p2u(addrs);
	pu.reclaimed_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &pu), ESRCH);

	memset(&rc, 0, sizeof(rc));
	rc.subscriber_id = 1;
	rc.entries = p2u(e);
	rc.entries_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECEIVE_CMD, &rc), ESRCH);

	memset(&tk, 0, sizeof(tk));
	tk.subscriber_id = 1;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TAKE_CMD, &tk), ESRCH);
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RELEASE_CMD, &rl), ESRCH);

	memset(&rcl, 0, sizeof(rcl));
	rcl.addrs = p2u(addrs);
	rcl.addrs_cap = 4;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl), ESRCH);

	memset(&mp, 0, sizeof(mp));
	mp.pool.pid = getpid();
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &mp), ESRCH);
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &mp), ESRCH);

	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
}

static void topic_owner(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "introspect", 3, 0);
	TELL(sock, "ready");
	WAIT_FOR(sock, "exit");
}

/* LIST_TOPICS, TOPIC_INFO and LIST_PROCESSES need no joining. */
TEST(introspection_needs_no_join)
{
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_name names[2];
	struct agnocast_list_processes_args lp;
	struct agnocast_process_info procs[2];
	struct agnocast_topic_info_args tia;
	struct topic_info ti;
	struct child c;
	int dev;

	c = spawn(topic_owner, NULL);
	WAIT_FOR(c.sock, "ready");
	dev = AG_OPEN();
	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(names);
	lt.topics_cap = 2;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, 1);
	CHECK(!strcmp(names[0].name, "introspect"));
	TOPIC_INFO(dev, "introspect", &ti);
	CHECK_EQ(ti.a.nr_pubs, 1);
	CHECK_EQ(ti.pubs[0].pid, c.pid);
	CHECK_EQ(ti.pubs[0].qos.depth, 3);
	memset(&tia, 0, sizeof(tia));
	set_topic(tia.topic, "introspect/none");
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &tia), ENOENT);
	memset(&lp, 0, sizeof(lp));
	lp.procs = p2u(procs);
	lp.procs_cap = 2;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
	CHECK_EQ(lp.nr_procs, 1);
	CHECK_EQ(procs[0].pool.pid, c.pid);
	/* Asking did not join us. */
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

TEST(fresh_join_and_status_line)
{
	struct ag_pool pool;
	struct status st;
	const struct st_rec *p;
	int dev = AG_OPEN();

	/* Sizes are rounded up to whole units. */
	JOIN(dev, UNIT + 1, 3 * UNIT + 5, &pool);
	CHECK_EQ(pool.size, 2 * UNIT);
	CHECK_EQ(pool.max, 4 * UNIT);
	CHECK_EQ(pool.addr % AGNOCAST_POOL_ALIGN, 0);
	CHECK(pool.addr >= AGNOCAST_POOL_BASE);
	CHECK(pool.addr + pool.max <= AGNOCAST_POOL_LIMIT);

	STATUS_READ(&st);
	CHECK_TOTALS(&st, 1, 0, 0, 0, 0, 0);
	p = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(p, "addr"), pool.addr);
	CHECK_EQ(ST_U64(p, "size"), pool.size);
	CHECK_EQ(ST_U64(p, "max"), pool.max);
	CHECK(st_str(p, "state") && !strcmp(st_str(p, "state"), "live"));
	CHECK_EQ(ST_U64(p, "attached"), 1);
	CHECK_EQ(ST_U64(p, "publishers"), 0);
	CHECK_EQ(ST_U64(p, "subscribers"), 0);
	CHECK_EQ(ST_U64(p, "mappers"), 0);
	CHECK_EQ(ST_U64(p, "reclaimable"), 0);
	CHECK_EQ(st_count(&st, "process", NULL), 1);
	status_free(&st);
}

static void join_max_zero(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)sock;
	(void)arg;
	/* pool_max 0 means "same as pool_size" (after rounding). */
	JOIN(dev, 5 * UNIT - 7, 0, &pool);
	CHECK_EQ(pool.size, 5 * UNIT);
	CHECK_EQ(pool.max, 5 * UNIT);
}

static void join_exact_units(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)sock;
	(void)arg;
	JOIN(dev, UNIT, UNIT, &pool);
	CHECK_EQ(pool.size, UNIT);
	CHECK_EQ(pool.max, UNIT);
}

static void join_one_byte(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)sock;
	(void)arg;
	JOIN(dev, 1, 1, &pool);
	CHECK_EQ(pool.size, UNIT);
	CHECK_EQ(pool.max, UNIT);
}

TEST(size_rounding)
{
	struct child c;

	c = spawn(join_max_zero, NULL);
	REAP_OK(c.pid);
	c = spawn(join_exact_units, NULL);
	REAP_OK(c.pid);
	c = spawn(join_one_byte, NULL);
	REAP_OK(c.pid);
}

TEST(join_twice_returns_existing)
{
	struct agnocast_add_process_args a;
	struct ag_pool pool;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 2 * UNIT, &pool);
	memset(&a, 0, sizeof(a));
	a.pool_size = 7 * UNIT;	/* ignored */
	a.pool_max = 9 * UNIT;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a));
	CHECK(a.flags & AGNOCAST_JOIN_EXISTING);
	CHECK_EQ(a.pool_addr, pool.addr);
	CHECK_EQ(a.pool_size, pool.size);
	CHECK_EQ(a.pool_max, pool.max);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

struct thread_join {
	int dev;
	struct agnocast_add_process_args a;
	int rc, err;
};

static void *thread_add_process(void *p)
{
	struct thread_join *t = p;

	t->rc = ag_ioctl(t->dev, AGNOCAST_ADD_PROCESS_CMD, &t->a);
	t->err = errno;
	return NULL;
}

TEST(join_from_second_thread_and_second_open)
{
	struct thread_join t;
	struct ag_pool pool;
	pthread_t th;
	int dev = AG_OPEN(), dev2;

	JOIN(dev, UNIT, 0, &pool);

	memset(&t, 0, sizeof(t));
	t.dev = dev;
	t.a.pool_size = 3 * UNIT;
	CHECK_OK(pthread_create(&th, NULL, thread_add_process, &t));
	CHECK_OK(pthread_join(th, NULL));
	CHECK_EQ(t.rc, 0);
	CHECK(t.a.flags & AGNOCAST_JOIN_EXISTING);
	CHECK_EQ(t.a.pool_addr, pool.addr);
	CHECK_EQ(t.a.pool_size, pool.size);
	CHECK_EQ(t.a.pool_max, pool.max);

	/* A second open file of the same process: still the same process. */
	dev2 = AG_OPEN();
	memset(&t, 0, sizeof(t));
	t.dev = dev2;
	t.a.pool_size = 3 * UNIT;
	CHECK_OK(pthread_create(&th, NULL, thread_add_process, &t));
	CHECK_OK(pthread_join(th, NULL));
	CHECK_EQ(t.rc, 0);
	CHECK(t.a.flags & AGNOCAST_JOIN_EXISTING);
	CHECK_EQ(t.a.pool_addr, pool.addr);
	close(dev2);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

static void *thread_join_process(void *p)
{
	struct ag_pool *pool = p;

	JOIN(AG_OPEN(), UNIT, 0, pool);
	return NULL;
}

TEST(thread_joins_then_main_thread_gets_existing)
{
	struct agnocast_add_process_args a;
	struct ag_pool pool;
	pthread_t th;
	int dev = AG_OPEN();

	CHECK_OK(pthread_create(&th, NULL, thread_join_process, &pool));
	CHECK_OK(pthread_join(th, NULL));
	memset(&a, 0, sizeof(a));
	a.pool_size = UNIT;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a));
	CHECK(a.flags & AGNOCAST_JOIN_EXISTING);
	CHECK_EQ(a.pool_addr, pool.addr);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

static int try_join(int dev, uint64_t size, uint64_t max, uint32_t reserved)
{
	struct agnocast_add_process_args a;

	memset(&a, 0, sizeof(a));
	a.pool_size = size;
	a.pool_max = max;
	a.reserved = reserved;
	return ag_ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a);
}

TEST(join_argument_errors)
{
	int dev = AG_OPEN();

	CHECK_ERR(try_join(dev, 0, 0, 0), EINVAL);
	CHECK_ERR(try_join(dev, 0, UNIT, 0), EINVAL);
	CHECK_ERR(try_join(dev, 3 * UNIT, 2 * UNIT, 0), EINVAL);
	CHECK_ERR(try_join(dev, AGNOCAST_POOL_SIZE_MAX + 1, 0, 0), E2BIG);
	CHECK_ERR(try_join(dev, ~0ULL, 0, 0), E2BIG);
	CHECK_ERR(try_join(dev, UNIT, AGNOCAST_POOL_SIZE_MAX + 1, 0), E2BIG);
	CHECK_ERR(try_join(dev, UNIT, ~0ULL, 0), E2BIG);
	CHECK_ERR(try_join(dev, UNIT, 0, 1), EINVAL);
	CHECK_ERR(try_join(dev, UNIT, 0, 0x80000000u), EINVAL);
	/* None of these joined. */
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	/* "out" fields are ignored on input: junk flags and address. */
	{
		struct agnocast_add_process_args a;

		memset(&a, 0, sizeof(a));
		a.pool_size = UNIT;
		a.pool_addr = 0x1234;
		a.flags = ~0u;
		CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a));
		CHECK_EQ(a.flags, 0);
		CHECK_EQ(a.pool_addr % AGNOCAST_POOL_ALIGN, 0);
		CHECK(a.pool_addr >= AGNOCAST_POOL_BASE);
	}
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

struct fork_ctx {
	int dev;
	struct ag_pool parent;
	uint32_t parent_pub;
};

static void forked_child(int sock, void *arg)
{
	struct fork_ctx *c = arg;
	struct agnocast_remove_args rm = { .id = c->parent_pub };
	uint64_t addrs[4];
	struct agnocast_reclaim_args rcl = { .addrs = p2u(addrs), .addrs_cap = 4 };
	struct agnocast_add_process_args a;

	(void)sock;
	/* The inherited fd does not make the child a joined process. */
	CHECK_ERR(ag_ioctl(c->dev, AGNOCAST_RECLAIM_CMD, &rcl), ESRCH);
	CHECK_ERR(ag_ioctl(c->dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &rm), ESRCH);
	/* The parent's pool is mapped here by inheritance, but not ours: unmap. */
	CHECK_OK(munmap(u2p(c->parent.addr), c->parent.max));
	memset(&a, 0, sizeof(a));
	a.pool_size = UNIT;
	CHECK_OK(ag_ioctl(c->dev, AGNOCAST_ADD_PROCESS_CMD, &a));
	CHECK_EQ(a.flags, 0);
	CHECK(a.pool_addr != c->parent.addr);
	CHECK(a.pool_addr + a.pool_max <= c->parent.addr ||
	      c->parent.addr + c->parent.max <= a.pool_addr);
}

TEST(forked_child_is_another_process)
{
	struct fork_ctx c;
	struct child ch;

	c.dev = AG_OPEN();
	JOIN(c.dev, UNIT, 0, &c.parent);
	c.parent_pub = ADD_PUB(c.dev, "forked", 1, 0);
	ch = spawn(forked_child, &c);
	REAP_OK(ch.pid);
	/* The child's failed remove did not touch the parent's publisher. */
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);
}

TEST(unknown_ioctl_enotty)
{
	struct ag_pool pool;
	struct termios tio;
	char buf[512];
	int dev = AG_OPEN();
	int pass;

	for (pass = 0; pass < 2; pass++) {
		memset(buf, 0, sizeof(buf));
		CHECK_ERR(ioctl(dev, _IO(AGNOCAST_IOC_MAGIC, 0x7f)), ENOTTY);
		CHECK_ERR(ioctl(dev, _IOWR(AGNOCAST_IOC_MAGIC, 17, uint64_t), buf), ENOTTY);
		/* Right number, wrong size: a different command. */
		CHECK_ERR(ioctl(dev, _IOWR(AGNOCAST_IOC_MAGIC, 1, uint64_t), buf), ENOTTY);
		CHECK_ERR(ioctl(dev, _IOR('x', 0, struct agnocast_version_args), buf), ENOTTY);
		CHECK_ERR(ioctl(dev, TCGETS, &tio), ENOTTY);
		if (pass == 0)
			JOIN(dev, UNIT, 0, &pool);
	}
}
