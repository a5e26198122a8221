// SPDX-License-Identifier: Apache-2.0
/*
 * Pool memory: the malloc family over the pool's allocator (pool_thread.c
 * over pool_alloc.c), and what may be read where. These run on every
 * allocation under the heaphook: no lock, no system call on the way. And
 * the library's own memory, which is never the pool's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static struct {
	void *(*malloc)(size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
} sys = { malloc, realloc, free };

void lib_sys_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *))
{
	sys.malloc = m;
	sys.realloc = r;
	sys.free = f;
}

void *sys_calloc(size_t nmemb, size_t n)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, n, &total))
		return NULL;
	p = sys.malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *sys_realloc(void *p, size_t n)
{
	return sys.realloc(p, n);
}

void sys_free(void *p)
{
	sys.free(p);
}

/*
 * The allocator, set up on the first allocation: the pool is the
 * allocator's from then on (a process that writes its pool by hand must
 * not allocate from it). NULL with a message when there is no pool.
 */
static struct pool_mt *allocator(const char *op)
{
	struct pool_mt *mt = lib_allocator();
	int r = 0;

	if (mt)
		return mt;
	if (!lib_has_pool())
		return lib_fail_null(ESRCH, op, "this process has no pool: call agnocast_join() first");
	pthread_mutex_lock(&lib.lock);
	if (lib.stage == STAGE_READY)
		r = pool_allocator_init();
	pthread_mutex_unlock(&lib.lock);
	mt = lib_allocator();
	if (!mt && r == 0)
		lib_fail(ESRCH, op, "this process has no pool: call agnocast_join() first");
	if (!mt)
		errno = ESRCH;
	return mt;
}

static void *exhausted(void *p, size_t n, const char *op)
{
	if (p || errno != ENOMEM)
		return p;
	return lib_fail_null(ENOMEM, op,
			     "%zu bytes do not fit in the pool (%llu of at most %llu bytes): free or release memory, or join with a larger pool_max",
			     n, (unsigned long long)atomic_load(&lib.size), (unsigned long long)lib.max);
}

void *lib_alloc(size_t n)
{
	struct pool_mt *mt = allocator("agnocast_alloc");

	return mt ? exhausted(pool_mt_malloc(mt, n), n, "agnocast_alloc") : NULL;
}

void *lib_calloc(size_t nmemb, size_t n)
{
	struct pool_mt *mt = allocator("agnocast_calloc");
	size_t total;

	if (!mt)
		return NULL;
	if (__builtin_mul_overflow(nmemb, n, &total))
		return lib_fail_null(ENOMEM, "agnocast_calloc", "%zu x %zu bytes overflow", nmemb, n);
	return exhausted(pool_mt_calloc(mt, nmemb, n), total, "agnocast_calloc");
}

void *lib_realloc(void *p, size_t n)
{
	struct pool_mt *mt = lib_allocator();

	if (!p)
		return lib_alloc(n);
	if (!mt || !pool_mt_owns(mt, p))
		return lib_fail_null(EINVAL, "agnocast_realloc", "%p is not a block of this process's pool", p);
	return exhausted(pool_mt_realloc(mt, p, n), n, "agnocast_realloc");
}

void *lib_memalign(size_t align, size_t n)
{
	struct pool_mt *mt;

	if (!align || (align & (align - 1)))
		return lib_fail_null(EINVAL, "agnocast_memalign", "alignment %zu is not a power of two", align);
	mt = allocator("agnocast_memalign");
	return mt ? exhausted(pool_mt_memalign(mt, align, n), n, "agnocast_memalign") : NULL;
}

/* Blocks of the allocator only: a pool written by hand has none to free. */
void lib_free(void *p)
{
	struct pool_mt *mt = lib_allocator();

	if (p && mt && pool_mt_owns(mt, p))
		pool_mt_free(mt, p);
}

size_t lib_usable_size(void *p)
{
	struct pool_mt *mt = lib_allocator();

	return p && mt && pool_mt_owns(mt, p) ? pool_mt_usable_size(mt, p) : 0;
}

/* Inside our pool's reserved range, allocator or not. */
bool lib_owns(const void *p)
{
	uint64_t a = P2U(p);

	return lib_has_pool() && a >= lib.addr && a - lib.addr < lib.max;
}

int lib_owns_int(const void *p)
{
	return lib_owns(p);
}

int lib_readable(const void *p, size_t len)
{
	uint64_t a = P2U(p);

	if (a + len < a)
		return 0;
	return lib_own_range(a, len) || peers_readable(a, len);
}
