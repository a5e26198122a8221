// SPDX-License-Identifier: Apache-2.0
/*
 * Races between one ioctl's window and a sibling's ioctl (issue 8).
 *
 *   map_pool_vs_owner_exit: owners join, attach and exit one after the
 *     other while three threads of another process MAP_POOL / UNMAP_POOL
 *     the current owner's pid. A MAP_POOL must either find a pool that
 *     stays (then its UNMAP_POOL succeeds) or answer ENOENT / ENXIO; a pool
 *     whose last reference is gone must not be handed out again.
 *   add_{subscriber,publisher}_undo_vs_remove: ADD_* with its argument in
 *     a read-only page (copy-in works, every copy-out fails, the module
 *     undoes the registration) while a sibling thread REMOVEs the id that
 *     call is about to get (ids are allocated cyclically: a normal ADD /
 *     REMOVE learns the current one, every 16 rounds). ADD_* must fail
 *     with EFAULT, REMOVE must succeed or answer ENOENT, no descriptor may
 *     be installed, and nothing may be left registered or counted twice.
 *   {take,receive}_undo_vs_release_publish: one process publishes on a
 *     depth-1 topic and subscribes to it; a TAKE / RECEIVE whose copy-out
 *     fails races a sibling thread that RELEASEs the entry being handed
 *     out (its seq is known) and PUBLISHes over it with reclaimed_cap 1,
 *     which hands the entry back and frees it. The undo must give back
 *     only what it still holds: held and entry counts stay exact, every
 *     address comes back exactly once, the newest entry stays pending.
 *   sigkill_in_undo_windows: the same four windows in a process SIGKILLed
 *     at a random point (now and then while it joins), while two threads of
 *     this process map and unmap its pool as it dies; after each kill the
 *     module must be back to this process alone.
 *
 * Each race loops until an attempt cap or a wall-clock cap, whichever comes
 * first; nothing sleeps: the threads spin on the event they wait for. How
 * often a sibling's operation landed inside the window is noted (on a
 * module that keeps the window closed that count may well be zero).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

/* Wall-clock cap of one race (TCG guests are slow: attempts cap first on
 * real hardware). */
#define RACE_MS 18000
#define RACE_ATTEMPTS 4000
/*
 * Sibling threads racing each undo window. One: with two vCPUs a second
 * spinning sibling preempts the caller inside its own call, and the rounds
 * (and hits) drop fivefold (6.1 guest: 4000 rounds, 2500-3450 hits, in
 * 5-17 s with one; 600-900 rounds, 160-315 hits, in 18 s with two).
 */
#define NSIB 1
#define PAGE 4096
#define BLK 64
#define NBLK 64

/* ---- waiting for events ------------------------------------------- */

static void wait_word_at(const char *f, int l, _Atomic uint32_t *w,
			 uint32_t want, const char *what)
{
	uint64_t end = now_ms() + SYNC_TIMEOUT_MS;

	while (atomic_load(w) != want) {
		if (now_ms() > end)
			fail_at(f, l, "%s: not reached within %d ms", what,
				SYNC_TIMEOUT_MS);
		sched_yield();
	}
}
#define WAIT_WORD(w, want, what) wait_word_at(__FILE__, __LINE__, w, want, what)

/*
 * A target that helper threads work on while it is armed: round << 32 |
 * target in one word. Disarmed, they block on a futex (they must not take
 * the CPUs from the set-up of the next round); armed, they spin.
 */
#define GATE_MAX 3

struct gate {
	int n;				/* helper threads */
	_Atomic uint64_t word;		/* round << 32 | target (0: disarmed) */
	_Atomic uint32_t armed;		/* futex: round of the latest arming */
	_Atomic uint32_t seen[GATE_MAX];	/* round a helper worked on */
	_Atomic uint32_t idle[GATE_MAX];	/* round a helper saw disarmed */
	_Atomic int stop;
};

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Arm target for round rnd; returns once every helper works on it. */
static void gate_arm(struct gate *g, uint32_t rnd, uint32_t target)
{
	int i;

	atomic_store(&g->word, (uint64_t)rnd << 32 | target);
	atomic_store(&g->armed, rnd);
	futex_wake(&g->armed);
	for (i = 0; i < g->n; i++)
		WAIT_WORD(&g->seen[i], rnd, "a helper thread starting its round");
}

/* Disarm, and wait until every helper's last operation has returned. */
static void gate_disarm(struct gate *g, uint32_t rnd)
{
	int i;

	atomic_store(&g->word, (uint64_t)rnd << 32);
	for (i = 0; i < g->n; i++)
		WAIT_WORD(&g->idle[i], rnd, "a helper thread ending its round");
}

/* In helper i: the armed target (waiting while disarmed), 0 to stop. */
static uint32_t gate_next(struct gate *g, int i, uint32_t *rnd)
{
	uint64_t w;
	uint32_t r, t;

	for (;;) {
		if (atomic_load(&g->stop))
			return 0;
		w = atomic_load(&g->word);
		r = (uint32_t)(w >> 32);
		t = (uint32_t)w;
		if (t) {
			if (atomic_load(&g->seen[i]) != r)
				atomic_store(&g->seen[i], r);
			*rnd = r;
			return t;
		}
		if (atomic_load(&g->idle[i]) != r)
			atomic_store(&g->idle[i], r);
		futex_wait(&g->armed, r);
	}
}

/* In helper i: nothing left to do in round rnd; wait for the next one. */
static void gate_done(struct gate *g, int i, uint32_t rnd)
{
	atomic_store(&g->idle[i], rnd);
	while (atomic_load(&g->armed) == rnd && !atomic_load(&g->stop))
		futex_wait(&g->armed, rnd);
}

static void gate_stop(struct gate *g)
{
	atomic_store(&g->stop, 1);
	atomic_store(&g->armed, UINT32_MAX);
	futex_wake(&g->armed);
}

/* A page holding a copy of src, then made read-only. */
static void *ro_page(const void *src, size_t len)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	memcpy(p, src, len);
	CHECK_OK(mprotect(p, PAGE, PROT_READ));
	return p;
}

static void *rw_page(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/* Drop a page's memory: the next copy-out into it faults a new page in,
 * which keeps the window between the two copy-outs open longer. */
static void drop_page(void *p)
{
	CHECK_OK(madvise(p, PAGE, MADV_DONTNEED));
}

static uint32_t next_id(uint32_t id)
{
	return id >= 0x7fffffffu ? 1 : id + 1;
}

/* ---- 1. MAP_POOL against the owner's exit ------------------------- */

struct mappers {
	int dev;
	struct gate g;			/* target: the owner's pid */
	_Atomic uint32_t reaped;	/* round whose owner was reaped */
	_Atomic uint32_t gone[GATE_MAX];	/* round a mapper saw end */
	_Atomic uint64_t maps, maps_late, enoent, enxio;
	pthread_t th[GATE_MAX];
};

struct mapper_arg {
	struct mappers *m;
	int i;
};

static void *mapper_thread(void *p)
{
	struct mapper_arg *a = p;
	struct mappers *m = a->m;
	struct agnocast_pool_info info;
	uint32_t rnd, mapped = 0;
	pid_t pid;
	int late, r, e;

	while ((pid = (pid_t)gate_next(&m->g, a->i, &rnd))) {
		late = atomic_load(&m->reaped) == rnd;
		errno = 0;
		r = map_pool_raw(m->dev, pid, &info);
		e = errno;
		if (r == 0) {
			if (info.pid != pid)
				FAIL("MAP_POOL(%d) answered pid %d", (int)pid,
				     info.pid);
			atomic_fetch_add(&m->maps, 1);
			if (late)
				atomic_fetch_add(&m->maps_late, 1);
			mapped = rnd;
			/* Our declaration keeps the pool: this must work. */
			if (unmap_pool_raw(m->dev, pid))
				FAIL("UNMAP_POOL(%d) after a successful MAP_POOL%s: %s",
				     (int)pid,
				     late ? " (owner already reaped)" : "",
				     errname(errno));
		} else if (e == ENOENT) {
			atomic_fetch_add(&m->enoent, 1);
			/*
			 * Not found after it was found, or after its owner
			 * was reaped: gone for good (no pid is reused here).
			 */
			if (late || mapped == rnd) {
				atomic_store(&m->gone[a->i], rnd);
				gate_done(&m->g, a->i, rnd);
			}
		} else if (e == ENXIO) {
			atomic_fetch_add(&m->enxio, 1);
		} else {
			FAIL("MAP_POOL(%d): %d (%s), expected success, ENOENT or ENXIO",
			     (int)pid, r, errname(e));
		}
	}
	return NULL;
}

static void mappers_start(struct mappers *m, int dev, int n)
{
	static struct mapper_arg args[GATE_MAX];
	int i;

	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->g.n = n;
	for (i = 0; i < n; i++) {
		args[i].m = m;
		args[i].i = i;
		CHECK_OK(pthread_create(&m->th[i], NULL, mapper_thread, &args[i]));
	}
}

static void mappers_stop(struct mappers *m)
{
	int i;

	gate_stop(&m->g);
	for (i = 0; i < m->g.n; i++)
		CHECK_OK(pthread_join(m->th[i], NULL));
}

TEST(map_pool_vs_owner_exit)
{
	struct mappers m;
	struct ag_pool pool;
	uint64_t deadline = now_ms() + RACE_MS;
	uint32_t gen = 0;
	int dev = AG_OPEN(), up[2], down[2], i;
	char c;
	pid_t pid;

	JOIN(dev, UNIT, 0, &pool);
	mappers_start(&m, dev, GATE_MAX);
	while (gen < RACE_ATTEMPTS && now_ms() < deadline) {
		gen++;
		CHECK_OK(pipe2(up, O_CLOEXEC));
		CHECK_OK(pipe2(down, O_CLOEXEC));
		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct ag_pool p;
			int d = AG_OPEN();

			close(up[0]);
			close(down[1]);
			JOIN(d, UNIT, 0, &p);
			CHECK_EQ(write(up[1], "j", 1), 1);
			CHECK_EQ(read(down[0], &c, 1), 1);
			_exit(0);
		}
		close(up[1]);
		close(down[0]);
		/* Joined and attached: map and unmap it while it exits. */
		CHECK_EQ(read(up[0], &c, 1), 1);
		gate_arm(&m.g, gen, (uint32_t)pid);
		CHECK_EQ(write(down[1], "x", 1), 1);
		REAP_OK(pid);
		atomic_store(&m.reaped, gen);
		/* Until every mapper saw the pool gone: then the next owner. */
		for (i = 0; i < m.g.n; i++)
			WAIT_WORD(&m.gone[i], gen, "the exited owner's pool going away");
		gate_disarm(&m.g, gen);
		close(up[0]);
		close(down[1]);
	}
	mappers_stop(&m);
	note("%u owners; MAP_POOL: %llu succeeded (%llu after the owner was reaped, racing its last reference), %llu ENOENT, %llu ENXIO",
	     gen, (unsigned long long)m.maps, (unsigned long long)m.maps_late,
	     (unsigned long long)m.enoent, (unsigned long long)m.enxio);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

/* ---- the undo windows --------------------------------------------- */

enum race_kind { R_ADD_SUB, R_ADD_PUB, R_TAKE, R_RECEIVE, R_KINDS };

static const char *const kind_name[R_KINDS] = {
	"ADD_SUBSCRIBER", "ADD_PUBLISHER", "TAKE", "RECEIVE",
};

struct race;
/* A sibling's move on target; returns 1 when it landed (it is then done
 * for the round). */
typedef int (*sib_op)(struct race *r, uint32_t target);

struct race {
	enum race_kind kind;
	int dev;
	int victim;			/* in the kill test's victim process */
	/* Victim: [0] rounds done, [1] pool attached, for the killer. */
	_Atomic uint64_t *progress;
	const char *topic;
	struct ag_pool pool;
	uint32_t pub, sub;		/* the fixture's endpoints */
	sib_op op;
	struct gate g;			/* the caller arms, the siblings spin */
	_Atomic uint32_t landed_round;
	_Atomic uint64_t sib_ops;
	pthread_t th[NSIB];
	/* Blocks of the pool published and not handed back yet. */
	pthread_mutex_t blk_lock;
	uint8_t in_use[NBLK];
	uint32_t nr_in_use;
	_Atomic uint64_t b_seq;		/* what the sibling published */
	uint64_t rounds, landed;
};

struct sib_arg {
	struct race *r;
	int b;
};

static void *sibling(void *p)
{
	struct sib_arg *a = p;
	struct race *r = a->r;
	uint32_t rnd, tgt;

	while ((tgt = gate_next(&r->g, a->b, &rnd))) {
		atomic_fetch_add(&r->sib_ops, 1);
		if (r->op(r, tgt)) {
			atomic_store(&r->landed_round, rnd);
			gate_done(&r->g, a->b, rnd);
		}
	}
	return NULL;
}

static int op_remove(struct race *r, uint32_t id)
{
	int pub = r->kind == R_ADD_PUB;
	struct agnocast_remove_args a = { .id = id };

	if (ag_ioctl(r->dev, pub ? AGNOCAST_REMOVE_PUBLISHER_CMD :
				   AGNOCAST_REMOVE_SUBSCRIBER_CMD, &a) == 0)
		return 1;
	if (errno != ENOENT)
		FAIL("REMOVE_%s(%u) racing its ADD: %s, expected success or ENOENT",
		     pub ? "PUBLISHER" : "SUBSCRIBER", id, errname(errno));
	return 0;
}

/* A block handed back by PUBLISH or RECLAIM; blk_lock held. */
static void take_back(struct race *r, uint64_t addr)
{
	uint32_t idx;

	if (addr < r->pool.addr || addr >= r->pool.addr + NBLK * BLK ||
	    (addr - r->pool.addr) % BLK)
		FAIL("address 0x%llx handed back: not one this process published",
		     (unsigned long long)addr);
	idx = (uint32_t)((addr - r->pool.addr) / BLK);
	if (!r->in_use[idx])
		FAIL("block %u (0x%llx) handed back while not published (twice?)",
		     idx, (unsigned long long)addr);
	r->in_use[idx] = 0;
	r->nr_in_use--;
}

static uint64_t publish_block(struct race *r, uint32_t cap)
{
	uint64_t recl[64], seq;
	uint32_t nr, i, idx;

	pthread_mutex_lock(&r->blk_lock);
	for (idx = 0; idx < NBLK && r->in_use[idx]; idx++)
		;
	if (idx == NBLK)
		FAIL("all %u blocks published and none handed back", NBLK);
	r->in_use[idx] = 1;
	r->nr_in_use++;
	seq = PUBLISH_R(r->dev, r->pub, r->pool.addr + (uint64_t)idx * BLK,
			BLK, recl, cap, &nr);
	for (i = 0; i < nr; i++)
		take_back(r, recl[i]);
	pthread_mutex_unlock(&r->blk_lock);
	return seq;
}

static void reclaim_all(struct race *r)
{
	uint64_t recl[64];
	uint32_t nr, i;

	pthread_mutex_lock(&r->blk_lock);
	do {
		nr = RECLAIM(r->dev, recl, 64);
		for (i = 0; i < nr; i++)
			take_back(r, recl[i]);
	} while (nr);
	pthread_mutex_unlock(&r->blk_lock);
}

/*
 * The entry being handed out is released by us (the sibling) before the
 * undo runs: publish over it, which unretains it (depth 1) and, with no
 * holder left, hands it back in this very call (reclaimed_cap 1).
 */
static int op_release_publish(struct race *r, uint32_t seq)
{
	if (release_raw(r->dev, r->sub, seq)) {
		if (errno != ENOENT)
			FAIL("RELEASE(%u) racing the %s: %s, expected success or ENOENT",
			     seq, kind_name[r->kind], errname(errno));
		return 0;
	}
	atomic_store(&r->b_seq, publish_block(r, 1));
	return 1;
}

static void race_setup(struct race *r, enum race_kind kind, int dev,
		       int victim, _Atomic uint64_t *progress)
{
	static const char *const topics[R_KINDS] = {
		"races/add-sub", "races/add-pub", "races/take", "races/receive",
	};

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->dev = dev;
	r->victim = victim;
	r->progress = progress;
	r->topic = topics[kind];
	pthread_mutex_init(&r->blk_lock, NULL);
	JOIN(dev, UNIT, 0, &r->pool);
	if (progress)
		atomic_store(&progress[1], 1);
	switch (kind) {
	case R_ADD_SUB:
		/* A publisher keeps the topic and gives a pool to copy out. */
		r->pub = ADD_PUB(dev, r->topic, 1, 0);
		r->op = op_remove;
		break;
	case R_ADD_PUB:
		r->sub = ADD_SUB(dev, r->topic, 1, 0).id;
		r->op = op_remove;
		break;
	default:
		r->pub = ADD_PUB(dev, r->topic, 1, 0);
		r->sub = ADD_SUB(dev, r->topic, 1, 0).id;
		r->op = op_release_publish;
		break;
	}
}

static void race_start(struct race *r)
{
	static struct sib_arg args[NSIB];
	int b;

	r->g.n = NSIB;
	for (b = 0; b < NSIB; b++) {
		args[b].r = r;
		args[b].b = b;
		CHECK_OK(pthread_create(&r->th[b], NULL, sibling, &args[b]));
	}
}

static void race_stop(struct race *r)
{
	int b;

	gate_stop(&r->g);
	for (b = 0; b < NSIB; b++)
		CHECK_OK(pthread_join(r->th[b], NULL));
}

/* The module's own counts of the fixture (and, outside the kill test,
 * its totals). */
static void check_counts(struct race *r)
{
	const struct st_rec *t, *p;
	struct status st;
	int ep = r->kind >= R_TAKE;

	STATUS_READ(&st);
	t = ST_TOPIC(&st, r->topic);
	p = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(t, "publishers"), r->kind != R_ADD_PUB);
	CHECK_EQ(ST_U64(t, "subscribers"), r->kind != R_ADD_SUB);
	CHECK_EQ(ST_U64(t, "entries"), ep);
	CHECK_EQ(ST_U64(p, "publishers"), r->kind != R_ADD_PUB);
	CHECK_EQ(ST_U64(p, "subscribers"), r->kind != R_ADD_SUB);
	CHECK_EQ(ST_U64(p, "reclaimable"), 0);
	if (!r->victim)
		CHECK_TOTALS(&st, 1, 1, r->kind != R_ADD_PUB,
			     r->kind != R_ADD_SUB, ep, 0);
	status_free(&st);
}

/*
 * One ADD_* whose copy-out fails while the sibling REMOVEs its id. *next
 * is the id it is expected to get: every 16 rounds learnt from a normal
 * ADD / REMOVE, in between the one after the last round's (ids are
 * allocated cyclically, and a failed ADD consumes one on the current
 * module; if it does not, the sibling just misses: ENOENT).
 */
static void round_add(struct race *r, uint32_t rnd, void *ro, void *out_page,
		      uint32_t *next)
{
	struct topic_info ti;
	struct ag_sub s;
	uint32_t id;
	int sub = r->kind == R_ADD_SUB, rc, e, free_fd;

	if (rnd % 16 == 1) {
		if (sub) {
			s = ADD_SUB(r->dev, r->topic, 1, 0);
			id = s.id;
			REMOVE_SUB(r->dev, id);
			CHECK_OK(close(s.fd));
		} else {
			id = ADD_PUB(r->dev, r->topic, 1, 0);
			REMOVE_PUB(r->dev, id);
		}
		*next = next_id(id);
	}
	free_fd = lowest_free_fd();
	drop_page(out_page);
	gate_arm(&r->g, rnd, *next);
	errno = 0;
	rc = ag_ioctl(r->dev, sub ? AGNOCAST_ADD_SUBSCRIBER_CMD :
				    AGNOCAST_ADD_PUBLISHER_CMD, ro);
	e = errno;
	gate_disarm(&r->g, rnd);
	if (rc != -1 || e != EFAULT)
		FAIL("%s with a read-only argument page: %d (%s), expected EFAULT",
		     kind_name[r->kind], rc, errname(e));
	if (atomic_load(&r->landed_round) == rnd)
		r->landed++;
	*next = next_id(*next);
	/* No descriptor, nothing registered, nothing removed twice. */
	CHECK_EQ(lowest_free_fd(), free_fd);
	TOPIC_INFO(r->dev, r->topic, &ti);
	CHECK_EQ(ti.a.nr_pubs, sub);
	CHECK_EQ(ti.a.nr_subs, !sub);
	if (sub)
		CHECK_EQ(ti.pubs[0].id, r->pub);
	else
		CHECK_EQ(ti.subs[0].id, r->sub);
}

/* One TAKE / RECEIVE whose copy-out fails while the sibling RELEASEs the
 * entry it hands out and PUBLISHes over it. */
static void round_get(struct race *r, uint32_t rnd, void *ro, void *ro_out,
		      void *rw_out)
{
	struct agnocast_entry e;
	struct topic_info ti;
	uint64_t seq, last;
	uint32_t nr;
	int rc, err;

	seq = publish_block(r, 64);
	if (r->kind == R_RECEIVE && (rnd & 1))
		drop_page(rw_out);	/* faulted in on the way out */
	atomic_store(&r->b_seq, 0);
	gate_arm(&r->g, rnd, (uint32_t)seq);
	errno = 0;
	rc = ag_ioctl(r->dev, r->kind == R_TAKE ? AGNOCAST_TAKE_CMD :
						  AGNOCAST_RECEIVE_CMD,
		      r->kind == R_RECEIVE && !(rnd & 1) ? ro_out : ro);
	err = errno;
	gate_disarm(&r->g, rnd);
	if (rc != -1 || err != EFAULT)
		FAIL("%s of seq %llu with a read-only argument page: %d (%s), expected EFAULT",
		     kind_name[r->kind], (unsigned long long)seq, rc,
		     errname(err));
	last = atomic_load(&r->b_seq);
	if (last)
		r->landed++;
	else
		last = seq;
	/* Everything but the newest entry (retained, depth 1) came back
	 * exactly once, and nobody holds anything. */
	reclaim_all(r);
	if (r->nr_in_use != 1)
		FAIL("%u blocks published and not handed back after round %u, expected 1",
		     r->nr_in_use, rnd);
	TOPIC_INFO(r->dev, r->topic, &ti);
	CHECK_EQ(ti.a.last_seq, last);
	CHECK_EQ(ti.a.nr_entries, 1);
	CHECK_EQ(ti.a.nr_subs, 1);
	CHECK_EQ(ti.subs[0].count, 0);	/* held */
	CHECK_EQ(ti.pubs[0].count, 1);	/* retained */
	/* The failed call left the newest entry pending. */
	if (rnd % 16 == 0) {
		if (r->kind == R_TAKE) {
			CHECK_OK(take_raw(r->dev, r->sub, &e));
		} else {
			nr = RECEIVE(r->dev, r->sub, &e, 1);
			CHECK_EQ(nr, 1);
		}
		CHECK_EQ(e.seq, last);
		RELEASE(r->dev, r->sub, e.seq);
	}
}

/* Rounds until max or the deadline. */
static void race_run(struct race *r, uint32_t max, uint64_t deadline)
{
	struct agnocast_add_subscriber_args as;
	struct agnocast_add_publisher_args ap;
	struct agnocast_take_args ta;
	struct agnocast_receive_args ra;
	void *out = rw_page(), *ro = NULL, *ro_out = NULL;
	uint32_t rnd, next = 0;

	switch (r->kind) {
	case R_ADD_SUB:
		memset(&as, 0, sizeof(as));
		set_topic(as.topic, r->topic);
		as.qos.depth = 1;
		as.pubs = p2u(out);
		as.pubs_cap = PAGE / sizeof(struct agnocast_pool_info);
		as.fd = -1;
		ro = ro_page(&as, sizeof(as));
		break;
	case R_ADD_PUB:
		memset(&ap, 0, sizeof(ap));
		set_topic(ap.topic, r->topic);
		ap.qos.depth = 1;
		ap.sub_pids = p2u(out);
		ap.sub_pids_cap = PAGE / sizeof(int32_t);
		ro = ro_page(&ap, sizeof(ap));
		break;
	case R_TAKE:
		memset(&ta, 0, sizeof(ta));
		ta.subscriber_id = r->sub;
		ro = ro_page(&ta, sizeof(ta));
		break;
	case R_RECEIVE:
		/* Odd rounds: the argument is read-only, the entries go to a
		 * writable page (so nr_entries is what fails). Even rounds:
		 * the entries too go to the read-only page. */
		memset(&ra, 0, sizeof(ra));
		ra.subscriber_id = r->sub;
		ra.entries_cap = 1;
		ra.entries = p2u(out);
		ro = ro_page(&ra, sizeof(ra));
		ro_out = rw_page();
		ra.entries = p2u(ro_out) + 128;
		memcpy(ro_out, &ra, sizeof(ra));
		CHECK_OK(mprotect(ro_out, PAGE, PROT_READ));
		break;
	default:
		FAIL("kind %d", r->kind);
	}
	race_start(r);
	for (rnd = 1; rnd <= max && now_ms() < deadline; rnd++) {
		if (r->kind <= R_ADD_PUB)
			round_add(r, rnd, ro, out, &next);
		else
			round_get(r, rnd, ro, ro_out, out);
		r->rounds++;
		if (r->progress)
			atomic_fetch_add(r->progress, 1);
		if (rnd % 64 == 0)
			check_counts(r);
	}
	race_stop(r);
	check_counts(r);
}

static void race_test(enum race_kind kind)
{
	struct race r;
	int dev = AG_OPEN();

	race_setup(&r, kind, dev, 0, NULL);
	race_run(&r, RACE_ATTEMPTS, now_ms() + RACE_MS);
	note("%llu rounds, %llu sibling operations; the sibling's %s landed inside the window in %llu rounds",
	     (unsigned long long)r.rounds,
	     (unsigned long long)atomic_load(&r.sib_ops),
	     kind <= R_ADD_PUB ? "REMOVE" : "RELEASE + PUBLISH",
	     (unsigned long long)r.landed);
	if (kind >= R_TAKE)
		reclaim_all(&r);
	if (kind != R_ADD_PUB)
		REMOVE_PUB(dev, r.pub);
	if (kind != R_ADD_SUB)
		REMOVE_SUB(dev, r.sub);
	if (kind >= R_TAKE) {
		/* The last entry went with its publisher. */
		reclaim_all(&r);
		CHECK_EQ(r.nr_in_use, 0);
	}
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

TEST(add_subscriber_undo_vs_remove)
{
	race_test(R_ADD_SUB);
}

TEST(add_publisher_undo_vs_remove)
{
	race_test(R_ADD_PUB);
}

TEST(take_undo_vs_release_publish)
{
	race_test(R_TAKE);
}

TEST(receive_undo_vs_release_publish)
{
	race_test(R_RECEIVE);
}

/* ---- 4. the windows against SIGKILL -------------------------------- */

static void victim(enum race_kind kind, _Atomic uint64_t *progress)
{
	struct race r;
	int dev = AG_OPEN();

	race_setup(&r, kind, dev, 1, progress);
	/* Runs until killed; the caps are only safety nets. */
	race_run(&r, 1000000, now_ms() + SYNC_TIMEOUT_MS);
	FAIL("the victim was not killed within %d ms", SYNC_TIMEOUT_MS);
}

/* Has the child ended (without reaping it)? */
static int ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT))
		FAIL("waitid(%d): %s", (int)pid, errname(errno));
	return si.si_pid == pid;
}

TEST(sigkill_in_undo_windows)
{
	_Atomic uint64_t *progress;
	struct mappers m;
	struct ag_pool pool;
	uint64_t deadline = now_ms() + RACE_MS, seed, want, at_kill[R_KINDS] = { 0 };
	uint32_t cycle, kills[R_KINDS] = { 0 }, early = 0, stale = 0;
	volatile uint64_t spin;
	enum race_kind kind;
	pid_t pid;
	int dev = AG_OPEN();

	progress = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(progress != MAP_FAILED);
	seed = now_ns() ^ ((uint64_t)getpid() << 32);
	if (!seed)
		seed = 1;
	JOIN(dev, UNIT, 0, &pool);
	/* Two threads of ours map and unmap the victim's pool as it dies. */
	mappers_start(&m, dev, 2);
	for (cycle = 1; cycle <= 300 && now_ms() < deadline; cycle++) {
		kind = (enum race_kind)(rng_next(&seed) % R_KINDS);
		/* One kill in eight lands in the victim's joining. */
		want = rng_next(&seed) % 8 ? rng_next(&seed) % 16 : UINT64_MAX;
		atomic_store(&progress[0], 0);
		atomic_store(&progress[1], 0);
		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			victim(kind, progress);
			_exit(1);
		}
		if (want != UINT64_MAX) {
			uint64_t end = now_ms() + SYNC_TIMEOUT_MS;

			while (atomic_load(progress) < want && !ended(pid)) {
				if (now_ms() > end)
					FAIL("the victim made no progress in %d ms",
					     SYNC_TIMEOUT_MS);
				sched_yield();
			}
		} else {
			early++;
		}
		/* Map and unmap its pool while it dies. */
		gate_arm(&m.g, cycle, (uint32_t)pid);
		for (spin = rng_next(&seed) % 20000; spin; spin--)
			;
		at_kill[kind] += atomic_load(progress);
		kills[kind]++;
		KILL_REAP(pid);
		/* Stop mapping, then: nothing but us is left. */
		gate_disarm(&m.g, cycle);
		CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
		if (atomic_load(&progress[1])) {
			/* Attached: the module unlinked its pool's name. */
			CHECK(!shm_exists(pid));
		} else {
			/*
			 * Killed between its shm_open and its ATTACH_POOL (or
			 * just after): nobody gave the module that name; a
			 * library removes such a stale name when it meets it.
			 */
			char name[64];

			pool_name(name, sizeof(name), pid);
			if (shm_unlink(name) == 0)
				stale++;
			else
				CHECK_EQ(errno, ENOENT);
		}
	}
	mappers_stop(&m);
	note("%u kills (%u while joining, %u before attaching: removed the name it left): ADD_SUBSCRIBER %u (%llu rounds), ADD_PUBLISHER %u (%llu), TAKE %u (%llu), RECEIVE %u (%llu); MAP_POOL of the victim: %llu succeeded, %llu ENOENT, %llu ENXIO",
	     cycle - 1, early, stale, kills[0], (unsigned long long)at_kill[0],
	     kills[1], (unsigned long long)at_kill[1], kills[2],
	     (unsigned long long)at_kill[2], kills[3],
	     (unsigned long long)at_kill[3], (unsigned long long)m.maps,
	     (unsigned long long)m.enoent, (unsigned long long)m.enxio);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}
