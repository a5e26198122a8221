// SPDX-License-Identifier: Apache-2.0
/*
 * heaphook: malloc and friends served from the process's agnocast pool.
 * The public contract is agnocast_heap.h. Everything agnocast is
 * libagnocast's, compiled into this library (it is the first copy in the
 * process, so every other copy forwards to it): joining
 * (lib_join_heap), the allocator (lib.mt), fork (the child's pool becomes
 * a private copy). What is here: the malloc family, the constructor, the
 * heaphook's own settings and its one-line messages.
 *
 * States (heap.state): UNJOINED until the first allocation or the
 * constructor joins; JOINING while one thread joins (its own allocations
 * and every other thread's go to glibc meanwhile, so nothing can wait on
 * anything); then JOINED, or GLIBC when joining failed under the glibc
 * fallback. A forked child stays JOINED on its private copy of the pool
 * but is not shareable (lib.forked).
 *
 * Nothing here uses stdio: messages are written with write(2), and
 * whatever glibc or the library allocates while joining lands on glibc's
 * heap through the in_hook guard.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agnocast_heap.h"
#include "internal.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* glibc's own allocator, exported for exactly this use. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

enum { UNJOINED, JOINING, JOINED, GLIBC };

static struct {
	_Atomic int state;
	bool borrow_mode, fail_hard, stats;
	int join_err;
	size_t (*glibc_usable_size)(void *);
	_Atomic unsigned long n_pool, n_glibc;
	atomic_flag exhausted_said;
} heap;

static TLS int in_hook;
static TLS unsigned int borrow_depth;

/* --- messages without stdio -------------------------------------------- */

/* Concatenate parts into buf (always NUL-terminated); returns the length. */
static size_t join_str(char *buf, size_t cap, const char *const *parts)
{
	size_t len = 0;

	for (; *parts; parts++) {
		size_t n = strlen(*parts);

		if (n > cap - 1 - len)
			n = cap - 1 - len;
		memcpy(buf + len, *parts, n);
		len += n;
	}
	buf[len] = '\0';
	return len;
}

static void say(const char *const *parts)
{
	char buf[768];
	size_t len = join_str(buf, sizeof(buf) - 1, parts);

	buf[len++] = '\n';
	if (write(STDERR_FILENO, buf, len) < 0)
		return;
}

#define SAY(...) say((const char *const[]){ "agnocast heaphook: ", __VA_ARGS__, NULL })

static const char *u64_str(uint64_t v, char buf[24])
{
	char *p = buf + 23;

	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

/* --- configuration ----------------------------------------------------- */

static bool env_is(const char *name, const char *value, const char *other)
{
	const char *s = getenv(name);

	if (!s || !strcmp(s, other))
		return false;
	if (!strcmp(s, value))
		return true;
	SAY(name, "=\"", s, "\" is not \"", other, "\" or \"", value, "\"");
	_exit(1);
}

/* The heaphook's settings; a malformed one ends the process, whatever the fallback. */
static void configure(uint64_t *size, uint64_t *max)
{
	/* The library's own bookkeeping stays out of the pool subscribers read. */
	lib_sys_allocator(__libc_malloc, __libc_realloc, __libc_free);
	if (lib_env_sizes(size, max)) {
		SAY(lib_last_error());
		_exit(1);
	}
	heap.borrow_mode = env_is("AGNOCAST_HEAPHOOK_MODE", "borrow", "all");
	heap.fail_hard = !env_is("AGNOCAST_HEAPHOOK_FALLBACK", "glibc", "fail");
	heap.stats = env_is("AGNOCAST_HEAPHOOK_STATS", "1", "0");
	heap.glibc_usable_size = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
}

/* --- joining ----------------------------------------------------------- */

/* Runs after the library's own child handler, which made the pool private. */
static void atfork_child(void)
{
	if (atomic_load(&heap.state) == JOINED && !lib.mt) {
		SAY("fork: cannot make the child's copy of the pool private; "
		    "the child stops rather than write into its parent's pool");
		_exit(127);
	}
}

static void join_once(void)
{
	int expected = UNJOINED;
	uint64_t size, max;
	int r;

	if (!atomic_compare_exchange_strong(&heap.state, &expected, JOINING))
		return;
	in_hook = 1;
	configure(&size, &max);
	r = lib_join_heap(size, max);
	if (r >= 0)
		pthread_atfork(NULL, NULL, atfork_child);
	in_hook = 0;
	if (r >= 0) {
		atomic_store(&heap.state, JOINED);
		return;
	}
	heap.join_err = r;
	if (heap.fail_hard) {
		SAY(lib_last_error(), "; exiting (set AGNOCAST_HEAPHOOK_FALLBACK=glibc to run without sharing)");
		_exit(1);
	}
	SAY(lib_last_error(), "; continuing on glibc's heap, so nothing this process allocates is shareable");
	atomic_store(&heap.state, GLIBC);
}

__attribute__((constructor)) static void heaphook_init(void)
{
	join_once();
}

__attribute__((destructor)) static void heaphook_fini(void)
{
	char a[24], b[24], c[24], d[24];
	bool joined = atomic_load(&heap.state) == JOINED && !lib.forked;

	if (!heap.stats)
		return;
	SAY("pool ", u64_str(heap.n_pool, a), " glibc ", u64_str(heap.n_glibc, b),
	    " grows ", u64_str(lib_grows(), c), " pool-size ",
	    u64_str(atomic_load(&lib.size), d), joined ? " joined 1" : " joined 0");
}

/* --- the allocator functions ------------------------------------------- */

static inline bool owned(const void *p)
{
	return atomic_load_explicit(&heap.state, memory_order_acquire) == JOINED &&
	       lib.mt && pool_mt_owns(lib.mt, p);
}

/* Should this allocation come from the pool? Joins on first use. */
static inline bool use_pool(void)
{
	int state = atomic_load_explicit(&heap.state, memory_order_acquire);

	if (__builtin_expect(state == UNJOINED, 0) && !in_hook) {
		join_once();
		state = atomic_load(&heap.state);
	}
	return state == JOINED && lib.mt && !in_hook && (!heap.borrow_mode || borrow_depth);
}

static inline void *counted(void *p, bool pool)
{
	if (__builtin_expect(heap.stats, 0))
		atomic_fetch_add_explicit(pool ? &heap.n_pool : &heap.n_glibc, 1,
					  memory_order_relaxed);
	return p;
}

static void *exhausted(size_t n)
{
	char a[24], b[24];

	if (!atomic_flag_test_and_set(&heap.exhausted_said))
		SAY("the pool is exhausted at its maximum of ", u64_str(lib.max, a),
		    " bytes (AGNOCAST_MEMPOOL_MAX); an allocation of ", u64_str(n, b),
		    " bytes fails with ENOMEM");
	errno = ENOMEM;
	return NULL;
}

static inline void *pool_result(void *p, size_t n)
{
	if (__builtin_expect(!p, 0) && errno == ENOMEM)
		return exhausted(n);
	return counted(p, true);
}

PUBLIC void *malloc(size_t n)
{
	if (use_pool())
		return pool_result(pool_mt_malloc(lib.mt, n), n);
	return counted(__libc_malloc(n), false);
}

PUBLIC void free(void *p)
{
	if (!p)
		return;
	if (owned(p))
		pool_mt_free(lib.mt, p);
	else
		__libc_free(p);
}

/* nmemb * size, or ENOMEM on overflow (not an exhausted pool). */
static inline bool calloc_size(size_t nmemb, size_t size, size_t *n)
{
	if (!__builtin_mul_overflow(nmemb, size, n))
		return true;
	errno = ENOMEM;
	return false;
}

PUBLIC void *calloc(size_t nmemb, size_t size)
{
	size_t n;

	if (!use_pool())
		return counted(__libc_calloc(nmemb, size), false);
	if (!calloc_size(nmemb, size, &n))
		return NULL;
	return pool_result(pool_mt_calloc(lib.mt, nmemb, size), n);
}

/* A pool block stays in the pool, a glibc block on glibc's heap. */
PUBLIC void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (owned(p))
		return pool_result(pool_mt_realloc(lib.mt, p, n), n);
	return __libc_realloc(p, n);
}

PUBLIC void *reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

static void *aligned(size_t align, size_t n)
{
	if (use_pool())
		return pool_result(pool_mt_memalign(lib.mt, align, n), n);
	return counted(__libc_memalign(align, n), false);
}

static inline bool power_of_two(size_t x)
{
	return x && !(x & (x - 1));
}

PUBLIC int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (!power_of_two(align) || align % sizeof(void *))
		return EINVAL;
	p = aligned(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

PUBLIC void *aligned_alloc(size_t align, size_t n)
{
	if (!power_of_two(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

PUBLIC void *memalign(size_t align, size_t n)
{
	/* glibc rounds a non-power-of-two alignment up; so do we. */
	if (!power_of_two(align))
		align = align > 1 ? 1UL << (64 - __builtin_clzl(align)) : 1;
	return aligned(align, n);
}

PUBLIC void *valloc(size_t n)
{
	return aligned((size_t)getpagesize(), n);
}

PUBLIC void *pvalloc(size_t n)
{
	size_t page = (size_t)getpagesize();

	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(page, (n + page - 1) & ~(page - 1));
}

PUBLIC size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (owned(p))
		return pool_mt_usable_size(lib.mt, p);
	return heap.glibc_usable_size ? heap.glibc_usable_size(p) : 0;
}

/* --- the explicit API -------------------------------------------------- */

static bool shareable(void)
{
	if (atomic_load(&heap.state) == UNJOINED)
		join_once();
	if (atomic_load(&heap.state) == JOINED && !lib.forked)
		return true;
	errno = ENODEV;
	return false;
}

PUBLIC int agnocast_heap_join(void)
{
	if (shareable())
		return 0;
	return heap.join_err ? heap.join_err : -ENODEV;
}

PUBLIC int agnocast_heap_info(struct agnocast_heap_info *info)
{
	struct agnocast_pool pool;

	if (!shareable() || lib_pool_info(&pool)) {
		memset(info, 0, sizeof(*info));
		info->dev_fd = info->pool_fd = -1;
		return -ENODEV;
	}
	info->dev_fd = pool.dev_fd;
	info->pool_fd = pool.pool_fd;
	info->addr = pool.addr;
	info->size = pool.size;
	info->max = pool.max;
	return 0;
}

PUBLIC void *shm_malloc(size_t size)
{
	return shareable() ? pool_result(pool_mt_malloc(lib.mt, size), size) : NULL;
}

PUBLIC void *shm_calloc(size_t nmemb, size_t size)
{
	size_t n;

	if (!shareable() || !calloc_size(nmemb, size, &n))
		return NULL;
	return pool_result(pool_mt_calloc(lib.mt, nmemb, size), n);
}

PUBLIC void *shm_realloc(void *p, size_t size)
{
	if (!p)
		return shm_malloc(size);
	if (!shareable())
		return NULL;
	if (!pool_mt_owns(lib.mt, p)) {
		errno = EINVAL;
		return NULL;
	}
	return pool_result(pool_mt_realloc(lib.mt, p, size), size);
}

PUBLIC void shm_free(void *p)
{
	if (p && owned(p))
		pool_mt_free(lib.mt, p);
}

PUBLIC int agnocast_heap_owns(const void *p)
{
	return owned(p);
}

PUBLIC uint64_t agnocast_heap_offset(const void *p)
{
	return owned(p) ? (uint64_t)(uintptr_t)p - lib.addr : UINT64_MAX;
}

PUBLIC void *agnocast_heap_at(uint64_t offset)
{
	if (atomic_load(&heap.state) != JOINED || offset >= lib.max)
		return NULL;
	return (void *)(uintptr_t)(lib.addr + offset);
}

PUBLIC void agnocast_borrow_begin(void)
{
	borrow_depth++;
}

PUBLIC void agnocast_borrow_end(void)
{
	if (borrow_depth)
		borrow_depth--;
}
