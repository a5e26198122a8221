// SPDX-License-Identifier: Apache-2.0
/*
 * bench_pool_alloc.c - throughput of the heaphook allocator against glibc
 * malloc, on 1 and 2 threads.  Prints figures only; asserts nothing.
 *
 * Each thread keeps SLOTS live blocks; one step picks a random slot, frees
 * what is there and allocates a new block (churn), or reallocs it
 * (realloc).  Sizes are log-uniform in the given range (every power of two
 * equally likely), the first 8 bytes of each block are written.  One
 * "op" is one malloc, free or realloc call.  Best of ROUNDS runs.
 *
 * usage: bench_pool_alloc [steps_per_thread]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../libagnocast/pool_alloc.h"
#include "../../../libagnocast/pool_thread.h"
#include "region.h"

#define SLOTS	1024
#define ROUNDS	3

struct alloc {
	const char *name;
	void *(*malloc)(size_t n);
	void (*free)(void *p);
	void *(*realloc)(void *p, size_t n);
};

static struct pool_mt *the_pool;

static void *pmt_malloc(size_t n)
{
	return pool_mt_malloc(the_pool, n);
}

static void pmt_free(void *p)
{
	pool_mt_free(the_pool, p);
}

static void *pmt_realloc(void *p, size_t n)
{
	return pool_mt_realloc(the_pool, p, n);
}

static const struct alloc glibc = { "glibc", malloc, free, realloc };
static const struct alloc pool = { "pool", pmt_malloc, pmt_free, pmt_realloc };

struct job {
	const struct alloc *a;
	int realloc;
	unsigned int lo_log2, hi_log2;	/* sizes in [2^lo, 2^hi] */
	long steps;
	uint64_t seed;
	pthread_barrier_t *go;
	double secs;
	long ops;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static size_t pick_size(uint64_t r, unsigned int lo, unsigned int hi)
{
	unsigned int k = lo + (r & 63) % (hi - lo);
	size_t base = (size_t)1 << k;

	return base + ((r >> 8) & (base - 1));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	void **slot = calloc(SLOTS, sizeof(*slot));
	uint64_t s = j->seed | 1, r;
	long i, ops = 0;
	double t0;
	size_t n;
	void *p;

	pthread_barrier_wait(j->go);
	t0 = now();
	for (i = 0; i < j->steps; i++) {
		r = xorshift(&s);
		p = slot[r % SLOTS];
		n = pick_size(r >> 10, j->lo_log2, j->hi_log2);
		if (j->realloc) {
			p = j->a->realloc(p, n);
			ops++;
		} else {
			if (p) {
				j->a->free(p);
				ops++;
			}
			p = j->a->malloc(n);
			ops++;
		}
		if (!p)
			abort();
		memset(p, (int)i, 8);
		slot[r % SLOTS] = p;
	}
	for (i = 0; i < SLOTS; i++)
		j->a->free(slot[i]);
	j->secs = now() - t0;
	j->ops = ops + SLOTS;
	free(slot);
	return NULL;
}

/* Million ops per second over nthreads threads; best of ROUNDS. */
static double measure(const struct alloc *a, int nthreads, int realloc_,
		      unsigned int lo, unsigned int hi, long steps)
{
	pthread_barrier_t go;
	struct job j[8];
	pthread_t th[8];
	double best = 0, secs, mops;
	long ops;
	int k, i;

	for (k = 0; k < ROUNDS; k++) {
		pthread_barrier_init(&go, NULL, nthreads);
		for (i = 0; i < nthreads; i++) {
			j[i] = (struct job){ .a = a, .realloc = realloc_,
				.lo_log2 = lo, .hi_log2 = hi, .steps = steps,
				.seed = 0x1234567 * (i + 1) + k, .go = &go };
			pthread_create(&th[i], NULL, job_run, &j[i]);
		}
		secs = 0;
		ops = 0;
		for (i = 0; i < nthreads; i++) {
			pthread_join(th[i], NULL);
			ops += j[i].ops;
			if (j[i].secs > secs)
				secs = j[i].secs;
		}
		pthread_barrier_destroy(&go);
		mops = ops / secs / 1e6;
		if (mops > best)
			best = mops;
	}
	return best;
}

static void row(const char *what, int realloc_, unsigned int lo,
		unsigned int hi, long steps)
{
	double g, p;
	int t;

	for (t = 1; t <= 2; t++) {
		g = measure(&glibc, t, realloc_, lo, hi, steps);
		p = measure(&pool, t, realloc_, lo, hi, steps);
		printf("%-28s %7d %12.1f %12.1f %7.2f\n", what, t, g, p, p / g);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 2000000;
	struct region rg;
	struct pool_stats st;

	if (region_open(&rg, POOL_GROW_UNIT, 4UL << 30))
		return 1;
	the_pool = pool_mt_init(rg.base, POOL_GROW_UNIT, 4UL << 30,
				region_grow, &rg);
	if (!the_pool)
		return 1;
	printf("# %ld steps per thread, %d live blocks per thread, best of %d\n",
	       steps, SLOTS, ROUNDS);
	printf("%-28s %7s %12s %12s %7s\n", "workload", "threads",
	       "glibc Mops/s", "pool Mops/s", "ratio");
	row("malloc/free 16 B-64 KiB", 0, 4, 16, steps);
	row("malloc/free 16 B-512 B", 0, 4, 9, steps);
	row("malloc/free 1 KiB-64 KiB", 0, 10, 16, steps);
	row("realloc 16 B-64 KiB", 1, 4, 16, steps);
	pool_mt_stats(the_pool, &st);
	printf("# pool after run: size %zu MiB, grows %zu, free %zu KiB in %zu blocks\n",
	       st.size >> 20, st.grows, st.free >> 10, st.n_free);
	pool_mt_destroy(the_pool);
	region_close(&rg);
	return 0;
}
