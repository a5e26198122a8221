// SPDX-License-Identifier: Apache-2.0
/*
 * bench_malloc: throughput of the heaphook's malloc/free/realloc against
 * glibc's, in one process, on 1 and 2 threads, for sizes 16 B - 64 KiB.
 *
 * Run under LD_PRELOAD=libagnocast_heaphook.so: "hook" calls malloc, free
 * and realloc (the hook's), "glibc" calls __libc_malloc, __libc_free and
 * __libc_realloc (glibc's own allocator, which the hook itself falls back
 * to). Both go through the same function pointers, on the same data, in
 * alternation, best of N runs each. Without the hook both columns are
 * glibc: the ratios then show the measurement's noise.
 *
 * Workloads (each thread on its own blocks; ops = allocator calls timed):
 *   pairs    malloc(s), touch, free                       (ops: mallocs)
 *   batch    256 blocks of s/2..s, touched, freed in a shuffled order
 *   realloc  64 live blocks, each resized to a random s/2..s in turn
 *
 *   bench_malloc [--ms TARGET_MS] [--reps N] [--sizes a,b,...]
 * Prints a table; no assertion on timings.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);

struct ops {
	const char *name;
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*realloc)(void *, size_t);
};

static struct ops glibc_ops = { "glibc", __libc_malloc, __libc_free, __libc_realloc };
static struct ops hook_ops = { "hook", malloc, free, realloc };

enum { PAIRS, BATCH, REALLOC, NWORK };
static const char *work_name[NWORK] = { "pairs", "batch", "realloc" };

#define BATCH_N 256
#define LIVE_N 64

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void touch(void *p, size_t n)
{
	((volatile char *)p)[0] = 1;
	((volatile char *)p)[n - 1] = 2;
}

struct job {
	struct ops *ops;
	int work;
	size_t size;
	long n;		/* iterations */
	uint64_t seed;
	pthread_barrier_t *start;
	int failed;
	double t0, t1;	/* this thread's own start and end */
};

static size_t rsize(uint64_t seed, size_t s)
{
	size_t lo = s / 2 ? s / 2 : 1;

	return lo + (size_t)(seed % (s - lo + 1));
}

/* One thread's share; returns the allocator calls it timed. */
static long run_work(struct job *j)
{
	struct ops *o = j->ops;
	size_t s = j->size;
	long calls = 0;

	switch (j->work) {
	case PAIRS:
		for (long i = 0; i < j->n; i++) {
			void *p = o->malloc(s);

			if (!p) {
				j->failed = 1;
				return calls;
			}
			touch(p, s);
			o->free(p);
		}
		calls = j->n;
		break;
	case BATCH: {
		void *p[BATCH_N];
		size_t sz[BATCH_N];
		int order[BATCH_N];

		for (int k = 0; k < BATCH_N; k++) {
			sz[k] = rsize(mix(j->seed + (uint64_t)k), s);
			order[k] = k;
		}
		for (int k = BATCH_N - 1; k > 0; k--) {
			int r = (int)(mix(j->seed ^ (uint64_t)k) % (uint64_t)(k + 1)), t = order[k];

			order[k] = order[r];
			order[r] = t;
		}
		for (long i = 0; i < j->n; i += BATCH_N) {
			for (int k = 0; k < BATCH_N; k++) {
				p[k] = o->malloc(sz[k]);
				if (!p[k]) {
					j->failed = 1;
					return calls;
				}
				touch(p[k], sz[k]);
			}
			for (int k = 0; k < BATCH_N; k++)
				o->free(p[order[k]]);
			calls += BATCH_N;
		}
		break;
	}
	case REALLOC: {
		void *p[LIVE_N];

		for (int k = 0; k < LIVE_N; k++) {
			p[k] = o->malloc(s);
			if (!p[k]) {
				j->failed = 1;
				return calls;
			}
		}
		for (long i = 0; i < j->n; i++) {
			size_t n = rsize(mix(j->seed + (uint64_t)i), s);
			void *q = o->realloc(p[i % LIVE_N], n);

			if (!q) {
				j->failed = 1;
				break;
			}
			touch(q, n);
			p[i % LIVE_N] = q;
		}
		calls = j->n;
		for (int k = 0; k < LIVE_N; k++)
			o->free(p[k]);
		break;
	}
	}
	return calls;
}

static void *thread_main(void *arg)
{
	struct job *j = arg;

	pthread_barrier_wait(j->start);
	j->t0 = now();
	run_work(j);
	j->t1 = now();
	return NULL;
}

/* Throughput (calls per second, all threads) of one run. */
static double measure(struct ops *o, int work, size_t size, int threads, long n)
{
	pthread_barrier_t start;
	pthread_t t[8];
	struct job jobs[8];
	double t0, t1;

	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct job){ o, work, size, n, mix((uint64_t)i + 1), &start, 0, 0, 0 };
		if (pthread_create(&t[i], NULL, thread_main, &jobs[i])) {
			perror("pthread_create");
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	/* From the first thread's start to the last one's end (not the main
	 * thread's clock: it may not run while the workers do). */
	t0 = jobs[0].t0;
	t1 = jobs[0].t1;
	for (int i = 1; i < threads; i++) {
		t0 = jobs[i].t0 < t0 ? jobs[i].t0 : t0;
		t1 = jobs[i].t1 > t1 ? jobs[i].t1 : t1;
	}
	for (int i = 0; i < threads; i++)
		if (jobs[i].failed) {
			fprintf(stderr, "bench_malloc: %s: allocation failed (%s, %zu B)\n", o->name,
				work_name[work], size);
			exit(1);
		}
	return (double)n * threads / (t1 - t0);
}

/* Iterations per thread for about target seconds of single-thread glibc. */
static long calibrate(int work, size_t size, double target)
{
	long n = 2048;

	for (;;) {
		double t0 = now(), dt;

		measure(&glibc_ops, work, size, 1, n);
		dt = now() - t0;
		if (dt >= target / 4 || n > (1L << 30))
			return (long)((double)n * target / (dt > 1e-6 ? dt : 1e-6)) / BATCH_N * BATCH_N +
			       BATCH_N;
		n *= 4;
	}
}

int main(int argc, char **argv)
{
	size_t sizes[16] = { 16, 64, 256, 1024, 4096, 16384, 65536 };
	int nsizes = 7, reps = 3, threads[] = { 1, 2 };
	double target = 0.1, logsum[NWORK][2] = { { 0 } };
	int cells[NWORK][2] = { { 0 } };
	int (*owns)(const void *);
	void *probe;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
			target = atof(argv[++i]) / 1000;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *s = argv[++i], *tok;

			nsizes = 0;
			while ((tok = strsep(&s, ",")) && nsizes < 16)
				sizes[nsizes++] = strtoull(tok, NULL, 0);
		} else {
			fprintf(stderr, "usage: bench_malloc [--ms TARGET_MS] [--reps N] [--sizes a,b,...]\n");
			return 2;
		}
	}
	owns = (int (*)(const void *))dlsym(RTLD_DEFAULT, "agnocast_heap_owns");
	probe = hook_ops.malloc(100);
	printf("# bench_malloc: hook %s%s; best of %d runs, about %.0f ms each\n",
	       owns ? "loaded" : "NOT loaded (both columns are glibc: the ratios show noise)",
	       owns ? (owns(probe) ? ", malloc serves from the pool" : ", but malloc is NOT in the pool") : "",
	       reps, target * 1000);
	hook_ops.free(probe);
	printf("%-8s %6s %7s %12s %12s %10s\n", "workload", "size", "threads", "glibc Mop/s",
	       "hook Mop/s", "hook/glibc");
	for (int w = 0; w < NWORK; w++) {
		for (int si = 0; si < nsizes; si++) {
			long n = calibrate(w, sizes[si], target);

			for (int ti = 0; ti < 2; ti++) {
				double best_g = 0, best_h = 0, ratio;

				for (int r = 0; r < reps; r++) {
					double g = measure(&glibc_ops, w, sizes[si], threads[ti], n);
					double h = measure(&hook_ops, w, sizes[si], threads[ti], n);

					best_g = g > best_g ? g : best_g;
					best_h = h > best_h ? h : best_h;
				}
				ratio = best_h / best_g;
				logsum[w][ti] += log(ratio);
				cells[w][ti]++;
				printf("%-8s %6zu %7d %12.3f %12.3f %10.2f\n", work_name[w], sizes[si],
				       threads[ti], best_g / 1e6, best_h / 1e6, ratio);
				fflush(stdout);
			}
		}
	}
	printf("# geometric mean of hook/glibc over the sizes:\n");
	for (int w = 0; w < NWORK; w++)
		for (int ti = 0; ti < 2; ti++)
			printf("#   %-8s %d thread%s %.2f\n", work_name[w], threads[ti],
			       threads[ti] > 1 ? "s" : " ", exp(logsum[w][ti] / cells[w][ti]));
	return 0;
}
