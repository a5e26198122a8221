// SPDX-License-Identifier: Apache-2.0
/*
 * test_pool_alloc.c - host tests of the heaphook allocator (pool_alloc.c
 * core and pool_thread.c front-end) over anonymous mmap regions.
 * TAP output; exit status 1 if any test fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../libagnocast/pool_alloc.h"
#include "../../../libagnocast/pool_thread.h"
#include "region.h"
#include "tap.h"

#define KB		1024UL
#define MB		(1024UL * 1024)
#define UNIT		POOL_GROW_UNIT

static char why[256];

/* ---- deterministic randomness and block patterns ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t pat_word(uint64_t id, size_t i)
{
	return (id * 0x9e3779b97f4a7c15ULL) ^ (i * 0xff51afd7ed558ccdULL);
}

static void pat_fill(void *p, size_t from, size_t to, uint64_t id)
{
	unsigned char *c = p;
	uint64_t v;
	size_t i = from & ~7UL;

	for (; i < to; i += 8) {
		v = pat_word(id, i);
		if (i >= from && i + 8 <= to)
			memcpy(c + i, &v, 8);
		else
			for (size_t j = i < from ? from : i; j < i + 8 && j < to; j++)
				c[j] = ((unsigned char *)&v)[j - i];
	}
}

/* Offset of the first byte that does not match, or -1. */
static long pat_verify(const void *p, size_t n, uint64_t id)
{
	const unsigned char *c = p;
	uint64_t v;
	size_t i, j;

	for (i = 0; i < n; i += 8) {
		v = pat_word(id, i);
		if (i + 8 <= n && !memcmp(c + i, &v, 8))
			continue;
		for (j = i; j < i + 8 && j < n; j++)
			if (c[j] != ((unsigned char *)&v)[j - i])
				return (long)j;
	}
	return -1;
}

/* ---- one interface over the core and the front-end ---- */

struct ops {
	const char *name;
	void *(*malloc)(void *h, size_t n);
	void *(*calloc)(void *h, size_t m, size_t n);
	void *(*memalign)(void *h, size_t a, size_t n);
	void *(*realloc)(void *h, void *p, size_t n);
	void (*free)(void *h, void *p);
	size_t (*usable)(void *h, void *p);
	int (*check)(void *h, char *why, size_t len);
	void (*stats)(void *h, struct pool_stats *st);
	int (*owns)(void *h, const void *p);
};

#define WRAP(pfx, T)							\
static void *pfx##_malloc_(void *h, size_t n)				\
{ return pfx##_malloc((T)h, n); }					\
static void *pfx##_calloc_(void *h, size_t m, size_t n)			\
{ return pfx##_calloc((T)h, m, n); }					\
static void *pfx##_memalign_(void *h, size_t a, size_t n)		\
{ return pfx##_memalign((T)h, a, n); }					\
static void *pfx##_realloc_(void *h, void *p, size_t n)			\
{ return pfx##_realloc((T)h, p, n); }					\
static void pfx##_free_(void *h, void *p)				\
{ pfx##_free((T)h, p); }						\
static size_t pfx##_usable_(void *h, void *p)				\
{ return pfx##_usable_size((T)h, p); }					\
static int pfx##_check_(void *h, char *w, size_t l)			\
{ return pfx##_check((T)h, w, l); }					\
static int pfx##_owns_(void *h, const void *p)				\
{ return pfx##_owns((T)h, p); }

WRAP(pool, struct pool_alloc *)
WRAP(pool_mt, struct pool_mt *)

static void pool_stats_(void *h, struct pool_stats *st)
{
	pool_get_stats(h, st);
}

static void pool_mt_stats_(void *h, struct pool_stats *st)
{
	pool_mt_stats(h, st);
}

static const struct ops core_ops = {
	"core", pool_malloc_, pool_calloc_, pool_memalign_, pool_realloc_,
	pool_free_, pool_usable_, pool_check_, pool_stats_, pool_owns_,
};

static const struct ops mt_ops = {
	"mt", pool_mt_malloc_, pool_mt_calloc_, pool_mt_memalign_,
	pool_mt_realloc_, pool_mt_free_, pool_mt_usable_, pool_mt_check_,
	pool_mt_stats_, pool_mt_owns_,
};

/* ---- fixtures ---- */

static struct region rg;

static struct pool_alloc *core_open(size_t size, size_t max)
{
	if (region_open(&rg, size, max))
		return NULL;
	return pool_alloc_init(rg.base, size, max, region_grow, &rg);
}

static int core_ok(struct pool_alloc *pa)
{
	return pool_check(pa, why, sizeof(why)) == 0;
}

/* Every block free and merged into one. */
static int core_empty(struct pool_alloc *pa)
{
	struct pool_stats st;

	pool_get_stats(pa, &st);
	return core_ok(pa) && st.n_used == 0 && st.n_free == 1 &&
	       st.largest_free == st.free &&
	       st.overhead + st.free == st.size;
}

/* ---- basic API ---- */

static int t_init_args(void)
{
	char buf[64 * KB] __attribute__((aligned(16)));

	errno = 0;
	CHECK(!pool_alloc_init(buf, 32 * KB, 16 * KB, NULL, NULL) &&
	      errno == EINVAL, "size > max accepted");
	CHECK(!pool_alloc_init(buf + 8, 32 * KB, 32 * KB, NULL, NULL),
	      "misaligned base accepted");
	CHECK(!pool_alloc_init(buf, 256, 32 * KB, NULL, NULL),
	      "tiny size accepted");
	CHECK(!pool_alloc_init(buf, 32 * KB, POOL_MAX_SIZE * 2, NULL, NULL),
	      "max > POOL_MAX_SIZE accepted");
	CHECK(!pool_alloc_init(NULL, 32 * KB, 32 * KB, NULL, NULL),
	      "NULL base accepted");
	CHECK(pool_alloc_init(buf, sizeof(buf), sizeof(buf), NULL, NULL),
	      "valid init refused");
	CHECK(core_empty((struct pool_alloc *)buf), "fresh pool: %s", why);
	return 0;
}

static int t_malloc_basic(void)
{
	struct pool_alloc *pa = core_open(UNIT, 16 * UNIT);
	void *p[1100];
	size_t n;

	CHECK(pa, "init failed");
	for (n = 0; n < 1100; n++) {
		p[n] = pool_malloc(pa, n);
		CHECK(p[n], "malloc(%zu) failed", n);
		CHECK(((uintptr_t)p[n] & 15) == 0, "malloc(%zu) misaligned", n);
		CHECK(pool_usable_size(pa, p[n]) >= n &&
		      pool_usable_size(pa, p[n]) <= n + 24,
		      "usable_size(malloc(%zu)) = %zu", n,
		      pool_usable_size(pa, p[n]));
		CHECK(pool_owns(pa, p[n]), "not owned");
		memset(p[n], 0xa5, pool_usable_size(pa, p[n]));
		if (n % 97 == 0)
			CHECK(core_ok(pa), "%s", why);
	}
	CHECK(p[0] != p[1], "malloc(0) not unique");
	CHECK(core_ok(pa), "%s", why);
	for (n = 0; n < 1100; n += 2)
		pool_free(pa, p[n]);
	CHECK(core_ok(pa), "after freeing evens: %s", why);
	for (n = 1; n < 1100; n += 2)
		pool_free(pa, p[n]);
	pool_free(pa, NULL);
	CHECK(core_empty(pa), "not fully merged: %s", why);
	region_close(&rg);
	return 0;
}

static int t_owns(void)
{
	struct pool_alloc *pa = core_open(UNIT, 4 * UNIT);
	int local;

	CHECK(pa, "init failed");
	CHECK(pool_owns(pa, rg.base) && pool_owns(pa, rg.base + 4 * UNIT - 1),
	      "range ends not owned");
	CHECK(!pool_owns(pa, rg.base - 1) && !pool_owns(pa, rg.base + 4 * UNIT),
	      "outside range owned");
	CHECK(!pool_owns(pa, &local) && !pool_owns(pa, NULL), "stack owned");
	region_close(&rg);
	return 0;
}

static int t_stats(void)
{
	struct pool_alloc *pa = core_open(4 * UNIT, 4 * UNIT);
	struct pool_stats st;
	void *a, *b;

	CHECK(pa, "init failed");
	a = pool_malloc(pa, 1000);
	b = pool_malloc(pa, 5000);
	pool_get_stats(pa, &st);
	CHECK(st.n_used == 2 && st.n_free == 1, "counts %zu/%zu", st.n_used,
	      st.n_free);
	CHECK(st.in_use >= 6000 && st.in_use <= 6000 + 64, "in_use %zu",
	      st.in_use);
	CHECK(st.overhead + st.in_use + st.free == st.size, "sum");
	CHECK(st.largest_free == st.free && st.size == 4 * UNIT &&
	      st.max == 4 * UNIT, "largest %zu free %zu", st.largest_free,
	      st.free);
	pool_free(pa, a);
	pool_get_stats(pa, &st);
	CHECK(st.n_free == 2 && st.largest_free < st.free, "after free");
	pool_free(pa, b);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

static int t_memalign(void)
{
	static const size_t sizes[] = { 0, 1, 16, 100, 4096, 10000 };
	struct pool_alloc *pa = core_open(UNIT, 64 * MB);
	void *p[21 * 6];
	size_t a, i, k = 0;

	CHECK(pa, "init failed");
	for (a = 1; a <= MB; a <<= 1) {
		for (i = 0; i < 6; i++) {
			p[k] = pool_memalign(pa, a, sizes[i]);
			CHECK(p[k], "memalign(%zu, %zu) failed", a, sizes[i]);
			CHECK(((uintptr_t)p[k] & (a - 1)) == 0 &&
			      ((uintptr_t)p[k] & 15) == 0,
			      "memalign(%zu, %zu) = %p", a, sizes[i], p[k]);
			CHECK(pool_usable_size(pa, p[k]) >= sizes[i], "usable");
			memset(p[k], 0x5a, sizes[i]);
			k++;
		}
		CHECK(core_ok(pa), "align %zu: %s", a, why);
	}
	for (i = 0; i < k; i += 2)
		pool_free(pa, p[i]);
	CHECK(core_ok(pa), "%s", why);
	for (i = 1; i < k; i += 2)
		pool_free(pa, p[i]);
	CHECK(core_empty(pa), "%s", why);
	errno = 0;
	CHECK(!pool_memalign(pa, 24, 10) && errno == EINVAL, "align 24");
	errno = 0;
	CHECK(!pool_memalign(pa, 0, 10) && errno == EINVAL, "align 0");
	errno = 0;
	CHECK(!pool_memalign(pa, 3, 10) && errno == EINVAL, "align 3");
	errno = 0;
	CHECK(!pool_memalign(pa, 128 * MB, 10) && errno == ENOMEM,
	      "align > max");
	region_close(&rg);
	return 0;
}

static int t_calloc(void)
{
	struct pool_alloc *pa = core_open(UNIT, 4 * UNIT);
	unsigned char *p;
	size_t i;

	CHECK(pa, "init failed");
	p = pool_malloc(pa, 3000);
	memset(p, 0xff, 3000);
	pool_free(pa, p);
	p = pool_calloc(pa, 30, 100);
	CHECK(p, "calloc failed");
	for (i = 0; i < 3000; i++)
		CHECK(!p[i], "byte %zu not zero", i);
	pool_free(pa, p);
	errno = 0;
	CHECK(!pool_calloc(pa, SIZE_MAX / 2, 3) && errno == ENOMEM,
	      "overflowing calloc");
	errno = 0;
	CHECK(!pool_calloc(pa, (size_t)1 << 33, (size_t)1 << 33) &&
	      errno == ENOMEM, "overflowing calloc 2^66");
	p = pool_calloc(pa, 0, 100);
	CHECK(p, "calloc(0, 100)");
	pool_free(pa, p);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

static int t_realloc(void)
{
	struct pool_alloc *pa = core_open(4 * UNIT, 4 * UNIT);
	unsigned char *p, *q, *fence;
	struct pool_stats st;

	CHECK(pa, "init failed");
	p = pool_realloc(pa, NULL, 1000);
	CHECK(p, "realloc(NULL)");
	pat_fill(p, 0, 1000, 1);
	q = pool_realloc(pa, p, 200);
	CHECK(q == p && pat_verify(q, 200, 1) < 0, "shrink moved or lost data");
	q = pool_realloc(pa, p, 5000);
	CHECK(q == p && pat_verify(q, 200, 1) < 0,
	      "grow into free successor moved or lost data");
	pat_fill(q, 200, 5000, 1);
	fence = pool_malloc(pa, 10);
	q = pool_realloc(pa, p, 9000);
	CHECK(q && q != p && pat_verify(q, 5000, 1) < 0, "moving grow");
	CHECK(core_ok(pa), "%s", why);
	errno = 0;
	CHECK(!pool_realloc(pa, q, 100 * MB) && errno == ENOMEM,
	      "too big realloc");
	CHECK(pat_verify(q, 5000, 1) < 0, "failed realloc damaged data");
	CHECK(!pool_realloc(pa, q, SIZE_MAX - 4) && errno == ENOMEM,
	      "SIZE_MAX realloc");
	pool_get_stats(pa, &st);
	CHECK(st.n_used == 2, "n_used %zu", st.n_used);
	CHECK(!pool_realloc(pa, q, 0), "realloc(p, 0) must free");
	pool_get_stats(pa, &st);
	CHECK(st.n_used == 1, "realloc(p, 0) did not free");
	pool_free(pa, fence);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

/* The whole free space in one request: needs the first-fit scan. */
static int t_exact_fit(void)
{
	struct pool_alloc *pa = core_open(8 * UNIT, 8 * UNIT);
	struct pool_stats st;
	void *p;

	CHECK(pa, "init failed");
	pool_get_stats(pa, &st);
	p = pool_malloc(pa, st.largest_free - POOL_HDR_BYTES);
	CHECK(p, "malloc(largest free - 8) failed");
	pool_get_stats(pa, &st);
	CHECK(st.free == 0 && st.n_free == 0, "free left %zu", st.free);
	errno = 0;
	CHECK(!pool_malloc(pa, 0) && errno == ENOMEM, "full pool gave memory");
	pool_free(pa, p);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

/* ---- growth ---- */

static int t_grow(void)
{
	struct pool_alloc *pa = core_open(UNIT, 200 * UNIT);
	struct pool_stats st;
	void *p[40];
	int i;

	CHECK(pa, "init failed");
	for (i = 0; i < 40; i++) {
		p[i] = pool_malloc(pa, 50000 + i);
		CHECK(p[i], "malloc %d failed (size %zu)", i, rg.size);
		pat_fill(p[i], 0, 50000 + i, i);
	}
	CHECK(rg.calls > 0 && !rg.bad_calls, "grow calls %d, bad %d", rg.calls,
	      rg.bad_calls);
	pool_get_stats(pa, &st);
	CHECK(st.size == rg.size && st.grows == (size_t)rg.calls,
	      "size %zu vs region %zu", st.size, rg.size);
	CHECK(st.size >= 40 * 50000 && st.size <= 200 * UNIT, "size %zu",
	      st.size);
	for (i = 0; i < 40; i++)
		CHECK(pat_verify(p[i], 50000 + i, i) < 0, "block %d damaged", i);
	CHECK(core_ok(pa), "%s", why);
	for (i = 0; i < 40; i++)
		pool_free(pa, p[i]);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

/* realloc of the last block grows the pool and stays in place. */
static int t_grow_realloc_in_place(void)
{
	struct pool_alloc *pa = core_open(UNIT, 100 * UNIT);
	void *p, *q;

	CHECK(pa, "init failed");
	p = pool_malloc(pa, 60000);
	pat_fill(p, 0, 60000, 7);
	q = pool_realloc(pa, p, 3 * UNIT);
	CHECK(q == p, "moved (%p -> %p)", p, q);
	CHECK(rg.calls >= 1 && rg.size >= 3 * UNIT, "no growth");
	CHECK(pat_verify(q, 60000, 7) < 0, "data lost");
	pool_free(pa, q);
	p = pool_malloc(pa, 100);
	q = pool_malloc(pa, 100);
	CHECK(pool_realloc(pa, q, rg.size) == q, "used last block not extended");
	pool_free(pa, p);
	pool_free(pa, q);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

/* grow() refusing the doubled size: the bare need is asked next. */
static int t_grow_fallback(void)
{
	struct pool_alloc *pa = core_open(4 * UNIT, 100 * UNIT);
	void *p;

	CHECK(pa, "init failed");
	rg.limit = 5 * UNIT;
	p = pool_malloc(pa, 4 * UNIT);
	CHECK(p, "fallback growth failed");
	CHECK(rg.size == 5 * UNIT && rg.calls == 2, "size %zu calls %d",
	      rg.size, rg.calls);
	rg.refuse = 1;
	errno = 0;
	CHECK(!pool_malloc(pa, 2 * UNIT) && errno == ENOMEM,
	      "refused growth gave memory");
	CHECK(rg.size == 5 * UNIT && core_ok(pa), "%s", why);
	pool_free(pa, p);
	CHECK(core_empty(pa), "%s", why);
	region_close(&rg);
	return 0;
}

static int t_exhaustion(void)
{
	size_t max = 10 * UNIT + 4096;	/* not a multiple of the unit */
	struct pool_alloc *pa = core_open(UNIT, max);
	struct pool_stats st;
	static void *p[200];
	size_t total = 0;
	int n = 0;

	CHECK(pa, "init failed");
	for (;;) {
		errno = 0;
		p[n] = pool_malloc(pa, 10000);
		if (!p[n])
			break;
		total += 10000;
		CHECK(++n < 200, "never ran out");
	}
	CHECK(errno == ENOMEM, "errno %d", errno);
	CHECK(rg.size == max && !rg.bad_calls, "size %zu bad %d", rg.size,
	      rg.bad_calls);
	CHECK(total > max - 2 * 10000 - 16 * KB, "only %zu of %zu", total, max);
	errno = 0;
	CHECK(!pool_malloc(pa, max) && errno == ENOMEM, "malloc(max)");
	CHECK(!pool_memalign(pa, 4096, 20000) && errno == ENOMEM, "memalign");
	CHECK(core_ok(pa), "%s", why);
	while (n--)
		pool_free(pa, p[n]);
	CHECK(core_empty(pa), "%s", why);
	pool_get_stats(pa, &st);
	CHECK(st.size == max, "size %zu", st.size);
	CHECK(pool_malloc(pa, st.largest_free - 8), "whole pool not reusable");
	region_close(&rg);
	return 0;
}

/* Fixed pool (grow == NULL) never calls anything. */
static int t_fixed(void)
{
	char *buf = aligned_alloc(4096, 64 * KB);
	struct pool_alloc *pa = pool_alloc_init(buf, 64 * KB, 64 * KB, NULL,
						NULL);

	CHECK(pa, "init failed");
	errno = 0;
	CHECK(!pool_malloc(pa, 64 * KB) && errno == ENOMEM, "fixed pool grew");
	CHECK(pool_malloc(pa, 40 * KB), "fixed pool malloc");
	CHECK(core_ok(pa), "%s", why);
	free(buf);
	return 0;
}

/* ---- size classes (what the front-end relies on) ---- */

static int t_classes(void)
{
	size_t s, r, step;
	unsigned int c, prev = 0;

	for (s = POOL_MIN_BLOCK; s < ((size_t)1 << 39); s += step) {
		step = s < 1 * MB ? 16 : s >> 7;
		step &= ~15UL;
		c = pool_class_down(s);
		CHECK(c >= prev, "class not monotonic at %zu", s);
		CHECK(c < POOL_FL_COUNT * POOL_SL_COUNT, "class %u out of range",
		      c);
		r = pool_class_round(s);
		CHECK(r >= s && r - s <= s / 32 + 15, "round(%zu) = %zu", s, r);
		/* r is a class floor, so every block of its class is >= s */
		CHECK(pool_class_down(r - 16) < pool_class_down(r),
		      "round(%zu) = %zu is not a class floor", s, r);
		prev = c;
	}
	CHECK(pool_bsize(0) == POOL_MIN_BLOCK && pool_bsize(24) == 32 &&
	      pool_bsize(25) == 48 && pool_bsize(SIZE_MAX) == 0, "bsize");
	return 0;
}

/* ---- sub-pools: segments added by the caller ---- */

#define SEG	(64 * KB)

static int t_sub_pool(void)
{
	char *mem = aligned_alloc(SEG, 4 * SEG), *ctl = aligned_alloc(16, 16 * KB);
	static void *p[2000];
	struct pool_alloc *sub;
	struct pool_stats st;
	size_t sizes[3] = { SEG - 48, SEG / 2, SEG };
	int n = 0, i, back = 0;
	char *seg;

	errno = 0;
	CHECK(!pool_alloc_init_sub(ctl, 3 * SEG) && errno == EINVAL,
	      "non-power-of-two segment alignment accepted");
	CHECK(pool_ctl_size() <= 16 * KB, "control block %zu", pool_ctl_size());
	sub = pool_alloc_init_sub(ctl, SEG);
	CHECK(sub, "init_sub failed");
	errno = 0;
	CHECK(!pool_malloc(sub, 10) && errno == ENOMEM, "empty sub-pool gave memory");
	CHECK(pool_add_segment(sub, mem + 16, 1000) && errno == EINVAL,
	      "misaligned segment accepted");
	CHECK(pool_add_segment(sub, mem, SEG + 16) && errno == EINVAL,
	      "segment larger than its alignment accepted");
	for (i = 0; i < 3; i++)
		CHECK(!pool_add_segment(sub, mem + i * SEG, sizes[i]),
		      "add segment %d", i);
	CHECK(core_ok(sub), "%s", why);
	while ((p[n] = pool_malloc(sub, 100 + (n % 7) * 300))) {
		seg = (char *)((uintptr_t)p[n] & ~(SEG - 1));
		CHECK(pool_seg_owner(p[n], SEG) == sub, "owner of %p", p[n]);
		CHECK((char *)p[n] + pool_usable_size(sub, p[n]) <= seg + SEG,
		      "block crosses its segment");
		CHECK((pool_hdr_load(p[n]) & POOL_HDR_MAGIC_MASK) ==
		      POOL_HDR_MAGIC_SUB, "header magic");
		pat_fill(p[n], 0, 100 + (n % 7) * 300, n);
		CHECK(++n < 2000, "never ran out");
	}
	CHECK(errno == ENOMEM && n > 100, "errno %d after %d", errno, n);
	CHECK(core_ok(sub), "full: %s", why);
	pool_get_stats(sub, &st);
	CHECK(st.size == sizes[0] + sizes[1] + sizes[2] &&
	      st.overhead + st.in_use + st.free == st.size, "stats");
	for (i = 0; i < n; i++) {
		CHECK(pat_verify(p[i], 100 + (i % 7) * 300, i) < 0, "damaged");
		pool_free(sub, p[i]);
		if (pool_seg_reclaim(sub))
			back++;
	}
	CHECK(back == 2, "%d segments handed back, expected 2", back);
	pool_get_stats(sub, &st);
	CHECK(st.n_used == 0 && st.n_free == 1 && st.largest_free == st.free,
	      "after freeing: used %zu free blocks %zu", st.n_used, st.n_free);
	CHECK(core_ok(sub), "%s", why);
	CHECK(!pool_seg_owner(mem + 5 * KB, SEG) ||
	      pool_seg_owner(mem + 5 * KB, SEG) == sub, "stale owner");
	free(ctl);
	free(mem);
	return 0;
}

/* ---- invalid use: must abort with one line on stderr ---- */

static int expect_abort(void (*fn)(void *), void *arg, const char *needle)
{
	char out[512] = "";
	int fds[2], status;
	ssize_t n = 0, got;
	pid_t pid;

	if (pipe(fds))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while ((got = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += got;
	close(fds[0]);
	out[n] = 0;
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		tap_note(__LINE__, "no SIGABRT (status %#x) for '%s'", status,
			 needle);
		return -1;
	}
	if (!strstr(out, needle) || !strstr(out, "pool_alloc: ")) {
		tap_note(__LINE__, "message '%s' lacks '%s'", out, needle);
		return -1;
	}
	return 0;
}

static struct pool_alloc *bad_pa;

static void bad_double_free(void *arg)
{
	(void)arg;
	void *p = pool_malloc(bad_pa, 100);

	pool_malloc(bad_pa, 100);
	pool_free(bad_pa, p);
	pool_free(bad_pa, p);
}

static void bad_double_free_merged(void *arg)
{
	(void)arg;
	void *a = pool_malloc(bad_pa, 100), *b = pool_malloc(bad_pa, 100);

	pool_malloc(bad_pa, 100);
	pool_free(bad_pa, a);
	pool_free(bad_pa, b);	/* merges into a */
	pool_free(bad_pa, b);
}

static void bad_interior(void *arg)
{
	(void)arg;
	char *p = pool_calloc(bad_pa, 1, 100);

	pool_free(bad_pa, p + 32);
}

static void bad_misaligned(void *arg)
{
	(void)arg;
	char *p = pool_malloc(bad_pa, 100);

	pool_free(bad_pa, p + 1);
}

static void bad_foreign(void *arg)
{
	char local[64];

	(void)arg;
	pool_free(bad_pa, local);
}

static void bad_realloc_freed(void *arg)
{
	(void)arg;
	void *p = pool_malloc(bad_pa, 100);

	pool_malloc(bad_pa, 100);
	pool_free(bad_pa, p);
	pool_realloc(bad_pa, p, 200);
}

static void bad_usable_freed(void *arg)
{
	(void)arg;
	void *p = pool_malloc(bad_pa, 100);

	pool_malloc(bad_pa, 100);
	pool_free(bad_pa, p);
	pool_usable_size(bad_pa, p);
}

static struct pool_alloc *bad_sub;

static void bad_sub_interior(void *arg)
{
	(void)arg;
	char *p = pool_calloc(bad_sub, 1, 200);

	pool_free(bad_sub, p + 64);
}

static void bad_sub_double(void *arg)
{
	(void)arg;
	char *p = pool_malloc(bad_sub, 200);

	pool_malloc(bad_sub, 200);
	pool_free(bad_sub, p);
	pool_free(bad_sub, p);
}

static int t_bad_free_sub(void)
{
	char *mem = aligned_alloc(SEG, SEG), *ctl = aligned_alloc(16, 16 * KB);

	bad_sub = pool_alloc_init_sub(ctl, SEG);
	CHECK(bad_sub && !pool_add_segment(bad_sub, mem, SEG), "set-up");
	if (expect_abort(bad_sub_interior, NULL, "invalid pointer") ||
	    expect_abort(bad_sub_double, NULL, "double free"))
		return -1;
	free(mem);
	free(ctl);
	return 0;
}

static int t_bad_free(void)
{
	bad_pa = core_open(UNIT, UNIT);
	CHECK(bad_pa, "init failed");
	if (expect_abort(bad_double_free, NULL, "double free") ||
	    expect_abort(bad_double_free_merged, NULL, "double free") ||
	    expect_abort(bad_interior, NULL, "invalid pointer") ||
	    expect_abort(bad_misaligned, NULL, "invalid pointer") ||
	    expect_abort(bad_foreign, NULL, "invalid pointer") ||
	    expect_abort(bad_realloc_freed, NULL, "realloc(") ||
	    expect_abort(bad_usable_freed, NULL, "double free"))
		return -1;
	CHECK(core_empty(bad_pa), "parent pool touched: %s", why);
	region_close(&rg);
	return 0;
}

static struct pool_mt *bad_mt;

static void bad_mt_cached(void *arg)
{
	(void)arg;
	void *p = pool_mt_malloc(bad_mt, 100);

	pool_mt_free(bad_mt, p);
	pool_mt_free(bad_mt, p);
}

static void bad_mt_flushed(void *arg)
{
	(void)arg;
	void *p = pool_mt_malloc(bad_mt, 100);

	pool_mt_malloc(bad_mt, 100);
	pool_mt_free(bad_mt, p);
	pool_mt_flush(bad_mt);
	pool_mt_free(bad_mt, p);
}

static void bad_mt_big(void *arg)
{
	(void)arg;
	void *p = pool_mt_malloc(bad_mt, 200000);

	pool_mt_malloc(bad_mt, 100);
	pool_mt_free(bad_mt, p);
	pool_mt_free(bad_mt, p);
}

static void bad_mt_glibc(void *arg)
{
	(void)arg;
	pool_mt_free(bad_mt, malloc(100));
}

static void bad_mt_realloc_cached(void *arg)
{
	(void)arg;
	void *p = pool_mt_malloc(bad_mt, 100);

	pool_mt_free(bad_mt, p);
	pool_mt_realloc(bad_mt, p, 50);
}

static int t_bad_free_mt(void)
{
	CHECK(!region_open(&rg, UNIT, 100 * UNIT), "region");
	bad_mt = pool_mt_init(rg.base, UNIT, 100 * UNIT, region_grow, &rg);
	CHECK(bad_mt, "init failed");
	if (expect_abort(bad_mt_cached, NULL, "thread cache") ||
	    expect_abort(bad_mt_flushed, NULL, "already free") ||
	    expect_abort(bad_mt_big, NULL, "double free") ||
	    expect_abort(bad_mt_glibc, NULL, "invalid pointer") ||
	    expect_abort(bad_mt_realloc_cached, NULL, "realloc("))
		return -1;
	CHECK(!pool_mt_check(bad_mt, why, sizeof(why)), "%s", why);
	pool_mt_destroy(bad_mt);
	region_close(&rg);
	return 0;
}

/* ---- randomized traces against a shadow model ---- */

struct slot {
	unsigned char *p;
	size_t n;
	uint64_t id;
};

struct mailbox {
	pthread_mutex_t lock;
	struct slot s[64];
	int n;
};

struct trace {
	const struct ops *ops;
	void *h;
	uint64_t seed;
	long ops_count;
	int nslots;
	int check_every;	/* run the pool check every so many ops */
	int tight;		/* pool may run out: NULL/ENOMEM allowed */
	uint64_t id_base;
	struct mailbox *mb;	/* cross-thread hand-off, or NULL */
	long nulls;
	char why[200];
	char err[320];
};

static size_t rand_size(uint64_t *s)
{
	uint64_t r = rnd(s);

	switch (r % 100) {
	case 0:
		return 0;
	case 1 ... 69:
		return (r >> 8) % 257;
	case 70 ... 94:
		return 257 + (r >> 8) % 3840;
	default:
		return 4097 + (r >> 8) % (61 * 1024);
	}
}

#define TFAIL(t, ...)							\
	do {								\
		snprintf((t)->err, sizeof((t)->err), __VA_ARGS__);	\
		return -1;						\
	} while (0)

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

/* No two live blocks' usable ranges overlap. */
static int trace_overlap(struct trace *t, struct slot *sl)
{
	struct slot *tmp = malloc(sizeof(*tmp) * t->nslots);
	int i, n = 0, ret = 0;

	for (i = 0; i < t->nslots; i++)
		if (sl[i].p)
			tmp[n++] = sl[i];
	qsort(tmp, n, sizeof(*tmp), slot_cmp);
	for (i = 1; i < n && !ret; i++)
		if (tmp[i - 1].p + t->ops->usable(t->h, tmp[i - 1].p) >
		    tmp[i].p)
			ret = -1;
	free(tmp);
	if (ret)
		TFAIL(t, "live blocks overlap");
	return 0;
}

static int trace_new(struct trace *t, struct slot *s, uint64_t *rs,
		     uint64_t *next_id)
{
	uint64_t r = rnd(rs);
	size_t n = rand_size(rs), align = 16, i;
	unsigned char *p;

	if (r % 10 < 6) {
		p = t->ops->malloc(t->h, n);
	} else if (r % 10 < 8) {
		p = t->ops->calloc(t->h, 1, n);
		for (i = 0; p && i < n; i++)
			if (p[i])
				TFAIL(t, "calloc byte %zu not zero", i);
	} else {
		align = (size_t)1 << ((r >> 8) % 17);
		p = t->ops->memalign(t->h, align, n);
	}
	if (!p) {
		if (!t->tight || errno != ENOMEM)
			TFAIL(t, "alloc of %zu failed, errno %d", n, errno);
		t->nulls++;
		return 0;
	}
	if ((uintptr_t)p & ((align < 16 ? 16 : align) - 1))
		TFAIL(t, "%p not aligned to %zu", (void *)p, align);
	if (t->ops->usable(t->h, p) < n || !t->ops->owns(t->h, p))
		TFAIL(t, "usable %zu < %zu", t->ops->usable(t->h, p), n);
	s->p = p;
	s->n = n;
	s->id = t->id_base + (*next_id)++;
	pat_fill(p, 0, n, s->id);
	return 0;
}

static int trace_old(struct trace *t, struct slot *s, uint64_t *rs)
{
	uint64_t r = rnd(rs);
	long bad = pat_verify(s->p, s->n, s->id);
	size_t n;
	unsigned char *q;

	if (bad >= 0)
		TFAIL(t, "block id %#llx size %zu damaged at %ld",
		      (unsigned long long)s->id, s->n, bad);
	if (r % 10 < 6) {
		t->ops->free(t->h, s->p);
		s->p = NULL;
		return 0;
	}
	n = rand_size(rs);
	if (r % 64 == 63)
		n = 0;
	q = t->ops->realloc(t->h, s->p, n);
	if (!n) {
		if (q)
			TFAIL(t, "realloc(p, 0) returned %p", (void *)q);
		s->p = NULL;
		return 0;
	}
	if (!q) {
		if (!t->tight || errno != ENOMEM)
			TFAIL(t, "realloc to %zu failed, errno %d", n, errno);
		t->nulls++;
		return 0;
	}
	if (((uintptr_t)q & 15) || t->ops->usable(t->h, q) < n)
		TFAIL(t, "realloc result %p bad", (void *)q);
	bad = pat_verify(q, n < s->n ? n : s->n, s->id);
	if (bad >= 0)
		TFAIL(t, "realloc %zu -> %zu lost data at %ld", s->n, n, bad);
	if (n > s->n)
		pat_fill(q, s->n, n, s->id);
	s->p = q;
	s->n = n;
	return 0;
}

/* Move s to or from the mailbox; returns 1 if it did. */
static int trace_mail(struct trace *t, struct slot *s, uint64_t r)
{
	struct mailbox *mb = t->mb;
	int done = 0;

	if (!mb || r % 50)
		return 0;
	pthread_mutex_lock(&mb->lock);
	if (s->p && mb->n < 64) {
		mb->s[mb->n++] = *s;
		s->p = NULL;
		done = 1;
	} else if (!s->p && mb->n > 0) {
		*s = mb->s[--mb->n];
		done = 1;
	}
	pthread_mutex_unlock(&mb->lock);
	return done;
}

static int trace_run(struct trace *t)
{
	struct slot *sl = calloc(t->nslots, sizeof(*sl));
	uint64_t rs = t->seed, next_id = 1, r;
	long i;
	int k, ret = 0;

	for (i = 0; i < t->ops_count && !ret; i++) {
		r = rnd(&rs);
		k = r % t->nslots;
		if (trace_mail(t, &sl[k], r >> 32))
			continue;
		if (sl[k].p)
			ret = trace_old(t, &sl[k], &rs);
		else
			ret = trace_new(t, &sl[k], &rs, &next_id);
		if (!ret && i % t->check_every == 0 &&
		    t->ops->check(t->h, t->why, sizeof(t->why)))
			TFAIL(t, "op %ld: %s", i, t->why);
		if (!ret && i % (t->check_every * 4) == 0)
			ret = trace_overlap(t, sl);
	}
	for (k = 0; k < t->nslots && !ret; k++) {
		if (!sl[k].p)
			continue;
		if (pat_verify(sl[k].p, sl[k].n, sl[k].id) >= 0)
			TFAIL(t, "final: block damaged");
		t->ops->free(t->h, sl[k].p);
	}
	free(sl);
	return ret;
}

static int run_core_trace(uint64_t seed, size_t size, size_t max, int tight)
{
	struct pool_alloc *pa = core_open(size, max);
	struct trace t = {
		.ops = &core_ops, .h = pa, .seed = seed, .ops_count = 200000,
		.nslots = 2000, .check_every = 2500, .tight = tight,
	};

	CHECK(pa, "init failed");
	CHECK(!trace_run(&t), "seed %llu: %s", (unsigned long long)seed, t.err);
	CHECK(!rg.bad_calls, "bad grow calls");
	CHECK(!tight || t.nulls > 0, "tight pool never ran out");
	CHECK(core_empty(pa), "after trace: %s", why);
	region_close(&rg);
	return 0;
}

static int t_trace1(void)
{
	return run_core_trace(1, UNIT, 256 * MB, 0);
}

static int t_trace2(void)
{
	return run_core_trace(2, UNIT, 256 * MB, 0);
}

static int t_trace3(void)
{
	return run_core_trace(0xdeadbeef, 320 * UNIT, 320 * UNIT, 0);
}

static int t_trace_tight(void)
{
	return run_core_trace(4, UNIT, 20 * UNIT, 1);
}

/* ---- front-end ---- */

static struct pool_mt *mt_open(size_t size, size_t max)
{
	if (region_open(&rg, size, max))
		return NULL;
	return pool_mt_init(rg.base, size, max, region_grow, &rg);
}

static void mt_close(struct pool_mt *mt)
{
	pool_mt_destroy(mt);
	region_close(&rg);
}

static int mt_used(struct pool_mt *mt)
{
	struct pool_stats st;

	pool_mt_stats(mt, &st);
	return (int)st.n_used;
}

static int t_mt_basic(void)
{
	struct pool_mt *mt = mt_open(UNIT, 256 * MB);
	void *p[300], *q;
	int base, i;
	size_t a;

	CHECK(mt, "init failed");
	base = mt_used(mt);
	for (i = 0; i < 300; i++) {
		p[i] = pool_mt_malloc(mt, i * 97);
		CHECK(p[i] && !((uintptr_t)p[i] & 15), "malloc");
		CHECK(pool_mt_usable_size(mt, p[i]) >= (size_t)i * 97, "usable");
		pat_fill(p[i], 0, i * 97, i);
	}
	for (i = 0; i < 300; i++) {
		CHECK(pat_verify(p[i], i * 97, i) < 0, "damaged");
		pool_mt_free(mt, p[i]);
	}
	CHECK(pool_mt_cached(mt) > 0, "nothing cached");
	for (i = 0; i < 300; i++)	/* served from the cache */
		p[i] = pool_mt_malloc(mt, i * 97);
	for (i = 0; i < 300; i++)
		pool_mt_free(mt, p[i]);
	for (a = 1; a <= 64 * KB; a <<= 1) {
		q = pool_mt_memalign(mt, a, 100);
		CHECK(q && !((uintptr_t)q & (a - 1)), "memalign %zu", a);
		pool_mt_free(mt, q);
	}
	q = pool_mt_calloc(mt, 10, 100);
	CHECK(q && !((char *)q)[999], "calloc");
	errno = 0;
	CHECK(!pool_mt_calloc(mt, SIZE_MAX / 4, 8) && errno == ENOMEM,
	      "calloc overflow");
	q = pool_mt_realloc(mt, q, 100000);
	CHECK(q, "realloc up");
	pat_fill(q, 0, 100000, 9);
	q = pool_mt_realloc(mt, q, 20000);
	CHECK(q && pat_verify(q, 20000, 9) < 0, "realloc down");
	q = pool_mt_realloc(mt, q, 300);
	CHECK(q && pat_verify(q, 300, 9) < 0, "realloc to cached size");
	CHECK(!pool_mt_realloc(mt, q, 0), "realloc(p, 0)");
	errno = 0;
	CHECK(!pool_mt_malloc(mt, 512 * MB) && errno == ENOMEM, "too big");
	CHECK(!pool_mt_check(mt, why, sizeof(why)), "%s", why);
	pool_mt_flush(mt);
	CHECK(pool_mt_cached(mt) == 0, "flush left bytes");
	CHECK(mt_used(mt) == base + 1, "used %d, base %d (+1 tcache)",
	      mt_used(mt), base);
	mt_close(mt);
	return 0;
}

/* Exhaustion through the front-end: own cache is returned, then ENOMEM. */
static int t_mt_exhaustion(void)
{
	struct pool_mt *mt = mt_open(UNIT, 8 * UNIT);
	static void *p[4000];
	int n = 0;

	CHECK(mt, "init failed");
	for (int i = 0; i < 300; i++)
		pool_mt_free(mt, pool_mt_malloc(mt, 1000 + i * 100));
	for (;;) {
		errno = 0;
		p[n] = pool_mt_malloc(mt, 700);
		if (!p[n])
			break;
		CHECK(++n < 4000, "never ran out");
	}
	CHECK(errno == ENOMEM && n > 900, "errno %d after %d", errno, n);
	CHECK(!pool_mt_check(mt, why, sizeof(why)), "%s", why);
	while (n--)
		pool_mt_free(mt, p[n]);
	mt_close(mt);
	return 0;
}

/* Pools of 32 MiB and more use arenas: exhaust one, then give all back. */
static int t_mt_arena_exhaustion(void)
{
	size_t max = 40 * MB, total = 0, n;
	struct pool_mt *mt = mt_open(UNIT, max);
	static void *p[100000];
	struct pool_stats st;
	uint64_t rs = 77;
	int k = 0, base;

	CHECK(mt, "init failed");
	base = mt_used(mt);
	for (;;) {
		n = 16 + rnd(&rs) % (128 * KB);
		errno = 0;
		p[k] = pool_mt_malloc(mt, n);
		if (!p[k])
			break;
		total += n;
		memset(p[k], k, n < 64 ? n : 64);
		CHECK(++k < 100000, "never ran out");
	}
	CHECK(errno == ENOMEM, "errno %d", errno);
	CHECK(total > max / 2, "only %zu MiB of %zu MiB", total >> 20, max >> 20);
	CHECK(!pool_mt_check(mt, why, sizeof(why)), "full: %s", why);
	pool_mt_stats(mt, &st);
	CHECK(st.overhead + st.in_use + st.free == st.size && st.size == max,
	      "stats: %zu + %zu + %zu != %zu", st.overhead, st.in_use, st.free,
	      st.size);
	while (k--) {
		CHECK(((unsigned char *)p[k])[0] == (unsigned char)k, "damaged");
		pool_mt_free(mt, p[k]);
	}
	pool_mt_flush(mt);
	CHECK(!pool_mt_check(mt, why, sizeof(why)), "emptied: %s", why);
	CHECK(mt_used(mt) == base + 1, "used %d, base %d", mt_used(mt), base);
	p[0] = pool_mt_malloc(mt, max / 3);
	CHECK(p[0], "segments not given back: no room for %zu MiB", max / 3 >> 20);
	pool_mt_free(mt, p[0]);
	mt_close(mt);
	return 0;
}

static void *thread_trace(void *arg)
{
	struct trace *t = arg;

	return (void *)(intptr_t)trace_run(t);
}

static int run_mt_trace(int nthreads, size_t size, size_t max, long ops)
{
	struct pool_mt *mt = mt_open(size, max);
	struct mailbox mb = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct trace t[8];
	pthread_t th[8];
	struct pool_stats st;
	int i, base;
	void *ret;

	CHECK(mt, "init failed");
	pool_mt_free(mt, pool_mt_malloc(mt, 10));	/* main's cache */
	pool_mt_flush(mt);
	base = mt_used(mt);
	for (i = 0; i < nthreads; i++) {
		t[i] = (struct trace){
			.ops = &mt_ops, .h = mt, .seed = 100 + i,
			.ops_count = ops, .nslots = 1000, .check_every = 5000,
			.id_base = (uint64_t)(i + 1) << 48, .mb = &mb,
		};
		CHECK(!pthread_create(&th[i], NULL, thread_trace, &t[i]),
		      "pthread_create");
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], &ret);
		CHECK(!ret, "thread %d: %s", i, t[i].err);
	}
	for (i = 0; i < mb.n; i++) {
		CHECK(pat_verify(mb.s[i].p, mb.s[i].n, mb.s[i].id) < 0,
		      "mailbox block damaged");
		pool_mt_free(mt, mb.s[i].p);
	}
	pool_mt_flush(mt);
	CHECK(!pool_mt_check(mt, why, sizeof(why)), "%s", why);
	CHECK(mt_used(mt) == base, "used %d != %d: thread caches not returned",
	      mt_used(mt), base);
	pool_mt_stats(mt, &st);
	CHECK(st.overhead + st.in_use + st.free == st.size, "stats don't add up");
	CHECK(!rg.bad_calls, "bad grow calls");
	mt_close(mt);
	return 0;
}

static int t_mt_2threads(void)
{
	return run_mt_trace(2, UNIT, 256 * MB, 200000);
}

static int t_mt_4threads_grow(void)
{
	return run_mt_trace(4, UNIT, 512 * MB, 100000);
}

/* Two pools one after the other at the same address: caches don't leak
 * across (the generation check). */
static int t_mt_reuse_address(void)
{
	struct pool_mt *mt;
	void *p;
	int k;

	for (k = 0; k < 3; k++) {
		mt = mt_open(UNIT, UNIT);
		CHECK(mt, "init %d failed", k);
		p = pool_mt_malloc(mt, 100);
		pool_mt_free(mt, p);
		p = pool_mt_malloc(mt, 100);
		CHECK(p && pool_mt_owns(mt, p), "malloc");
		pool_mt_free(mt, p);
		CHECK(!pool_mt_check(mt, why, sizeof(why)), "%s", why);
		pool_mt_destroy(mt);
		munmap(rg.base, rg.max);
	}
	return 0;
}

int main(void)
{
	tap_run("init rejects bad arguments", t_init_args);
	tap_run("malloc 0..1099: alignment, usable size, coalescing", t_malloc_basic);
	tap_run("pool_owns covers exactly [base, base+max)", t_owns);
	tap_run("stats add up", t_stats);
	tap_run("memalign every power of two 1..1 MiB; EINVAL otherwise", t_memalign);
	tap_run("calloc zeroes, overflow gives ENOMEM", t_calloc);
	tap_run("realloc shrink/grow in place, move, failure keeps data", t_realloc);
	tap_run("a request of the whole free space fits", t_exact_fit);
	tap_run("growth: grow() called in units, data intact", t_grow);
	tap_run("growth: realloc of the last block extends in place", t_grow_realloc_in_place);
	tap_run("growth: refused doubling falls back; refusal gives ENOMEM", t_grow_fallback);
	tap_run("exhaustion past max: NULL + ENOMEM, then full reuse", t_exhaustion);
	tap_run("fixed pool without grow()", t_fixed);
	tap_run("size classes: monotonic, rounding bounded", t_classes);
	tap_run("sub-pool: segments, ownership, reclaim", t_sub_pool);
	tap_run("core: double/invalid free aborts with a message", t_bad_free);
	tap_run("sub-pool: double/invalid free aborts with a message", t_bad_free_sub);
	tap_run("front-end: double/invalid free aborts with a message", t_bad_free_mt);
	tap_run("random trace seed 1 (200k ops, growing pool)", t_trace1);
	tap_run("random trace seed 2 (200k ops, growing pool)", t_trace2);
	tap_run("random trace seed 0xdeadbeef (200k ops, fixed pool)", t_trace3);
	tap_run("random trace in a tight pool (ENOMEM paths)", t_trace_tight);
	tap_run("front-end: basic API and cache return", t_mt_basic);
	tap_run("front-end: exhaustion returns own cache first", t_mt_exhaustion);
	tap_run("front-end: arenas exhaust the pool, then give it back", t_mt_arena_exhaustion);
	tap_run("front-end: 2 threads x 200k ops, cross-thread frees", t_mt_2threads);
	tap_run("front-end: 4 threads x 100k ops from a 100 kB pool", t_mt_4threads_grow);
	tap_run("front-end: pools reusing one address", t_mt_reuse_address);
	return tap_done();
}
