// SPDX-License-Identifier: Apache-2.0
/*
 * Bounds: each module parameter's limit, once reached, gives its documented
 * errno and nothing of the failed call is left; a well-behaved client that
 * gives something back (removes an endpoint, reclaims, releases, unmaps)
 * gets room again; a lower value applies to new requests only.
 *   max_endpoints_per_process  ADD_PUBLISHER / ADD_SUBSCRIBER: EDQUOT
 *   max_entries_per_process    PUBLISH: EDQUOT (and the entries' slab cache
 *                              is back to no active object once the
 *                              processes are gone)
 *   max_mappings_per_process   MAP_POOL of another pool: EDQUOT
 *   AGNOCAST_MAP_COUNT_MAX     MAP_POOL of one pool: EDQUOT
 * (AGNOCAST_HOLD_MAX, ENOBUFS, is test_reclaim.c's enobufs_at_hold_max.)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "params.h"
#include "status.h"

/* ---- helpers ------------------------------------------------------- */

static int add_pub_try(int dev, const char *topic)
{
	struct agnocast_add_publisher_args a;
	int32_t pids[4];

	memset(&a, 0, sizeof(a));
	set_topic(a.topic, topic);
	a.qos.depth = 1;
	a.sub_pids = p2u(pids);
	a.sub_pids_cap = 4;
	return ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &a);
}

static int add_sub_try(int dev, const char *topic)
{
	struct agnocast_add_subscriber_args a;
	struct agnocast_pool_info pubs[4];

	memset(&a, 0, sizeof(a));
	set_topic(a.topic, topic);
	a.qos.depth = 1;
	a.pubs = p2u(pubs);
	a.pubs_cap = 4;
	a.fd = -1;
	if (ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &a))
		return -1;
	/* Only reached when the test is about to fail: keep it tidy. */
	close(a.fd);
	return 0;
}

/* PUBLISH with reclaimed_cap 0: hands nothing back. 0 or -1 (errno). */
static int publish_keep(int dev, uint32_t pub, uint64_t addr, uint64_t *seq)
{
	struct agnocast_publish_args a;
	int r;

	memset(&a, 0, sizeof(a));
	a.publisher_id = pub;
	a.addr = addr;
	a.len = 0;
	r = ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &a);
	if (r == 0) {
		CHECK_EQ(a.nr_reclaimed, 0);
		*seq = a.seq;
	}
	return r;
}

static uint64_t proc_field(pid_t pid, const char *key)
{
	struct status st;
	uint64_t v;

	STATUS_READ(&st);
	v = ST_U64(ST_PROC(&st, pid), key);
	status_free(&st);
	return v;
}

/*
 * Active objects of the entries' slab cache "agnocast_msg", after asking
 * the allocator to shrink it (SLUB counts the free objects of per-cpu
 * slabs as active until they are flushed). -1 when the cache has no line
 * of its own (merged with another cache by the kernel).
 */
static long msg_slab_active(void)
{
	char line[512];
	long active = -1;
	FILE *f;
	int fd;

	fd = open("/sys/kernel/slab/agnocast_msg/shrink", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			FAIL("shrink agnocast_msg: %s", errname(errno));
		close(fd);
	}
	f = fopen("/proc/slabinfo", "re");
	if (!f)
		FAIL("/proc/slabinfo: %s", errname(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "agnocast_msg ", 13) &&
		    sscanf(line + 13, "%ld", &active) == 1)
			break;
	fclose(f);
	return active;
}

/*
 * Objects KFENCE serves right now, from any cache (0 without KFENCE): they
 * live in KFENCE's own pool, outside the slabs /proc/slabinfo counts, so a
 * kernel with KFENCE (the debug guest) shows up to this many fewer.
 */
static long kfence_allocated(void)
{
	char line[128];
	long n = 0;
	FILE *f = fopen("/sys/kernel/debug/kfence/stats", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "currently allocated: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* ---- max_endpoints_per_process ------------------------------------- */

static void endpoints_elsewhere(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	/* The bound is per process: another one has its own. */
	ADD_PUB(dev, "bounds/ep/other", 1, 0);
	ADD_PUB(dev, "bounds/ep/other2", 1, 0);
	close(ADD_SUB(dev, "bounds/ep/other", 1, 0).fd);
	TELL(sock, "done");
}

TEST(endpoints_per_process_edquot)
{
	struct ag_pool pool;
	struct ag_sub s1;
	struct child c;
	uint32_t p1, p2;
	int dev = AG_OPEN(), free_fd;

	PARAM_SET("max_endpoints_per_process", 4);
	JOIN(dev, UNIT, 0, &pool);
	p1 = ADD_PUB(dev, "bounds/ep/a", 1, 0);
	p2 = ADD_PUB(dev, "bounds/ep/b", 1, 0);
	s1 = ADD_SUB(dev, "bounds/ep/a", 1, 0);
	ADD_SUB(dev, "bounds/ep/c", 1, 0);
	CHECK_STATUS_TOTALS(1, 3, 2, 2, 0, 0);

	/* Publishers plus subscribers: 4 of 4. */
	free_fd = lowest_free_fd();
	CHECK_ERR(add_pub_try(dev, "bounds/ep/a"), EDQUOT);
	CHECK_ERR(add_pub_try(dev, "bounds/ep/new"), EDQUOT);
	CHECK_ERR(add_sub_try(dev, "bounds/ep/a"), EDQUOT);
	CHECK_ERR(add_sub_try(dev, "bounds/ep/new"), EDQUOT);
	/* Nothing of the refused calls: no topic, no endpoint, no fd. */
	CHECK_EQ(lowest_free_fd(), free_fd);
	CHECK_STATUS_TOTALS(1, 3, 2, 2, 0, 0);
	CHECK_EQ(proc_field(getpid(), "publishers"), 2);
	CHECK_EQ(proc_field(getpid(), "subscribers"), 2);

	c = spawn(endpoints_elsewhere, NULL);
	WAIT_FOR(c.sock, "done");
	REAP_OK(c.pid);

	/* Removing a publisher makes room for a subscriber ... */
	REMOVE_PUB(dev, p2);
	ADD_SUB(dev, "bounds/ep/b", 1, 0);
	CHECK_ERR(add_sub_try(dev, "bounds/ep/b"), EDQUOT);
	/* ... closing a subscriber's fd for a publisher. */
	close(s1.fd);
	p2 = ADD_PUB(dev, "bounds/ep/d", 1, 0);
	CHECK_ERR(add_pub_try(dev, "bounds/ep/e"), EDQUOT);
	CHECK_STATUS_TOTALS(1, 4, 2, 2, 0, 0);

	/* A lower bound keeps what exists and refuses new ones until below. */
	PARAM_SET("max_endpoints_per_process", 2);
	CHECK_STATUS_TOTALS(1, 4, 2, 2, 0, 0);
	REMOVE_PUB(dev, p1);
	CHECK_ERR(add_pub_try(dev, "bounds/ep/a"), EDQUOT);
	REMOVE_PUB(dev, p2);
	CHECK_ERR(add_sub_try(dev, "bounds/ep/a"), EDQUOT);
	CHECK_STATUS_TOTALS(1, 2, 0, 2, 0, 0);
	PARAM_SET("max_endpoints_per_process", 3);
	ADD_PUB(dev, "bounds/ep/a", 1, 0);
	CHECK_ERR(add_pub_try(dev, "bounds/ep/a"), EDQUOT);
	CHECK_STATUS_TOTALS(1, 3, 1, 2, 0, 0);
}

/* ---- max_entries_per_process ---------------------------------------- */

#define ENTRIES_BOUND 64

static void entries_filler(int sock, void *arg)
{
	uint64_t addrs[2 * ENTRIES_BOUND], seq = 0, s;
	struct agnocast_entry e[4];
	struct topic_info ti;
	struct ag_pool pool;
	struct ag_sub sub;
	uint32_t pub, n, i;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "bounds/entries", 1, 0);

	/*
	 * Depth 1, nothing handed back: every entry stays tracked (one
	 * retained, the others reclaimable) until the bound.
	 */
	for (n = 0; n < 2 * ENTRIES_BOUND; n++) {
		if (publish_keep(dev, pub, pool.addr, &s))
			break;
		CHECK_EQ(s, ++seq);
	}
	CHECK_EQ(n, ENTRIES_BOUND);
	CHECK_EQ(errno, EDQUOT);
	CHECK_ERR(publish_keep(dev, pub, pool.addr, &s), EDQUOT);
	/* With room to hand addresses back, but nothing was reclaimed yet. */
	{
		struct agnocast_publish_args a;

		memset(&a, 0, sizeof(a));
		a.publisher_id = pub;
		a.addr = pool.addr;
		a.reclaimed = p2u(addrs);
		a.reclaimed_cap = 4;
		CHECK_ERR(ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &a), EDQUOT);
	}
	TOPIC_INFO(dev, "bounds/entries", &ti);
	CHECK_EQ(ti.a.nr_entries, 1);
	CHECK_EQ(ti.a.last_seq, ENTRIES_BOUND);
	CHECK_EQ(proc_field(getpid(), "reclaimable"), ENTRIES_BOUND - 1);
	CHECK_STATUS_TOTALS(1, 1, 1, 0, ENTRIES_BOUND, 0);
	TELL(sock, "full");
	WAIT_FOR(sock, "reclaim");

	/* RECLAIM hands them back (the retained one stays): room again. */
	n = RECLAIM(dev, addrs, 2 * ENTRIES_BOUND);
	CHECK_EQ(n, ENTRIES_BOUND - 1);
	for (i = 0; i < n; i++)
		CHECK_EQ(addrs[i], pool.addr);
	CHECK_EQ(RECLAIM(dev, addrs, 4), 0);
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 1, 0);

	/*
	 * Entries a subscriber holds count too: fill up again with a
	 * subscriber holding everything it receives.
	 */
	sub = ADD_SUB(dev, "bounds/entries", ENTRIES_BOUND, 0);
	for (n = 0; n < 2 * ENTRIES_BOUND; n++) {
		if (publish_keep(dev, pub, pool.addr, &s))
			break;
		CHECK_EQ(s, ++seq);	/* the refused ones took no seq */
		CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
		CHECK_EQ(e[0].seq, seq);
	}
	/* Entry 64 (retained when the subscriber came) plus 63 new ones. */
	CHECK_EQ(n, ENTRIES_BOUND - 1);
	CHECK_EQ(errno, EDQUOT);
	CHECK_EQ(RECLAIM(dev, addrs, 2 * ENTRIES_BOUND), 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 0), ++seq);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_ERR(publish_keep(dev, pub, pool.addr, &s), EDQUOT);
	/* All held: nothing to reclaim, still full. */
	CHECK_EQ(RECLAIM(dev, addrs, 2 * ENTRIES_BOUND), 0);
	CHECK_ERR(publish_keep(dev, pub, pool.addr, &s), EDQUOT);
	TOPIC_INFO(dev, "bounds/entries", &ti);
	CHECK_EQ(ti.subs[0].count, ENTRIES_BOUND);
	/* Released, they are reclaimable (but the retained newest). */
	for (s = ENTRIES_BOUND + 1; s <= seq; s++)
		RELEASE(dev, sub.id, s);
	CHECK_ERR(publish_keep(dev, pub, pool.addr, &s), EDQUOT);
	CHECK_EQ(RECLAIM(dev, addrs, 2 * ENTRIES_BOUND), ENTRIES_BOUND - 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 0), ++seq);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	RELEASE(dev, sub.id, seq);

	/*
	 * A client that hands addresses back on every PUBLISH and releases
	 * what it receives never meets the bound.
	 */
	for (i = 0; i < 3 * ENTRIES_BOUND; i++) {
		CHECK_EQ(PUBLISH(dev, pub, pool.addr, 0), ++seq);
		CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
		RELEASE(dev, sub.id, seq);
	}

	/* End with entries of every kind: retained, held, reclaimable. */
	for (i = 0; i < 8; i++) {
		CHECK_OK(publish_keep(dev, pub, pool.addr, &s));
		CHECK_EQ(s, ++seq);
		CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	}
	RELEASE(dev, sub.id, seq - 7);
	RELEASE(dev, sub.id, seq - 6);
	TELL(sock, "busy");
	WAIT_FOR(sock, "exit");
}

TEST(entries_per_process_edquot_and_memory_back)
{
	struct status st;
	struct child c;
	long before, during, after, kfence;

	/* The module is empty between tests: no entry is allocated. */
	before = msg_slab_active();
	if (before < 0)
		note("agnocast_msg has no line of its own in /proc/slabinfo (merged cache): slab checks left out");
	else
		CHECK_EQ(before, 0);	/* the shrink flushed KASAN's quarantine too */
	PARAM_SET("max_entries_per_process", ENTRIES_BOUND);
	c = spawn(entries_filler, NULL);
	WAIT_FOR(c.sock, "full");
	during = msg_slab_active();
	kfence = kfence_allocated();
	if (before >= 0 && during + kfence < ENTRIES_BOUND)
		FAIL("agnocast_msg has %ld active objects (and KFENCE serves %ld) while %d entries live",
		     during, kfence, ENTRIES_BOUND);
	TELL(c.sock, "reclaim");
	WAIT_FOR(c.sock, "busy");
	STATUS_READ(&st);
	CHECK(st.totals[4] > 0);
	status_free(&st);
	KILL_REAP(c.pid);
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	after = msg_slab_active();
	note("agnocast_msg active objects: %ld before, %ld at the bound, %ld after",
	     before, during, after);
	if (before >= 0)
		CHECK_EQ(after, 0);
}

/* ---- max_mappings_per_process ---------------------------------------- */

static void owner(int sock, void *arg)
{
	struct ag_pool pool;
	char word[24];
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	TELL(sock, "joined");
	/* No safety timeout: the MAP_POOL loop takes long on slow kernels. */
	recv_at(__FILE__, __LINE__, sock, word, sizeof(word), -1);
	CHECK(!strcmp(word, "exit"));
}

static uint64_t total_mappings(void)
{
	struct status st;
	uint64_t n;

	STATUS_READ(&st);
	n = st.totals[5];
	status_free(&st);
	return n;
}

TEST(mappings_per_process_edquot)
{
	enum { N = 5 };
	struct agnocast_pool_info info;
	struct ag_pool pool;
	struct child o[N];
	int dev = AG_OPEN(), i, free_fd, fd;

	for (i = 0; i < N; i++) {
		o[i] = spawn(owner, NULL);
		WAIT_FOR(o[i].sock, "joined");
	}
	PARAM_SET("max_mappings_per_process", 3);
	JOIN(dev, UNIT, 0, &pool);
	for (i = 0; i < 3; i++)
		CHECK_OK(map_pool_raw(dev, o[i].pid, &info));
	CHECK_EQ(total_mappings(), 3);

	free_fd = lowest_free_fd();
	CHECK_ERR(map_pool_fd(dev, o[3].pid, &info, &fd), EDQUOT);
	CHECK_EQ(fd, -1);
	CHECK_EQ(lowest_free_fd(), free_fd);
	CHECK_EQ(total_mappings(), 3);
	CHECK_EQ(proc_field(o[3].pid, "mappers"), 0);
	/* Pools already declared and one's own pool are no new declaration. */
	CHECK_OK(map_pool_raw(dev, o[0].pid, &info));
	CHECK_OK(map_pool_fd(dev, getpid(), &info, &fd));
	CHECK_EQ(fd, -1);
	CHECK_EQ(total_mappings(), 3);
	CHECK_EQ(proc_field(o[0].pid, "mappers"), 1);

	/* One UNMAP_POOL that ends a declaration makes room. */
	CHECK_OK(unmap_pool_raw(dev, o[1].pid));
	CHECK_OK(map_pool_raw(dev, o[3].pid, &info));
	CHECK_EQ(info.pid, o[3].pid);
	CHECK_ERR(map_pool_raw(dev, o[1].pid, &info), EDQUOT);
	/* o[0] is declared twice: one UNMAP is not enough. */
	CHECK_OK(unmap_pool_raw(dev, o[0].pid));
	CHECK_ERR(map_pool_raw(dev, o[4].pid, &info), EDQUOT);

	/* An owner gone: its pool is still declared until unmapped. */
	TELL(o[2].sock, "exit");
	REAP_OK(o[2].pid);
	CHECK_EQ(total_mappings(), 3);
	CHECK_ERR(map_pool_raw(dev, o[4].pid, &info), EDQUOT);
	CHECK_OK(unmap_pool_raw(dev, o[2].pid));
	CHECK_OK(map_pool_raw(dev, o[4].pid, &info));
	CHECK_EQ(total_mappings(), 3);

	/* A lower bound: existing declarations stay, new ones wait. */
	PARAM_SET("max_mappings_per_process", 1);
	CHECK_OK(unmap_pool_raw(dev, o[0].pid));
	CHECK_OK(unmap_pool_raw(dev, o[3].pid));
	CHECK_EQ(total_mappings(), 1);
	CHECK_ERR(map_pool_raw(dev, o[1].pid, &info), EDQUOT);
	CHECK_OK(unmap_pool_raw(dev, o[4].pid));
	CHECK_OK(map_pool_raw(dev, o[1].pid, &info));
	CHECK_EQ(total_mappings(), 1);
	for (i = 0; i < N; i++) {
		if (i == 2)
			continue;
		TELL(o[i].sock, "exit");
		REAP_OK(o[i].pid);
	}
	/* Our declaration of o[1], whose owner is gone, goes with us. */
	CHECK_EQ(total_mappings(), 1);
}

/* ---- AGNOCAST_MAP_COUNT_MAX ------------------------------------------ */

struct map_loop {
	pthread_t th;
	pthread_barrier_t *start;
	int dev;
	pid_t owner;
	uint32_t limit;		/* stop after this many; 0: until refused */
	int free_fd;		/* each fd must be it or the next one */
	uint32_t ok;
	int err, fd;
};

/*
 * MAP_POOL (closing each fd) until refused or m->limit passed. Two loops
 * run at once, each closing its fd before the next call: every fd is one
 * of the two lowest free ones, or one leaked.
 */
static void *map_loop(void *p)
{
	struct map_loop *m = p;
	int fd;

	pthread_barrier_wait(m->start);
	while (!m->limit || m->ok < m->limit) {
		if (map_pool_fd(m->dev, m->owner, NULL, &fd)) {
			m->err = errno;
			m->fd = fd;
			return NULL;
		}
		if (fd != m->free_fd && fd != m->free_fd + 1) {
			m->fd = fd;
			close(fd);
			return NULL;
		}
		m->ok++;
		close(fd);
	}
	return NULL;
}

/* Two threads of dev's process MAP_POOL owner's pool, each limit times or until refused. */
static void map_twice(struct map_loop m[2], int dev, pid_t owner, uint32_t limit, int free_fd)
{
	pthread_barrier_t start;
	int i;

	CHECK_OK(pthread_barrier_init(&start, NULL, 2));
	for (i = 0; i < 2; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].start = &start;
		m[i].dev = dev;
		m[i].owner = owner;
		m[i].limit = limit;
		m[i].free_fd = free_fd;
		m[i].fd = -1;
		CHECK_OK(pthread_create(&m[i].th, NULL, map_loop, &m[i]));
	}
	for (i = 0; i < 2; i++)
		CHECK_OK(pthread_join(m[i].th, NULL));
	CHECK_OK(pthread_barrier_destroy(&start));
}

TEST(map_count_of_one_pool_edquot)
{
	enum { RACED = 256 };	/* the last ones, raced to the bound */
	const uint32_t half = (AGNOCAST_MAP_COUNT_MAX - RACED) / 2;
	struct agnocast_pool_info info;
	struct map_loop m[2];
	struct ag_pool pool;
	struct child o;
	uint64_t t0;
	uint32_t n;
	int dev = AG_OPEN(), free_fd, nfds, fd, i;

	o = spawn(owner, NULL);
	WAIT_FOR(o.sock, "joined");
	JOIN(dev, UNIT, 0, &pool);
	free_fd = lowest_free_fd();
	nfds = nr_open_fds();
	t0 = now_ms();
	/* Up to RACED short of the bound, by two threads (the two vCPUs). */
	map_twice(m, dev, o.pid, half, free_fd);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(m[i].err, 0);
		CHECK_EQ(m[i].fd, -1);
		CHECK_EQ(m[i].ok, half);
	}
	n = 2 * half;
	while (n < AGNOCAST_MAP_COUNT_MAX - RACED) {
		if (map_pool_fd(dev, o.pid, NULL, &fd))
			FAIL("MAP_POOL #%u: %s", n + 1, errname(errno));
		close(fd);
		n++;
	}
	CHECK_EQ(lowest_free_fd(), free_fd);
	/* Two threads of the mapper race to the bound: exactly it passes. */
	map_twice(m, dev, o.pid, 0, free_fd);
	note("%u + %u + %u MAP_POOLs in %.1f s", n, m[0].ok, m[1].ok,
	     (now_ms() - t0) / 1000.0);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(m[i].err, EDQUOT);
		CHECK_EQ(m[i].fd, -1);
	}
	CHECK_EQ(m[0].ok + m[1].ok, RACED);
	CHECK_ERR(map_pool_fd(dev, o.pid, &info, &fd), EDQUOT);
	CHECK_EQ(fd, -1);
	CHECK_EQ(lowest_free_fd(), free_fd);
	CHECK_EQ(nr_open_fds(), nfds);
	/* One declaration (one mapper, one pool), counted 65535 times. */
	CHECK_EQ(total_mappings(), 1);
	CHECK_EQ(proc_field(o.pid, "mappers"), 1);

	CHECK_OK(unmap_pool_raw(dev, o.pid));
	CHECK_OK(map_pool_raw(dev, o.pid, &info));
	CHECK_ERR(map_pool_raw(dev, o.pid, &info), EDQUOT);
	CHECK_OK(unmap_pool_raw(dev, o.pid));
	CHECK_OK(unmap_pool_raw(dev, o.pid));
	CHECK_EQ(total_mappings(), 1);

	/* The owner's end does not undo them; ours drops the rest. */
	TELL(o.sock, "exit");
	REAP_OK(o.pid);
	CHECK_EQ(total_mappings(), 1);
	CHECK_OK(unmap_pool_raw(dev, o.pid));
	CHECK_EQ(total_mappings(), 1);
}
