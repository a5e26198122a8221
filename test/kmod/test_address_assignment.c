// SPDX-License-Identifier: Apache-2.0
/*
 * Pool address ranges: unique, aligned, inside [BASE, LIMIT) and
 * non-overlapping among live processes; ENOSPC when the space is full,
 * EDQUOT when one user's budget is; a dead process's /agnocast@<pid> is
 * unlinked at once, and its range is handed out again once no process of
 * its user maps it (held entries and other users' mappings do not keep it).
 *
 * Some checks rely on the allocator being first-fit from the lowest address
 * (the module's documented choice, not the header's promise); they say so.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "params.h"
#include "status.h"

struct join_req {
	uint64_t size, max;
};

static void joiner(int sock, void *arg)
{
	struct join_req *r = arg;
	struct ag_pool pool;
	int dev = AG_OPEN();

	JOIN(dev, r->size, r->max, &pool);
	SEND(sock, pool);
	WAIT_FOR(sock, "exit");
}

static int overlaps(const struct ag_pool *a, const struct ag_pool *b)
{
	return a->addr < b->addr + b->max && b->addr < a->addr + a->max;
}

static void check_range(const struct ag_pool *p)
{
	CHECK_EQ(p->addr % AGNOCAST_POOL_ALIGN, 0);
	CHECK(p->addr >= AGNOCAST_POOL_BASE);
	CHECK(p->addr + p->max <= AGNOCAST_POOL_LIMIT);
	CHECK_EQ(p->size % UNIT, 0);
	CHECK_EQ(p->max % UNIT, 0);
	CHECK(p->size <= p->max);
}

TEST(unique_aligned_ranges)
{
	static struct join_req reqs[] = {
		{ 1, 0 },
		{ UNIT, 0 },
		{ UNIT + 1, 0 },
		{ 25 * UNIT, 0 },		/* more than one 2 MiB slot */
		{ 3 * UNIT, 30 * UNIT },	/* room to grow */
		{ 2 * UNIT - 1, 2 * UNIT + 1 },
	};
	enum { N = sizeof(reqs) / sizeof(reqs[0]) };
	struct child c[N];
	struct ag_pool p[N];
	struct status st;
	const struct st_rec *r;
	int i, j;

	for (i = 0; i < N; i++) {
		c[i] = spawn(joiner, &reqs[i]);
		RECV(c[i].sock, p[i]);
	}
	/* All alive at once. */
	STATUS_READ(&st);
	CHECK_TOTALS(&st, N, 0, 0, 0, 0, 0);
	for (i = 0; i < N; i++) {
		uint64_t want_max = reqs[i].max ? reqs[i].max : reqs[i].size;

		check_range(&p[i]);
		CHECK_EQ(p[i].size, round_up(reqs[i].size, UNIT));
		CHECK_EQ(p[i].max, round_up(want_max, UNIT));
		for (j = 0; j < i; j++)
			if (overlaps(&p[i], &p[j]))
				FAIL("pool %d [0x%llx, +%llu) overlaps pool %d [0x%llx, +%llu)",
				     i, (unsigned long long)p[i].addr,
				     (unsigned long long)p[i].max, j,
				     (unsigned long long)p[j].addr,
				     (unsigned long long)p[j].max);
		r = ST_PROC(&st, c[i].pid);
		CHECK_EQ(ST_U64(r, "addr"), p[i].addr);
		CHECK_EQ(ST_U64(r, "size"), p[i].size);
		CHECK_EQ(ST_U64(r, "max"), p[i].max);
	}
	status_free(&st);
	for (i = 0; i < N; i++) {
		TELL(c[i].sock, "exit");
		REAP_OK(c[i].pid);
	}
}

/* The largest whole number of units not above AGNOCAST_POOL_SIZE_MAX. */
#define BIG (AGNOCAST_POOL_SIZE_MAX / UNIT * UNIT)

struct big_res {
	int rc, err;
	uint64_t addr, max;
};

/* arg: the uid to join as (NULL: as root). */
static void big_joiner(int sock, void *arg)
{
	struct agnocast_add_process_args a;
	struct big_res res;
	int dev = AG_OPEN();

	if (arg)
		CHECK_OK(setresuid(*(uid_t *)arg, *(uid_t *)arg, *(uid_t *)arg));
	memset(&a, 0, sizeof(a));
	a.pool_size = BIG;
	a.pool_max = BIG;
	res.rc = ag_ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a);
	res.err = errno;
	res.addr = a.pool_addr;
	res.max = a.pool_max;
	SEND(sock, res);
	WAIT_FOR(sock, "exit");
}

TEST(address_space_exhaustion_enospc)
{
	/* Whole slots in the window, and room for the join that gets ENOSPC. */
	enum { SLOTS = (AGNOCAST_POOL_LIMIT - AGNOCAST_POOL_BASE) /
		       ((BIG + AGNOCAST_POOL_ALIGN - 1) / AGNOCAST_POOL_ALIGN * AGNOCAST_POOL_ALIGN),
	       MAXP = SLOTS + 2 };
	struct child c[MAXP];
	struct big_res res[MAXP];
	int n, i, j, ok = 0, victim;

	/*
	 * Each joiner reserves just under 1 TiB (not attached: the range is
	 * owned all the same). The window [64 TiB, 84 TiB) holds at most 20
	 * of them with 2 MiB alignment; a compact allocator fits exactly 20.
	 * One user may have all of it and more here: the window, not the
	 * budget, must be what refuses.
	 */
	_Static_assert(SLOTS == 20, "the window holds 20 slots of 1 TiB");
	PARAM_SET("max_window_per_user", 2 * (AGNOCAST_POOL_LIMIT - AGNOCAST_POOL_BASE));
	for (n = 0; n < MAXP; n++) {
		c[n] = spawn(big_joiner, NULL);
		RECV(c[n].sock, res[n]);
		if (res[n].rc) {
			if (res[n].err != ENOSPC)
				FAIL("join #%d: %s, expected success or ENOSPC",
				     n, errname(res[n].err));
			n++;
			break;
		}
		ok++;
		CHECK_EQ(res[n].max, BIG);
		CHECK_EQ(res[n].addr % AGNOCAST_POOL_ALIGN, 0);
		CHECK(res[n].addr >= AGNOCAST_POOL_BASE);
		CHECK(res[n].addr + res[n].max <= AGNOCAST_POOL_LIMIT);
		for (j = 0; j < n; j++)
			CHECK(res[n].addr + BIG <= res[j].addr ||
			      res[j].addr + BIG <= res[n].addr);
	}
	CHECK(res[n - 1].rc == -1);	/* ENOSPC came */
	CHECK_EQ(ok, SLOTS);
	CHECK_STATUS_TOTALS(SLOTS, 0, 0, 0, 0, 0);

	/* Free one range: the next join gets exactly that one. */
	victim = 10;
	KILL_REAP(c[victim].pid);
	CHECK_STATUS_TOTALS(SLOTS - 1, 0, 0, 0, 0, 0);
	c[n] = spawn(big_joiner, NULL);
	RECV(c[n].sock, res[n]);
	CHECK_EQ(res[n].rc, 0);
	CHECK_EQ(res[n].addr, res[victim].addr);
	n++;
	for (i = 0; i < n; i++) {
		if (i == victim)
			continue;
		TELL(c[i].sock, "exit");
		REAP_OK(c[i].pid);
	}
}

/*
 * One user's budget: max_window_per_user bytes and max_procs_per_user
 * processes; past it EDQUOT, while another user (root) still joins.
 */
TEST(window_budget_per_user_edquot)
{
	uid_t nobody = 65534;
	struct join_req one = { UNIT, 0 };
	struct child c[4], r;
	struct big_res res;
	struct ag_pool p;
	int i;

	PARAM_SET("max_window_per_user", 2 * round_up(BIG, AGNOCAST_POOL_ALIGN));
	for (i = 0; i < 3; i++) {
		c[i] = spawn(big_joiner, &nobody);
		RECV(c[i].sock, res);
		if (i < 2)
			CHECK_EQ(res.rc, 0);
		else
			CHECK(res.rc == -1 && res.err == EDQUOT);
	}
	r = spawn(joiner, &one);	/* root is another user */
	RECV(r.sock, p);
	check_range(&p);
	/* A process that ends gives its share back. */
	TELL(c[0].sock, "exit");
	REAP_OK(c[0].pid);
	c[3] = spawn(big_joiner, &nobody);
	RECV(c[3].sock, res);
	CHECK_EQ(res.rc, 0);
	for (i = 1; i < 4; i++) {
		TELL(c[i].sock, "exit");
		REAP_OK(c[i].pid);
	}

	PARAM_SET("max_procs_per_user", 2);
	for (i = 0; i < 3; i++) {
		c[i] = spawn(big_joiner, &nobody);
		RECV(c[i].sock, res);
		CHECK(i < 2 ? res.rc == 0 : res.rc == -1 && res.err == EDQUOT);
	}
	for (i = 0; i < 3; i++) {
		TELL(c[i].sock, "exit");
		REAP_OK(c[i].pid);
	}
	TELL(r.sock, "exit");
	REAP_OK(r.pid);
}

/* B: maps A's pool; commands: "remap" (MAP+UNMAP again), "unmap", "exit". */
static void pool_mapper(int sock, void *arg)
{
	struct agnocast_pool_info info, again;
	struct ag_pool pool;
	pid_t owner;
	char cmd[24];
	int dev = AG_OPEN();

	(void)arg;
	RECV(sock, owner);
	JOIN(dev, UNIT, 0, &pool);
	MAP_PEER(dev, owner, &info);
	TELL(sock, "mapped");
	for (;;) {
		RECV(sock, cmd);
		if (!strcmp(cmd, "remap")) {
			/* The owner is dead, its pool still alive: MAP works. */
			CHECK_OK(map_pool_raw(dev, owner, &again));
			CHECK_EQ(again.addr, info.addr);
			CHECK_EQ(again.max, info.max);
			CHECK_OK(unmap_pool_raw(dev, owner));
			TELL(sock, "remapped");
		} else if (!strcmp(cmd, "unmap")) {
			UNMAP_PEER(dev, &info);
			TELL(sock, "unmapped");
		} else {
			break;
		}
	}
}

static void reuse_after(int mapper_exits)
{
	struct join_req one = { UNIT, 0 };
	struct child a, b, c, d;
	struct ag_pool pa, pc, pd;
	struct status st;
	const struct st_rec *r;

	a = spawn(joiner, &one);
	RECV(a.sock, pa);
	b = spawn(pool_mapper, NULL);
	SEND(b.sock, a.pid);
	WAIT_FOR(b.sock, "mapped");
	TELL(a.sock, "exit");
	REAP_OK(a.pid);

	/*
	 * A is gone but B (same user) maps its pool: the range stays
	 * reserved; the name went with its owner.
	 */
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 0, 0, 0, 0, 1);
	r = ST_PROC(&st, a.pid);
	CHECK(st_str(r, "state") && !strcmp(st_str(r, "state"), "exited"));
	CHECK_EQ(ST_U64(r, "mappers"), 1);
	CHECK_EQ(ST_U64(r, "addr"), pa.addr);
	status_free(&st);
	CHECK(!shm_exists(a.pid));
	TELL(b.sock, "remap");
	WAIT_FOR(b.sock, "remapped");

	/* A new process does not get A's range. */
	c = spawn(joiner, &one);
	RECV(c.sock, pc);
	CHECK(!overlaps(&pc, &pa));

	if (mapper_exits) {
		TELL(b.sock, "exit");
		REAP_OK(b.pid);
	} else {
		TELL(b.sock, "unmap");
		WAIT_FOR(b.sock, "unmapped");
	}
	STATUS_READ(&st);
	CHECK(st_find(&st, "process", "pid", a.pid) == NULL);
	CHECK_TOTALS(&st, mapper_exits ? 1 : 2, 0, 0, 0, 0, 0);
	status_free(&st);
	CHECK(!shm_exists(a.pid));

	/* First-fit from the base: A's range (the lowest) is handed out again. */
	d = spawn(joiner, &one);
	RECV(d.sock, pd);
	CHECK_EQ(pd.addr, pa.addr);

	TELL(c.sock, "exit");
	REAP_OK(c.pid);
	TELL(d.sock, "exit");
	REAP_OK(d.pid);
	if (!mapper_exits) {
		TELL(b.sock, "exit");
		REAP_OK(b.pid);
	}
}

TEST(range_reused_only_after_unmap)
{
	reuse_after(0);
}

TEST(range_reused_only_after_mapper_exit)
{
	reuse_after(1);
}

/* Publisher that publishes one entry and waits to be told to exit. */
static void one_entry_publisher(int sock, void *arg)
{
	struct ag_pool pool;
	uint32_t pub;
	uint64_t seq;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "reuse/held", 1, 0);
	SEND(sock, pool);
	WAIT_FOR(sock, "publish");
	write_msg(pool.addr, 7);
	seq = PUBLISH(dev, pub, pool.addr, 16);
	SEND(sock, seq);
	WAIT_FOR(sock, "exit");
}

/* Subscriber that receives and holds one entry, without MAP_POOL. */
static void holder(int sock, void *arg)
{
	struct agnocast_entry e;
	struct ag_pool pool;
	struct ag_sub sub;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "reuse/held", 4, 0);
	TELL(sock, "subscribed");
	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, &e, 1), 1);
	CHECK_EQ(e.seq, 1);
	TELL(sock, "holding");
	WAIT_FOR(sock, "release");
	RELEASE(dev, sub.id, 1);
	TELL(sock, "released");
	WAIT_FOR(sock, "exit");
}

/*
 * Entries held after their owner is gone stay releasable, but they do not
 * keep its range: only declared mappings (MAP_POOL) do.
 */
TEST(range_not_pinned_by_held_entries)
{
	struct join_req one = { UNIT, 0 };
	struct child a, s, d;
	struct ag_pool pa, pd;
	struct status st;
	uint64_t seq;

	a = spawn(one_entry_publisher, NULL);
	RECV(a.sock, pa);
	s = spawn(holder, NULL);
	WAIT_FOR(s.sock, "subscribed");
	TELL(a.sock, "publish");
	RECV(a.sock, seq);
	CHECK_EQ(seq, 1);
	TELL(s.sock, "receive");
	WAIT_FOR(s.sock, "holding");
	TELL(a.sock, "exit");
	REAP_OK(a.pid);

	STATUS_READ(&st);
	CHECK(st_find(&st, "process", "pid", a.pid) == NULL);
	CHECK_TOTALS(&st, 1, 1, 0, 1, 1, 0);
	status_free(&st);
	CHECK(!shm_exists(a.pid));
	/* First-fit from the base: A's range is handed out again. */
	d = spawn(joiner, &one);
	RECV(d.sock, pd);
	CHECK_EQ(pd.addr, pa.addr);

	TELL(s.sock, "release");
	WAIT_FOR(s.sock, "released");
	CHECK_STATUS_TOTALS(2, 1, 0, 1, 0, 0);
	TELL(s.sock, "exit");
	REAP_OK(s.pid);
	TELL(d.sock, "exit");
	REAP_OK(d.pid);
}

/*
 * As another user: join, map the pool of the pid the test sends, say
 * "mapped". Returns that pid.
 */
static pid_t map_as_nobody(int sock, int dev, struct agnocast_pool_info *info)
{
	struct ag_pool pool;
	pid_t owner;

	RECV(sock, owner);
	CHECK_OK(setresuid(65534, 65534, 65534));
	JOIN(dev, UNIT, 0, &pool);
	MAP_PEER(dev, owner, info);
	TELL(sock, "mapped");
	return owner;
}

/* Maps a pool as another user; "unmap" undoes it after the owner's end. */
static void foreign_mapper(int sock, void *arg)
{
	struct agnocast_pool_info info;
	int dev = AG_OPEN();
	pid_t owner;

	(void)arg;
	owner = map_as_nobody(sock, dev, &info);
	WAIT_FOR(sock, "unmap");
	/* The declaration outlived the range, and is still the caller's. */
	CHECK_OK(munmap(u2p(info.addr), info.max));
	CHECK_OK(unmap_pool_raw(dev, owner));
	CHECK_ERR(unmap_pool_raw(dev, owner), ENOENT);
	TELL(sock, "unmapped");
	WAIT_FOR(sock, "exit");
}

/* Another user's mapping keeps a range only while its owner lives. */
TEST(range_not_pinned_by_other_users_mapping)
{
	struct join_req one = { UNIT, 0 };
	struct child a, b, d;
	struct ag_pool pa, pd;
	struct status st;

	a = spawn(joiner, &one);
	RECV(a.sock, pa);
	b = spawn(foreign_mapper, NULL);
	SEND(b.sock, a.pid);
	WAIT_FOR(b.sock, "mapped");
	TELL(a.sock, "exit");
	REAP_OK(a.pid);

	STATUS_READ(&st);
	CHECK(st_find(&st, "process", "pid", a.pid) == NULL);
	CHECK_TOTALS(&st, 1, 0, 0, 0, 0, 1);
	status_free(&st);
	d = spawn(joiner, &one);
	RECV(d.sock, pd);
	CHECK_EQ(pd.addr, pa.addr);

	TELL(b.sock, "unmap");
	WAIT_FOR(b.sock, "unmapped");
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);
	TELL(b.sock, "exit");
	REAP_OK(b.pid);
	TELL(d.sock, "exit");
	REAP_OK(d.pid);
}

/* UNMAP_POOL of the pool pid's range covering addr: the ioctl's result. */
static int unmap_pool_key(int dev, pid_t pid, uint64_t addr)
{
	struct agnocast_unmap_pool_args a;

	memset(&a, 0, sizeof(a));
	a.pid = pid;
	a.addr = addr;
	return ag_ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &a);
}

/*
 * Another user's process: the library maps the first pool, whose owner
 * then ends; its own MAP_POOL declares the newer pool at the same range.
 */
static void old_and_new_mapper(int sock, void *arg)
{
	struct agnocast_pool_info old, cur;
	struct agnocast_map_pool_args both;
	int dev = AG_OPEN();
	pid_t next;

	(void)arg;
	map_as_nobody(sock, dev, &old);
	RECV(sock, next);
	CHECK_OK(map_pool_raw(dev, next, &cur));
	CHECK_EQ(cur.addr, old.addr);
	/* Pid and address must name the same pool. */
	memset(&both, 0, sizeof(both));
	both.pool.pid = next;
	both.pool.addr = cur.addr + cur.max;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &both), ENOENT);
	CHECK_ERR(unmap_pool_key(dev, next, cur.addr + cur.max), ENOENT);
	/* The library undoes its own declaration, the old pool's ... */
	UNMAP_PEER(dev, &old);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	/* ... and the newer pool's is still there, once. */
	CHECK_OK(unmap_pool_key(dev, next, cur.addr));
	CHECK_ERR(unmap_pool_raw(dev, next), EINVAL);
	TELL(sock, "done");
	WAIT_FOR(sock, "exit");
}

/*
 * Two declared pools at one range, an exited owner's and the newer one
 * there now: undoing one leaves the other (first-fit gives the newer
 * pool the old range).
 */
TEST(unmap_tells_an_old_pool_from_the_newer_one_at_its_range)
{
	struct join_req one = { UNIT, 0 };
	struct child a, b, d;
	struct ag_pool pa, pd;

	a = spawn(joiner, &one);
	RECV(a.sock, pa);
	b = spawn(old_and_new_mapper, NULL);
	SEND(b.sock, a.pid);
	WAIT_FOR(b.sock, "mapped");
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
	d = spawn(joiner, &one);
	RECV(d.sock, pd);
	CHECK_EQ(pd.addr, pa.addr);
	SEND(b.sock, d.pid);
	WAIT_FOR(b.sock, "done");
	TELL(b.sock, "exit");
	REAP_OK(b.pid);
	TELL(d.sock, "exit");
	REAP_OK(d.pid);
}

TEST(shm_name_unlinked_after_exit)
{
	struct join_req one = { UNIT, 2 * UNIT };
	struct child a, b;
	struct ag_pool p;

	a = spawn(joiner, &one);
	RECV(a.sock, p);
	CHECK(shm_exists(a.pid));
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	CHECK(!shm_exists(a.pid));

	b = spawn(joiner, &one);
	RECV(b.sock, p);
	CHECK(shm_exists(b.pid));
	KILL_REAP(b.pid);
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	CHECK(!shm_exists(b.pid));
}

/*
 * A program may map anything anywhere with MAP_FIXED: the range a process
 * is given is clear of its own mappings.
 */
static void reserved_joiner(int sock, void *arg)
{
	uint64_t hole = 8ull << 20;
	void *want = (void *)(uintptr_t)AGNOCAST_POOL_BASE;
	void *p = mmap(want, hole, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	CHECK(p == want);
	JOIN(dev, UNIT, 0, &pool);
	SEND(sock, pool);
	WAIT_FOR(sock, "exit");
}

TEST(range_clear_of_the_callers_mappings)
{
	struct child c = spawn(reserved_joiner, NULL);
	struct ag_pool p;

	RECV(c.sock, p);
	check_range(&p);
	/* First fit: the lowest aligned address past the reservation. */
	CHECK_EQ(p.addr, AGNOCAST_POOL_BASE + (8ull << 20));
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}
