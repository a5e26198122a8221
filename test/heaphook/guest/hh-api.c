// SPDX-License-Identifier: Apache-2.0
/*
 * hh-api: the hook's functions, one mode per argument. Each prints
 * "<mode> ok ..." and exits 0; a failure prints one line on stderr and
 * exits 1.
 *   borrow   (AGNOCAST_HEAPHOOK_MODE=borrow) malloc and friends go to the
 *            pool only inside agnocast_borrow_begin/_end, per thread,
 *            nestable; pool and glibc blocks are freed wherever
 *   shm      (AGNOCAST_HEAPHOOK_MODE=borrow) agnocast_heap_info's geometry,
 *            shm_malloc/calloc/realloc/free, agnocast_heap_offset/_at
 *   align    every hooked function in "all" mode: posix_memalign,
 *            aligned_alloc, memalign, valloc, pvalloc, reallocarray,
 *            malloc_usable_size, and glibc's own allocating functions
 *   exhaust  (small AGNOCAST_MEMPOOL_MAX) allocation fails with ENOMEM at
 *            the maximum, and works again after frees
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agnocast.h"
#include "hh.h"

#define ALIGNED(p, a) (((uintptr_t)(p) & ((a) - 1)) == 0)

/* ---- borrow ------------------------------------------------------------- */

static void *thread_outside(void *arg)
{
	void *p = calloc(1, 64), *q;

	(void)arg;
	ENSURE(p && !hh.owns(p), "another thread's malloc went to the pool during main's window");
	hh.borrow_begin();
	q = calloc(1, 64);
	hh.borrow_end();
	ENSURE(q && hh.owns(q), "a thread's own window did not borrow");
	free(p);
	free(q);
	return NULL;
}

static int borrow(void)
{
	char *p, *c, *s, *q, *qc, *qs, *qa, *r, *r2, *t, *g;
	pthread_t th;

	hh_info();
	p = malloc(100);
	c = calloc(10, 10);
	s = strdup("outside");
	ENSURE(p && c && s, "malloc");
	ENSURE(!hh.owns(p) && !hh.owns(c) && !hh.owns(s),
	       "allocations outside a window are in the pool");

	hh.borrow_begin();
	q = malloc(100);
	qc = calloc(10, 10);
	qs = strdup("inside");
	qa = aligned_alloc(64, 128);
	ENSURE(q && qc && qs && qa, "malloc in a window");
	ENSURE(hh.owns(q) && hh.owns(qc) && hh.owns(qs) && hh.owns(qa),
	       "allocations inside a window are not in the pool");
	ENSURE(ALIGNED(qa, 64), "aligned_alloc");
	for (int i = 0; i < 100; i++)
		ENSURE(qc[i] == 0, "calloc not zeroed");
	memset(q, 'q', 100);
	q = realloc(q, 5000);
	ENSURE(q && hh.owns(q) && q[99] == 'q', "realloc of a pool block in a window");
	free(p);	/* a glibc block, freed inside a window */
	g = realloc(s, 1000);	/* a glibc block stays on glibc's heap */
	ENSURE(g && !hh.owns(g) && !strcmp(g, "outside"), "realloc of a glibc block in a window");
	hh.borrow_begin();	/* nested */
	r = malloc(10);
	hh.borrow_end();
	r2 = malloc(10);	/* still inside the outer window */
	ENSURE(r && r2 && hh.owns(r) && hh.owns(r2), "nested windows");
	ENSURE(pthread_create(&th, NULL, thread_outside, NULL) == 0, "pthread_create");
	ENSURE(pthread_join(th, NULL) == 0, "pthread_join");
	hh.borrow_end();

	t = malloc(100);
	ENSURE(t && !hh.owns(t), "malloc after the window is in the pool");
	q = realloc(q, 20000);	/* a pool block stays in the pool */
	ENSURE(q && hh.owns(q) && q[0] == 'q', "realloc of a pool block outside a window");
	free(q);	/* pool blocks freed outside a window */
	free(qc);
	free(qs);
	free(qa);
	free(r);
	free(r2);
	free(t);
	free(g);
	free(c);
	hh.borrow_end();	/* unbalanced: ignored */
	t = malloc(10);
	ENSURE(t && !hh.owns(t), "an unbalanced end opened a window");
	free(t);
	printf("borrow ok\n");
	return 0;
}

/* ---- shm ------------------------------------------------------------------ */

static int shm(void)
{
	struct agnocast_heap_info info = hh_info();
	char want[64], line[512], *p, *z, *r, *r2, *g, **many;
	int found = 0, stack_var = 0;
	struct stat st;
	FILE *f;

	ENSURE(hh.join() == 0, "agnocast_heap_join when joined");
	ENSURE(info.dev_fd >= 0 && info.pool_fd >= 0, "fds %d %d", info.dev_fd, info.pool_fd);
	ENSURE(info.addr >= AGNOCAST_POOL_BASE && info.addr + info.max <= AGNOCAST_POOL_LIMIT &&
		       ALIGNED(info.addr, AGNOCAST_POOL_ALIGN),
	       "pool at %llx", (unsigned long long)info.addr);
	ENSURE(info.size && info.size % AGNOCAST_POOL_UNIT == 0 && info.max >= info.size &&
		       info.max % AGNOCAST_POOL_UNIT == 0,
	       "size %llu max %llu", (unsigned long long)info.size, (unsigned long long)info.max);
	ENSURE(fstat(info.pool_fd, &st) == 0 && (uint64_t)st.st_size == info.size &&
		       (st.st_mode & 0777) == 0444,
	       "pool file: size %lld mode %o", (long long)st.st_size, st.st_mode & 0777);
	snprintf(want, sizeof(want), "/dev/shm/agnocast@%d", getpid());
	f = fopen("/proc/self/maps", "re");
	ENSURE(f, "/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == info.addr &&
		    strstr(line, want) && strstr(line, " rw-s "))
			found = 1;
	}
	fclose(f);
	ENSURE(found, "no rw-s mapping of %s at %llx", want, (unsigned long long)info.addr);

	g = malloc(100);
	ENSURE(g && !hh.owns(g), "borrow mode: plain malloc went to the pool");
	p = hh.shm_malloc(100);
	ENSURE(p && hh.owns(p), "shm_malloc");
	memset(p, 'p', 100);
	ENSURE(hh.offset(p) < info.size && hh.at(hh.offset(p)) == p, "offset round trip");
	ENSURE(hh.offset(g) == UINT64_MAX && hh.offset(&stack_var) == UINT64_MAX &&
		       hh.offset(NULL) == UINT64_MAX,
	       "offset of a pointer outside the pool");
	ENSURE(hh.at(0) == (void *)(uintptr_t)info.addr, "agnocast_heap_at(0)");
	ENSURE(hh.at(info.max - 1) == (void *)(uintptr_t)(info.addr + info.max - 1),
	       "agnocast_heap_at(max - 1)");
	ENSURE(hh.at(info.max) == NULL && hh.at(UINT64_MAX) == NULL,
	       "agnocast_heap_at past the reserved length");

	z = hh.shm_malloc(8000);
	ENSURE(z, "shm_malloc(8000)");
	memset(z, 0xff, 8000);
	hh.shm_free(z);
	z = hh.shm_calloc(1000, 8);
	ENSURE(z && hh.owns(z), "shm_calloc");
	for (int i = 0; i < 8000; i++)
		ENSURE(z[i] == 0, "shm_calloc: byte %d not zero", i);
	errno = 0;
	ENSURE(hh.shm_calloc(SIZE_MAX / 2, 4) == NULL && errno == ENOMEM,
	       "shm_calloc(SIZE_MAX / 2, 4): overflow not refused with ENOMEM");
	errno = 0;
	ENSURE(hh.shm_calloc(SIZE_MAX, SIZE_MAX) == NULL && errno == ENOMEM,
	       "shm_calloc(SIZE_MAX, SIZE_MAX)");
	r = hh.shm_realloc(p, 100000);
	ENSURE(r && hh.owns(r), "shm_realloc");
	for (int i = 0; i < 100; i++)
		ENSURE(r[i] == 'p', "shm_realloc lost byte %d", i);
	r2 = hh.shm_realloc(NULL, 50);
	ENSURE(r2 && hh.owns(r2), "shm_realloc(NULL, 50)");
	hh.shm_free(NULL);
	hh.shm_free(r);
	hh.shm_free(z);
	free(r2);	/* the hooked free takes pool blocks too */

	many = malloc(1000 * sizeof(*many));
	ENSURE(many, "malloc");
	for (int i = 0; i < 1000; i++) {
		size_t n = 1 + hh_mix((uint64_t)i) % 20000;

		many[i] = hh.shm_malloc(n);
		ENSURE(many[i] && hh.at(hh.offset(many[i])) == many[i], "block %d", i);
		memset(many[i], i & 0xff, n);
	}
	for (int i = 0; i < 1000; i++)
		hh.shm_free(many[i]);
	free(many);
	free(g);
	printf("shm ok\n");
	return 0;
}

/* ---- align ----------------------------------------------------------------- */

static int align(void)
{
	size_t page = (size_t)getpagesize();
	volatile size_t huge = SIZE_MAX / 2;
	void *p, *q;
	char *s, *line = NULL;
	size_t cap = 0;
	FILE *f;

	hh_info();
	ENSURE(posix_memalign(&p, 4096, 100) == 0 && hh.owns(p) && ALIGNED(p, 4096),
	       "posix_memalign(4096)");
	free(p);
	ENSURE(posix_memalign(&p, 65536, 1 << 20) == 0 && hh.owns(p) && ALIGNED(p, 65536),
	       "posix_memalign(65536, 1 MiB)");
	memset(p, 1, 1 << 20);
	free(p);
	ENSURE(posix_memalign(&p, 3, 10) == EINVAL, "posix_memalign(3)");
	p = aligned_alloc(256, 1000);
	ENSURE(p && hh.owns(p) && ALIGNED(p, 256), "aligned_alloc(256)");
	free(p);
	p = memalign(128, 10);
	ENSURE(p && hh.owns(p) && ALIGNED(p, 128), "memalign(128)");
	free(p);
	p = valloc(10);
	ENSURE(p && hh.owns(p) && ALIGNED(p, page), "valloc");
	free(p);
	p = pvalloc(10);
	ENSURE(p && hh.owns(p) && ALIGNED(p, page) && malloc_usable_size(p) >= page, "pvalloc");
	free(p);
	for (size_t n = 1; n <= (1u << 20); n = n * 3 + 1) {
		p = malloc(n);
		ENSURE(p && hh.owns(p) && ALIGNED(p, 16), "malloc(%zu)", n);
		ENSURE(malloc_usable_size(p) >= n, "malloc_usable_size(malloc(%zu)) = %zu", n,
		       malloc_usable_size(p));
		free(p);
	}
	p = malloc(0);
	ENSURE(p, "malloc(0)");
	free(p);
	p = reallocarray(NULL, 10, 10);
	ENSURE(p && hh.owns(p), "reallocarray(NULL)");
	memset(p, 7, 100);
	errno = 0;
	q = reallocarray(p, huge, 4);
	ENSURE(!q && errno == ENOMEM, "reallocarray overflow");
	ENSURE(((char *)p)[99] == 7, "reallocarray overflow damaged the block");
	free(p);
	ENSURE(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
	errno = 0;
	ENSURE(!calloc(huge, 4) && errno == ENOMEM, "calloc(SIZE_MAX / 2, 4): overflow");
	p = calloc(100, 10);
	ENSURE(p && hh.owns(p), "calloc");
	for (int i = 0; i < 1000; i++)
		ENSURE(((char *)p)[i] == 0, "calloc: byte %d not zero", i);
	free(p);
	/* glibc's own allocations. */
	ENSURE(asprintf(&s, "%d %s", 42, "x") > 0 && hh.owns(s), "asprintf");
	free(s);
	f = fopen("/proc/self/status", "re");
	ENSURE(f, "fopen");
	ENSURE(hh.owns(f), "the FILE is not in the pool");
	ENSURE(getline(&line, &cap, f) > 0 && hh.owns(line), "getline");
	free(line);
	fclose(f);
	printf("align ok\n");
	return 0;
}

/* ---- exhaust ------------------------------------------------------------- */

static int exhaust(void)
{
	struct agnocast_heap_info info = hh_info();
	enum { BLOCK = 256 << 10, MAXN = 4096 };
	static void *b[MAXN];
	int n = 0;
	void *p;

	for (; n < MAXN; n++) {
		errno = 0;
		b[n] = malloc(BLOCK);
		if (!b[n])
			break;
		ENSURE(hh.owns(b[n]), "block %d not in the pool", n);
		memset(b[n], n, BLOCK);
	}
	ENSURE(n < MAXN && errno == ENOMEM, "no ENOMEM after %d blocks (errno %d)", n, errno);
	ENSURE((uint64_t)n * BLOCK <= info.max && (uint64_t)n * BLOCK >= info.max / 2,
	       "%d blocks of %d bytes in a pool of at most %llu", n, BLOCK,
	       (unsigned long long)info.max);
	errno = 0;
	ENSURE(!malloc(BLOCK) && errno == ENOMEM, "a second failure");
	for (int i = 0; i < n; i++) {
		ENSURE(((unsigned char *)b[i])[BLOCK - 1] == (unsigned char)i, "block %d", i);
		free(b[i]);
	}
	p = malloc(BLOCK);
	ENSURE(p && hh.owns(p), "malloc after freeing everything");
	free(p);
	printf("exhaust ok blocks %d max %llu\n", n, (unsigned long long)info.max);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hh-api borrow|shm|align|exhaust\n");
		return 2;
	}
	hh_load();
	if (!strcmp(argv[1], "borrow"))
		return borrow();
	if (!strcmp(argv[1], "shm"))
		return shm();
	if (!strcmp(argv[1], "align"))
		return align();
	if (!strcmp(argv[1], "exhaust"))
		return exhaust();
	return 2;
}
