// SPDX-License-Identifier: Apache-2.0
/*
 * pool_thread.c - thread-safe front-end over pool_alloc: per-thread
 * caches, per-thread arenas, one root pool.
 *
 *   thread cache (no lock)  ->  arena (its own lock)  ->  root (mt->lock)
 *
 * The root pool is the core instance at the base of the region; it alone
 * grows.  An arena is a core sub-pool (pool_alloc_init_sub()) whose
 * memory is segments: SEG_SIZE-aligned blocks of the root, whose headers
 * carry POOL_HDR_MAGIC_SUB.  A thread is given one of MT_ARENAS arenas
 * when it first allocates, so two threads rarely share a lock.  Requests
 * up to ARENA_MAX_REQ are served by the thread's arena, larger ones (and
 * everything when the pool is too small for arenas) by the root.
 *
 * Invariants:
 *  T1 Every call into a core instance runs with its lock held: the
 *     root's under mt->lock, a segment's under its arena's lock.
 *  T2 Ownership by address: a block whose header has POOL_HDR_MAGIC_SUB
 *     lies in the segment at p & ~(SEG_SIZE - 1), whose header names its
 *     sub-pool (pool_seg_owner()), whose pool_user()[0] is the arena;
 *     any other block is the root's.
 *  T3 A cached block is a used block of its owner that sits on exactly
 *     one bin of exactly one thread cache, bin pool_class_down(its size);
 *     word 0 of its payload links the bin, word 1 holds TC_MARK ^ its
 *     address.  Word 1 is cleared whenever a block leaves a cache.
 *  T4 malloc takes from bin c = pool_class_down(pool_class_round(bs)):
 *     every block there is >= the class floor >= bs.  Blocks fetched for
 *     a cache are exactly pool_class_round(bs) bytes, so they return to
 *     the bin they are taken from.
 *  T5 A bin holds at most tc_limit[c] blocks and a cache at most
 *     POOL_MT_CACHE_BYTES bytes.
 *  T6 A thread touches only its own cache.  The header of a block the
 *     thread owns is read without a lock (a core may flip its PREV_FREE
 *     bit concurrently, never its size or magic: pool_alloc.h).
 *  T7 A segment goes back to the root as soon as its last block is
 *     freed, unless it is its arena's only one.  root_bytes/root_blocks
 *     count what an arena holds of the root (control block, segments).
 *  T8 Lock order: reg_lock, then an arena's lock, then mt->lock.  A
 *     thread holds at most one arena lock, except in pool_mt_lock(),
 *     which takes them all in index order.
 */
#define _GNU_SOURCE
#include "pool_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* Bins cover every class a request of <= POOL_MT_CACHE_MAX_REQ maps to. */
#define TC_BINS		448
#ifndef TC_BIN_BYTES
#define TC_BIN_BYTES	(64 * 1024)	/* aim per bin, sets tc_limit */
#endif
#ifndef TC_REFILL_BYTES
#define TC_REFILL_BYTES	(8 * 1024)	/* aim per refill, sets tc_batch */
#endif
#define TC_MAX_COUNT	128
#define TC_MIN_COUNT	2
#define TC_MARK		0x5ca1ab1ec0ffee11ULL
#define REG_SLOTS	64

#define SEG_LOG2	20
#define SEG_SIZE	(1UL << SEG_LOG2)
/* Segment payload: its root block then ends 32 bytes before the next
 * aligned address, so segments can sit back to back in the root. */
#define SEG_PAYLOAD	(SEG_SIZE - 48)
#define MT_ARENAS	8
#define ARENA_MAX_REQ	(SEG_SIZE / 8)
#define ARENA_MAX_ALIGN	4096UL
/* Pools whose max is below this get no arenas (all in the root). */
#define ARENA_MIN_POOL	(32 * SEG_SIZE)

struct arena {
	pthread_mutex_t lock;
	struct pool_alloc *pa;		/* sub-pool; NULL until first used */
	size_t root_bytes;		/* root block bytes it holds */
	size_t root_blocks;
};

struct pool_mt {
	pthread_mutex_t lock;		/* the root's */
	struct pool_alloc *pa;		/* the root */
	const size_t *sizep;		/* the root's usable size, grows */
	uintptr_t base;
	uint64_t gen;			/* unique per pool_mt_init() */
	int cached;			/* 0 if the registry was full */
	int arenas;			/* arenas in use (0 or MT_ARENAS) */
	unsigned int next_arena;
	struct arena arena[MT_ARENAS];
};

struct tcache {
	struct arena *arena;		/* NULL: this thread uses the root */
	size_t bytes;
	void *head[TC_BINS];
	uint16_t count[TC_BINS];
};

struct tc_tls {
	struct pool_mt *mt;
	uint64_t gen;
	struct tcache *tc;
	int dead;			/* thread is exiting: no more caching */
};

static __thread struct tc_tls tls __attribute__((tls_model("initial-exec")));

static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static pthread_key_t tc_key;
static unsigned int tc_bins;	/* bins in use: classes of cached requests */
static uint8_t tc_limit[TC_BINS];
static uint8_t tc_batch[TC_BINS];
static uint64_t gen_counter;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct pool_mt *mt;
	uint64_t gen;
} reg[REG_SLOTS];

/* ---- locks ---- */

static inline void lock(pthread_mutex_t *l)
{
	pthread_mutex_lock(l);
}

static inline void unlock(pthread_mutex_t *l)
{
	pthread_mutex_unlock(l);
}

static void lock_init(pthread_mutex_t *l)
{
	pthread_mutexattr_t at;

	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(l, &at);
	pthread_mutexattr_destroy(&at);
}

/* At most one lock held while draining; switch only when the owner changes. */
struct held {
	pthread_mutex_t *l;
};

static void held_take(struct held *h, pthread_mutex_t *l)
{
	if (h->l == l)
		return;
	if (h->l)
		unlock(h->l);
	lock(l);
	h->l = l;
}

static void held_drop(struct held *h)
{
	if (h->l)
		unlock(h->l);
	h->l = NULL;
}

/* ---- blocks and their owners ---- */

/* Header of p, a live block of mt, or die (cheap checks only). */
static inline uint64_t mt_hdr(struct pool_mt *mt, void *p, const char *op)
{
	uintptr_t a = (uintptr_t)p - mt->base;
	size_t size = __atomic_load_n(mt->sizep, __ATOMIC_RELAXED);
	uint64_t h;

	if (unlikely(a - 32 >= size - 48 || (a & (POOL_ALIGN - 1))))
		pool_die(op, p, "invalid pointer (not a block of this pool)");
	h = pool_hdr_load(p);
	if (unlikely((h & POOL_HDR_FREE) ||
		     ((h & POOL_HDR_MAGIC_MASK) != POOL_HDR_MAGIC &&
		      (h & POOL_HDR_MAGIC_MASK) != POOL_HDR_MAGIC_SUB))) {
		if (h & POOL_HDR_FREE)
			pool_die(op, p, "double free (block is already free)");
		pool_die(op, p, "invalid pointer (no block header)");
	}
	if (unlikely(((uint64_t *)p)[1] == (TC_MARK ^ (uintptr_t)p)))
		pool_die(op, p, "double free (block is in a thread cache)");
	return h;
}

struct owner {
	struct pool_alloc *pa;
	struct arena *a;		/* NULL for the root */
	pthread_mutex_t *lock;
};

/* Who owns the block p with header h (T2); dies on a forged header. */
static void owner_of(struct pool_mt *mt, const void *p, uint64_t h,
		     struct owner *o, const char *op)
{
	uintptr_t seg = (uintptr_t)p & ~(SEG_SIZE - 1);
	struct pool_alloc *sub;
	struct arena *a;

	if ((h & POOL_HDR_MAGIC_MASK) != POOL_HDR_MAGIC_SUB) {
		o->pa = mt->pa;
		o->a = NULL;
		o->lock = &mt->lock;
		return;
	}
	sub = seg < mt->base ? NULL : pool_seg_owner(p, SEG_SIZE);
	if (!sub)
		pool_die(op, p, "invalid pointer (no segment)");
	a = pool_user(sub)[0];
	if ((uintptr_t)a - (uintptr_t)mt->arena >= sizeof(mt->arena))
		pool_die(op, p, "invalid pointer (segment of another pool)");
	o->pa = sub;
	o->a = a;
	o->lock = &a->lock;
}

/* ---- arenas (their lock held) ---- */

/* A block of the root for arena a; counted in a->root_*. */
static void *root_take(struct pool_mt *mt, struct arena *a, size_t align,
		       size_t n)
{
	void *p;

	lock(&mt->lock);
	p = pool_memalign(mt->pa, align, n);
	if (p) {
		a->root_bytes += pool_usable_size(mt->pa, p) + POOL_HDR_BYTES;
		a->root_blocks++;
	}
	unlock(&mt->lock);
	return p;
}

static void root_give(struct pool_mt *mt, struct arena *a, void *p)
{
	lock(&mt->lock);
	a->root_bytes -= pool_usable_size(mt->pa, p) + POOL_HDR_BYTES;
	a->root_blocks--;
	pool_free(mt->pa, p);
	unlock(&mt->lock);
}

static void *arena_alloc(struct pool_mt *mt, struct arena *a, size_t align,
			 size_t n)
{
	void *p, *mem;

	if (!a->pa) {
		mem = root_take(mt, a, POOL_ALIGN, pool_ctl_size());
		if (!mem)
			return NULL;
		a->pa = pool_alloc_init_sub(mem, SEG_SIZE);
		pool_user(a->pa)[0] = a;
	}
	p = pool_memalign(a->pa, align, n);
	if (p)
		return p;
	mem = root_take(mt, a, SEG_SIZE, SEG_PAYLOAD);
	if (!mem)
		return NULL;
	pool_add_segment(a->pa, mem, SEG_PAYLOAD);
	return pool_memalign(a->pa, align, n);
}

/* Free p to its owner; o->lock held. */
static void owner_free(struct pool_mt *mt, struct owner *o, void *p)
{
	void *seg;

	pool_free(o->pa, p);
	if (o->a && (seg = pool_seg_reclaim(o->pa)))
		root_give(mt, o->a, seg);
}

/* ---- thread caches ---- */

static inline void tc_push(struct tcache *tc, unsigned int c, void *p,
			   size_t size)
{
	uint64_t *w = p;

	w[0] = (uintptr_t)tc->head[c];
	w[1] = TC_MARK ^ (uintptr_t)p;
	tc->head[c] = p;
	tc->count[c]++;
	tc->bytes += size;
}

static inline void *tc_pop(struct tcache *tc, unsigned int c)
{
	uint64_t *w = tc->head[c];

	tc->head[c] = (void *)(uintptr_t)w[0];
	tc->count[c]--;
	tc->bytes -= pool_hdr_load(w) & POOL_HDR_SIZE_MASK;
	w[1] = 0;
	return w;
}

/* Return all but keep blocks of bin c to their owners.  No lock held. */
static void tc_drain_bin(struct pool_mt *mt, struct tcache *tc,
			 unsigned int c, unsigned int keep, struct held *hd)
{
	struct owner o;
	void *p;

	while (tc->count[c] > keep) {
		p = tc_pop(tc, c);
		owner_of(mt, p, pool_hdr_load(p), &o, "free");
		held_take(hd, o.lock);
		owner_free(mt, &o, p);
	}
}

static void tc_drain(struct pool_mt *mt, struct tcache *tc, int half)
{
	struct held hd = { NULL };
	unsigned int c;

	for (c = 0; c < tc_bins; c++)
		if (tc->count[c])
			tc_drain_bin(mt, tc, c, half ? tc->count[c] / 2 : 0,
				     &hd);
	held_drop(&hd);
}

static size_t class_floor(unsigned int c)
{
	if (c < POOL_SL_COUNT)
		return (size_t)c << 4;
	return (size_t)(POOL_SL_COUNT + (c & (POOL_SL_COUNT - 1))) <<
	       ((c >> POOL_SL_LOG2) + POOL_FL_SHIFT - 1 - POOL_SL_LOG2);
}

static unsigned int clamp_count(size_t n, unsigned int lo, unsigned int hi)
{
	return n < lo ? lo : n > hi ? hi : (unsigned int)n;
}

static void tc_thread_exit(void *arg);

static void tc_setup(void)
{
	unsigned int c;
	size_t floor;

	for (c = 0; c < TC_BINS; c++) {
		floor = class_floor(c) ? class_floor(c) : POOL_MIN_BLOCK;
		tc_limit[c] = clamp_count(TC_BIN_BYTES / floor, TC_MIN_COUNT,
					  TC_MAX_COUNT);
		tc_batch[c] = clamp_count(TC_REFILL_BYTES / floor, 1,
					  tc_limit[c] / 2);
	}
	/* the largest cached request must have a bin */
	tc_bins = pool_class_down(pool_class_round(
			pool_bsize(POOL_MT_CACHE_MAX_REQ))) + 1;
	if (tc_bins > TC_BINS)
		pool_die("pool_mt_init", NULL, "TC_BINS too small");
	if (pthread_key_create(&tc_key, tc_thread_exit))
		tc_key = (pthread_key_t)-1;
}

static int reg_alive(struct pool_mt *mt, uint64_t gen)
{
	int i;

	for (i = 0; i < REG_SLOTS; i++)
		if (reg[i].mt == mt && reg[i].gen == gen)
			return 1;
	return 0;
}

/* Leave the pool this thread caches for (flush, if it still exists). */
static void tc_leave(void)
{
	struct pool_mt *mt = tls.mt;
	struct tcache *tc = tls.tc;

	lock(&reg_lock);
	if (mt && tc && reg_alive(mt, tls.gen)) {
		tc_drain(mt, tc, 0);
		lock(&mt->lock);
		pool_free(mt->pa, tc);
		unlock(&mt->lock);
	}
	unlock(&reg_lock);
	tls.mt = NULL;
	tls.tc = NULL;
}

static void tc_thread_exit(void *arg)
{
	(void)arg;
	tc_leave();
	tls.dead = 1;
}

/* Slow path of tc_get(): set up this thread's cache for mt. */
static struct tcache *tc_attach(struct pool_mt *mt)
{
	struct tcache *tc;
	unsigned int i;

	if (tls.dead || !mt->cached)
		return NULL;
	if (tls.mt)
		tc_leave();
	tls.mt = mt;
	tls.gen = mt->gen;
	lock(&mt->lock);
	tc = pool_calloc(mt->pa, 1, sizeof(*tc));
	unlock(&mt->lock);
	tls.tc = tc;
	if (!tc)
		return NULL;
	if (mt->arenas) {
		i = __atomic_fetch_add(&mt->next_arena, 1, __ATOMIC_RELAXED);
		tc->arena = &mt->arena[i % mt->arenas];
	}
	if (tc_key != (pthread_key_t)-1)
		pthread_setspecific(tc_key, tc);
	return tc;
}

static inline struct tcache *tc_get(struct pool_mt *mt)
{
	if (likely(tls.mt == mt && tls.gen == mt->gen))
		return tls.tc;
	return tc_attach(mt);
}

static struct arena *my_arena(struct pool_mt *mt, struct tcache *tc)
{
	if (tc)
		return tc->arena;
	return mt->arenas ? &mt->arena[0] : NULL;
}

/* ---- allocation slow paths (no lock held on entry) ---- */

static void *root_alloc(struct pool_mt *mt, size_t align, size_t n)
{
	void *p;

	lock(&mt->lock);
	p = pool_memalign(mt->pa, align, n);
	unlock(&mt->lock);
	return p;
}

/* Arena if it fits there, else root; on ENOMEM return own cache, retry. */
static void *mt_alloc(struct pool_mt *mt, struct tcache *tc, size_t align,
		      size_t n)
{
	struct arena *a = my_arena(mt, tc);
	int saved = errno, retry = 1;
	void *p = NULL;

	for (;;) {
		if (a && n <= ARENA_MAX_REQ && align <= ARENA_MAX_ALIGN) {
			lock(&a->lock);
			p = arena_alloc(mt, a, align, n);
			unlock(&a->lock);
		}
		if (!p)
			p = root_alloc(mt, align, n);
		if (p || errno != ENOMEM || !retry-- || !tc || !tc->bytes)
			break;
		tc_drain(mt, tc, 0);
	}
	if (p)
		errno = saved;
	return p;
}

/* Bin c missed: fetch a batch of rs-byte blocks, keep all but one. */
static void *tc_refill(struct pool_mt *mt, struct tcache *tc, unsigned int c,
		       size_t rs)
{
	struct arena *a = tc->arena;
	struct pool_alloc *s;
	unsigned int i;
	void *p, *q;

	if (!a)
		return mt_alloc(mt, tc, POOL_ALIGN, rs - POOL_HDR_BYTES);
	lock(&a->lock);
	p = arena_alloc(mt, a, POOL_ALIGN, rs - POOL_HDR_BYTES);
	s = a->pa;
	for (i = 1; p && i < tc_batch[c]; i++) {
		q = pool_malloc(s, rs - POOL_HDR_BYTES);
		if (!q)
			break;
		if (pool_class_down(pool_hdr_load(q) & POOL_HDR_SIZE_MASK) != c) {
			/* unsplit tail made it a bigger class: keep T3 exact */
			pool_free(s, q);
			break;
		}
		tc_push(tc, c, q, pool_hdr_load(q) & POOL_HDR_SIZE_MASK);
	}
	unlock(&a->lock);
	if (!p)
		return mt_alloc(mt, tc, POOL_ALIGN, rs - POOL_HDR_BYTES);
	return p;
}

/* Bin c or the whole cache is full: make room for one more block. */
static void tc_overflow(struct pool_mt *mt, struct tcache *tc, unsigned int c)
{
	struct held hd = { NULL };

	if (tc->count[c] >= tc_limit[c]) {
		tc_drain_bin(mt, tc, c, tc_limit[c] / 2, &hd);
		held_drop(&hd);
	} else {
		tc_drain(mt, tc, 1);
	}
}

static void mt_release(struct pool_mt *mt, void *p, uint64_t h)
{
	struct owner o;

	owner_of(mt, p, h, &o, "free");
	lock(o.lock);
	owner_free(mt, &o, p);
	unlock(o.lock);
}

/* ---- API ---- */

void *pool_mt_malloc(struct pool_mt *mt, size_t n)
{
	struct tcache *tc = tc_get(mt);
	unsigned int c;
	size_t rs;

	if (likely(n <= POOL_MT_CACHE_MAX_REQ && tc)) {
		rs = pool_class_round(pool_bsize(n));
		c = pool_class_down(rs);
		if (likely(tc->head[c] != NULL))
			return tc_pop(tc, c);
		return tc_refill(mt, tc, c, rs);
	}
	return mt_alloc(mt, tc, POOL_ALIGN, n);
}

void pool_mt_free(struct pool_mt *mt, void *p)
{
	struct tcache *tc;
	unsigned int c;
	uint64_t h;
	size_t size;

	if (!p)
		return;
	h = mt_hdr(mt, p, "free");
	size = h & POOL_HDR_SIZE_MASK;
	c = pool_class_down(size);
	if (likely(c < tc_bins)) {
		tc = tc_get(mt);
		if (likely(tc)) {
			if (unlikely(tc->count[c] >= tc_limit[c] ||
				     tc->bytes + size > POOL_MT_CACHE_BYTES))
				tc_overflow(mt, tc, c);
			tc_push(tc, c, p, size);
			return;
		}
	}
	mt_release(mt, p, h);
}

void *pool_mt_calloc(struct pool_mt *mt, size_t nmemb, size_t n)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, n, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = pool_mt_malloc(mt, total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *pool_mt_memalign(struct pool_mt *mt, size_t align, size_t n)
{
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= POOL_ALIGN)
		return pool_mt_malloc(mt, n);
	return mt_alloc(mt, tc_get(mt), align, n);
}

void *pool_mt_realloc(struct pool_mt *mt, void *p, size_t n)
{
	struct owner o;
	size_t size, bs;
	uint64_t h;
	void *q;
	int saved = errno;

	if (!p)
		return pool_mt_malloc(mt, n);
	h = mt_hdr(mt, p, "realloc");
	size = h & POOL_HDR_SIZE_MASK;
	if (!n) {
		pool_mt_free(mt, p);
		return NULL;
	}
	bs = pool_bsize(n);
	if (!bs) {
		errno = ENOMEM;
		return NULL;
	}
	if (bs <= size && bs >= size / 2)
		return p;
	if (bs > POOL_MT_CACHE_MAX_REQ || size > POOL_MT_CACHE_MAX_REQ) {
		/* big: try in place (or within the owner) first */
		owner_of(mt, p, h, &o, "realloc");
		lock(o.lock);
		q = pool_realloc(o.pa, p, n);
		unlock(o.lock);
		if (q) {
			errno = saved;
			return q;
		}
	}
	q = pool_mt_malloc(mt, n);
	if (q) {
		size -= POOL_HDR_BYTES;
		memcpy(q, p, n < size ? n : size);
		pool_mt_free(mt, p);
		errno = saved;
	}
	return q;
}

size_t pool_mt_usable_size(struct pool_mt *mt, void *p)
{
	if (!p)
		return 0;
	return (mt_hdr(mt, p, "malloc_usable_size") & POOL_HDR_SIZE_MASK) -
	       POOL_HDR_BYTES;
}

int pool_mt_owns(const struct pool_mt *mt, const void *p)
{
	return pool_owns(mt->pa, p);
}

void pool_mt_flush(struct pool_mt *mt)
{
	if (tls.mt == mt && tls.gen == mt->gen && tls.tc)
		tc_drain(mt, tls.tc, 0);
}

size_t pool_mt_cached(struct pool_mt *mt)
{
	if (tls.mt != mt || tls.gen != mt->gen || !tls.tc)
		return 0;
	return tls.tc->bytes;
}

int pool_mt_check(struct pool_mt *mt, char *why, size_t whylen)
{
	struct arena *a;
	int i, ret = 0;

	for (i = 0; i < mt->arenas && !ret; i++) {
		a = &mt->arena[i];
		lock(&a->lock);
		if (a->pa && pool_user(a->pa)[0] != a) {
			snprintf(why, whylen, "arena %d: bad back pointer", i);
			ret = -1;
		} else if (a->pa) {
			ret = pool_check(a->pa, why, whylen);
		}
		unlock(&a->lock);
	}
	if (ret)
		return ret;
	lock(&mt->lock);
	ret = pool_check(mt->pa, why, whylen);
	unlock(&mt->lock);
	return ret;
}

/*
 * The whole pool as the user sees it: the root's figures, with the
 * blocks arenas hold of it replaced by what the arenas hold.  Still
 * overhead + in_use + free == size.
 */
void pool_mt_stats(struct pool_mt *mt, struct pool_stats *st)
{
	struct pool_stats sum = { 0 }, as;
	size_t root_bytes = 0, root_blocks = 0;
	struct arena *a;
	int i;

	for (i = 0; i < mt->arenas; i++) {
		a = &mt->arena[i];
		lock(&a->lock);
		if (a->pa) {
			pool_get_stats(a->pa, &as);
			sum.in_use += as.in_use;
			sum.free += as.free;
			sum.n_used += as.n_used;
			sum.n_free += as.n_free;
			sum.overhead += a->root_bytes - as.in_use - as.free;
			if (as.largest_free > sum.largest_free)
				sum.largest_free = as.largest_free;
			root_bytes += a->root_bytes;
			root_blocks += a->root_blocks;
		}
		unlock(&a->lock);
	}
	lock(&mt->lock);
	pool_get_stats(mt->pa, st);
	unlock(&mt->lock);
	st->in_use += sum.in_use - root_bytes;
	st->n_used += sum.n_used - root_blocks;
	st->free += sum.free;
	st->n_free += sum.n_free;
	st->overhead += sum.overhead;
	if (sum.largest_free > st->largest_free)
		st->largest_free = sum.largest_free;
}

void pool_mt_lock(struct pool_mt *mt)
{
	int i;

	for (i = 0; i < mt->arenas; i++)
		lock(&mt->arena[i].lock);
	lock(&mt->lock);
}

void pool_mt_unlock(struct pool_mt *mt)
{
	int i;

	unlock(&mt->lock);
	for (i = mt->arenas - 1; i >= 0; i--)
		unlock(&mt->arena[i].lock);
}

struct pool_alloc *pool_mt_core(struct pool_mt *mt)
{
	return mt->pa;
}

struct pool_mt *pool_mt_init(void *base, size_t size, size_t max,
			     pool_grow_fn grow, void *grow_ctx)
{
	struct pool_alloc *pa;
	struct pool_mt *mt;
	int i;

	pthread_once(&tc_once, tc_setup);
	pa = pool_alloc_init(base, size, max, grow, grow_ctx);
	if (!pa)
		return NULL;
	mt = pool_calloc(pa, 1, sizeof(*mt));
	if (!mt)
		return NULL;
	lock_init(&mt->lock);
	mt->pa = pa;
	mt->sizep = pool_size_ref(pa);
	mt->base = (uintptr_t)base;
	mt->gen = __atomic_add_fetch(&gen_counter, 1, __ATOMIC_RELAXED);
	if (max >= ARENA_MIN_POOL)
		mt->arenas = MT_ARENAS;
	for (i = 0; i < mt->arenas; i++)
		lock_init(&mt->arena[i].lock);
	lock(&reg_lock);
	for (i = 0; i < REG_SLOTS && !mt->cached; i++) {
		if (!reg[i].mt) {
			reg[i].mt = mt;
			reg[i].gen = mt->gen;
			mt->cached = 1;
		}
	}
	unlock(&reg_lock);
	return mt;
}

void pool_mt_abandon(struct pool_mt *mt)
{
	int i;

	lock(&reg_lock);
	for (i = 0; i < REG_SLOTS; i++) {
		if (reg[i].mt == mt) {
			reg[i].mt = NULL;
			reg[i].gen = 0;
		}
	}
	unlock(&reg_lock);
	if (tls.mt == mt) {
		tls.mt = NULL;
		tls.tc = NULL;
	}
}

void pool_mt_destroy(struct pool_mt *mt)
{
	int i;

	lock(&reg_lock);
	for (i = 0; i < REG_SLOTS; i++) {
		if (reg[i].mt == mt && reg[i].gen == mt->gen) {
			reg[i].mt = NULL;
			reg[i].gen = 0;
		}
	}
	unlock(&reg_lock);
	if (tls.mt == mt) {
		tls.mt = NULL;
		tls.tc = NULL;
	}
	for (i = 0; i < mt->arenas; i++)
		pthread_mutex_destroy(&mt->arena[i].lock);
	pthread_mutex_destroy(&mt->lock);
}
