// SPDX-License-Identifier: Apache-2.0
/*
 * heaphook: malloc and friends served from the process's agnocast pool.
 * The public contract is agnocast_heap.h; the allocator is pool_thread.c
 * over pool_alloc.c.
 *
 * States (heap.state): UNJOINED until the first allocation or the
 * constructor joins; JOINING while one thread joins (its own allocations
 * and every other thread's go to glibc meanwhile, so nothing can wait on
 * anything); then JOINED, or GLIBC when joining failed under the glibc
 * fallback. A forked child stays JOINED on a private copy of the pool but
 * is not shareable (heap.forked).
 *
 * Nothing here uses stdio or allocates on the way to joining: messages are
 * written with write(2), and whatever glibc allocates inside the syscalls'
 * wrappers lands on glibc's heap through the in_hook guard.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agnocast.h"
#include "agnocast_heap.h"
#include "pool_thread.h"

#define PUBLIC __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

#define DEFAULT_SIZE	(64ULL << 20)
#define DEFAULT_MAX_MIN	(1ULL << 30)

/* glibc's own allocator, exported for exactly this use. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

enum { UNJOINED, JOINING, JOINED, GLIBC };

static struct {
	_Atomic int state;
	struct pool_mt *mt;
	int dev_fd, pool_fd;
	uint64_t addr, max;
	_Atomic uint64_t size;
	bool borrow_mode, fail_hard, stats, forked;
	int join_err;
	size_t (*glibc_usable_size)(void *);
	_Atomic unsigned long n_pool, n_glibc, n_grows;
	atomic_flag exhausted_said;
	int fork_pipe[2];
} heap = { .dev_fd = -1, .pool_fd = -1, .fork_pipe = { -1, -1 } };

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

/* Why joining failed; join_once() says it in one line with the outcome. */
static char join_reason[512];
#define REASON(...) join_str(join_reason, sizeof(join_reason), (const char *const[]){ __VA_ARGS__, NULL })

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

/*
 * "123", "64K", "64M", "1G" (powers of 1024, case-insensitive, an optional
 * trailing "B" or "iB"). Returns false on anything else or on overflow.
 */
static bool parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;

	if (!*s)
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s | 0x20) {
	case 'k': mul = 1ULL << 10; s++; break;
	case 'm': mul = 1ULL << 20; s++; break;
	case 'g': mul = 1ULL << 30; s++; break;
	case 't': mul = 1ULL << 40; s++; break;
	default: break;
	}
	if (mul > 1 && (*s | 0x20) == 'i')
		s++;
	if ((*s | 0x20) == 'b')
		s++;
	if (*s || (v && mul > UINT64_MAX / v))
		return false;
	*out = v * mul;
	return true;
}

static uint64_t env_size(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	uint64_t v;
	char a[24], b[24];

	if (!s)
		return dflt;
	if (!parse_size(s, &v) || v == 0 || v > AGNOCAST_POOL_SIZE_MAX) {
		SAY(name, "=\"", s, "\" is not a size between 1 and ",
		    u64_str(AGNOCAST_POOL_SIZE_MAX >> 30, a),
		    "G (bytes, or with a K, M or G suffix; rounded up to ",
		    u64_str(AGNOCAST_POOL_UNIT, b), " bytes)");
		_exit(1);
	}
	return v;
}

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

/* --- joining ----------------------------------------------------------- */

static int pool_grow(void *ctx, size_t new_size)
{
	(void)ctx;
	if (!heap.forked && ftruncate(heap.pool_fd, (off_t)new_size) < 0)
		return -1;
	atomic_store(&heap.size, new_size);
	atomic_fetch_add_explicit(&heap.n_grows, 1, memory_order_relaxed);
	return 0;
}

static int open_device(void)
{
	int fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		REASON(AGNOCAST_DEVICE_PATH " does not exist: the agnocast.ko module is not loaded "
		       "(load it: sudo insmod kmod/agnocast.ko, see README)");
	else
		REASON("cannot open " AGNOCAST_DEVICE_PATH ": ", strerror(errno),
		       errno == EACCES ? " (check the device's permissions: the module makes it 0666)" : "");
	return -ENODEV;
}

static int create_pool_file(void)
{
	char name[32] = "/agnocast@", pid[24];
	int fd, tries;

	strcat(name, u64_str((uint64_t)getpid(), pid));
	for (tries = 0; tries < 2; tries++) {
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
		if (fd >= 0 || errno != EEXIST)
			break;
		/* Left by a dead process that had our pid: stale. */
		shm_unlink(name);
	}
	if (fd < 0)
		REASON("cannot create the shared memory ", name, ": ", strerror(errno));
	return fd;
}

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

static int join(void)
{
	struct agnocast_add_process_args ap = { 0 };
	struct agnocast_attach_pool_args at = { 0 };
	uint64_t size, max;
	void *p;
	char a[24];

	size = env_size("AGNOCAST_MEMPOOL_SIZE", DEFAULT_SIZE);
	max = env_size("AGNOCAST_MEMPOOL_MAX",
		       size * 16 > DEFAULT_MAX_MIN ? size * 16 : DEFAULT_MAX_MIN);
	if (max > AGNOCAST_POOL_SIZE_MAX)
		max = AGNOCAST_POOL_SIZE_MAX;
	if (max < size) {
		SAY("AGNOCAST_MEMPOOL_MAX is below AGNOCAST_MEMPOOL_SIZE");
		_exit(1);
	}
	heap.borrow_mode = env_is("AGNOCAST_HEAPHOOK_MODE", "borrow", "all");
	heap.fail_hard = !env_is("AGNOCAST_HEAPHOOK_FALLBACK", "glibc", "fail");
	heap.stats = env_is("AGNOCAST_HEAPHOOK_STATS", "1", "0");
	heap.glibc_usable_size = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");

	heap.dev_fd = open_device();
	if (heap.dev_fd < 0)
		return -ENODEV;
	ap.pool_size = size;
	ap.pool_max = max;
	if (ioctl(heap.dev_fd, AGNOCAST_ADD_PROCESS_CMD, &ap) < 0) {
		REASON("joining agnocast failed: ", strerror(errno));
		return -errno;
	}
	if (ap.flags & AGNOCAST_JOIN_EXISTING) {
		REASON("this process joined agnocast before the heap hook could "
		       "(load the hook with LD_PRELOAD so it runs first)");
		return -EBUSY;
	}
	heap.pool_fd = create_pool_file();
	if (heap.pool_fd < 0)
		return -errno;
	if (ftruncate(heap.pool_fd, (off_t)ap.pool_size) < 0) {
		REASON("cannot size the pool to ", u64_str(ap.pool_size, a), " bytes: ", strerror(errno));
		return -errno;
	}
	p = mmap((void *)(uintptr_t)ap.pool_addr, ap.pool_max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, heap.pool_fd, 0);
	if (p != (void *)(uintptr_t)ap.pool_addr) {
		REASON("cannot map the pool at its assigned address: ", strerror(errno));
		return -EADDRINUSE;
	}
	at.fd = heap.pool_fd;
	if (ioctl(heap.dev_fd, AGNOCAST_ATTACH_POOL_CMD, &at) < 0) {
		REASON("the module refused the pool: ", strerror(errno));
		return -errno;
	}
	heap.addr = ap.pool_addr;
	heap.max = ap.pool_max;
	atomic_store(&heap.size, ap.pool_size);
	heap.mt = pool_mt_init(p, ap.pool_size, ap.pool_max, pool_grow, NULL);
	if (!heap.mt) {
		REASON("cannot set up the allocator in the pool");
		return -ENOMEM;
	}
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	return 0;
}

static void join_once(void)
{
	int expected = UNJOINED;
	int err;

	if (!atomic_compare_exchange_strong(&heap.state, &expected, JOINING))
		return;
	in_hook = 1;
	err = join();
	in_hook = 0;
	if (err == 0) {
		atomic_store(&heap.state, JOINED);
		return;
	}
	heap.join_err = err;
	if (heap.fail_hard) {
		SAY(join_reason, "; exiting (set AGNOCAST_HEAPHOOK_FALLBACK=glibc to run without sharing)");
		_exit(1);
	}
	SAY(join_reason, "; continuing on glibc's heap, so nothing this process allocates is shareable");
	atomic_store(&heap.state, GLIBC);
}

__attribute__((constructor)) static void heaphook_init(void)
{
	join_once();
}

__attribute__((destructor)) static void heaphook_fini(void)
{
	char a[24], b[24], c[24], d[24];

	if (!heap.stats)
		return;
	SAY("pool ", u64_str(heap.n_pool, a), " glibc ", u64_str(heap.n_glibc, b),
	    " grows ", u64_str(heap.n_grows, c), " pool-size ",
	    u64_str(atomic_load(&heap.size), d),
	    atomic_load(&heap.state) == JOINED && !heap.forked ? " joined 1" : " joined 0");
}

/* --- fork -------------------------------------------------------------- */

/*
 * The parent's allocator is held across fork and until the child has made
 * its copy of the pool private, so the copy is consistent.
 */
static void atfork_prepare(void)
{
	if (atomic_load(&heap.state) != JOINED || heap.forked)
		return;
	if (pipe2(heap.fork_pipe, O_CLOEXEC) < 0)
		heap.fork_pipe[0] = heap.fork_pipe[1] = -1;
	pool_mt_lock(heap.mt);
}

static void atfork_parent(void)
{
	char c;

	if (atomic_load(&heap.state) != JOINED || heap.forked)
		return;
	if (heap.fork_pipe[0] >= 0) {
		close(heap.fork_pipe[1]);
		while (read(heap.fork_pipe[0], &c, 1) < 0 && errno == EINTR)
			;
		close(heap.fork_pipe[0]);
	}
	pool_mt_unlock(heap.mt);
}

/*
 * Replace the shared pool mapping by a private copy at the same address.
 * Only the file's data extents are copied: reading a hole through a shared
 * tmpfs mapping would allocate it in the parent's pool file.
 */
static bool privatize_pool(void)
{
	uint64_t size = atomic_load(&heap.size);
	char *base = (char *)(uintptr_t)heap.addr;
	char *copy;
	off_t data, hole = 0;

	copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED)
		return false;
	while ((uint64_t)hole < size && (data = lseek(heap.pool_fd, hole, SEEK_DATA)) >= 0 &&
	       (uint64_t)data < size) {
		hole = lseek(heap.pool_fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		memcpy(copy + data, base + data, (size_t)(hole - data));
	}
	if (mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, base) != base)
		return false;
	if (heap.max > size &&
	    mmap((char *)base + size, heap.max - size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		return false;
	return true;
}

static void atfork_child(void)
{
	if (atomic_load(&heap.state) != JOINED || heap.forked)
		return;
	if (!privatize_pool()) {
		SAY("fork: cannot make the child's copy of the pool private; "
		    "the child stops rather than write into its parent's pool");
		_exit(127);
	}
	heap.forked = true;
	close(heap.pool_fd);
	close(heap.dev_fd);
	heap.pool_fd = heap.dev_fd = -1;
	if (heap.fork_pipe[0] >= 0) {
		close(heap.fork_pipe[0]);
		if (write(heap.fork_pipe[1], "", 1) < 0)
			SAY("fork: cannot release the parent");
		close(heap.fork_pipe[1]);
	}
	pool_mt_unlock(heap.mt);
}

/* --- the allocator functions ------------------------------------------- */

static inline bool owned(const void *p)
{
	return atomic_load_explicit(&heap.state, memory_order_acquire) == JOINED &&
	       pool_mt_owns(heap.mt, p);
}

/* Should this allocation come from the pool? Joins on first use. */
static inline bool use_pool(void)
{
	int state = atomic_load_explicit(&heap.state, memory_order_acquire);

	if (__builtin_expect(state == UNJOINED, 0) && !in_hook) {
		join_once();
		state = atomic_load(&heap.state);
	}
	return state == JOINED && !in_hook && (!heap.borrow_mode || borrow_depth);
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
		SAY("the pool is exhausted at its maximum of ", u64_str(heap.max, a),
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
		return pool_result(pool_mt_malloc(heap.mt, n), n);
	return counted(__libc_malloc(n), false);
}

PUBLIC void free(void *p)
{
	if (!p)
		return;
	if (owned(p))
		pool_mt_free(heap.mt, p);
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
	return pool_result(pool_mt_calloc(heap.mt, nmemb, size), n);
}

/* A pool block stays in the pool, a glibc block on glibc's heap. */
PUBLIC void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (owned(p))
		return pool_result(pool_mt_realloc(heap.mt, p, n), n);
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
		return pool_result(pool_mt_memalign(heap.mt, align, n), n);
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
		return pool_mt_usable_size(heap.mt, p);
	return heap.glibc_usable_size ? heap.glibc_usable_size(p) : 0;
}

/* --- the explicit API -------------------------------------------------- */

static bool shareable(void)
{
	if (atomic_load(&heap.state) == UNJOINED)
		join_once();
	if (atomic_load(&heap.state) == JOINED && !heap.forked)
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
	if (!shareable()) {
		memset(info, 0, sizeof(*info));
		info->dev_fd = info->pool_fd = -1;
		return -ENODEV;
	}
	info->dev_fd = heap.dev_fd;
	info->pool_fd = heap.pool_fd;
	info->addr = heap.addr;
	info->size = atomic_load(&heap.size);
	info->max = heap.max;
	return 0;
}

PUBLIC void *shm_malloc(size_t size)
{
	return shareable() ? pool_result(pool_mt_malloc(heap.mt, size), size) : NULL;
}

PUBLIC void *shm_calloc(size_t nmemb, size_t size)
{
	size_t n;

	if (!shareable() || !calloc_size(nmemb, size, &n))
		return NULL;
	return pool_result(pool_mt_calloc(heap.mt, nmemb, size), n);
}

PUBLIC void *shm_realloc(void *p, size_t size)
{
	if (!p)
		return shm_malloc(size);
	if (!shareable())
		return NULL;
	if (!pool_mt_owns(heap.mt, p)) {
		errno = EINVAL;
		return NULL;
	}
	return pool_result(pool_mt_realloc(heap.mt, p, size), size);
}

PUBLIC void shm_free(void *p)
{
	if (p && owned(p))
		pool_mt_free(heap.mt, p);
}

PUBLIC int agnocast_heap_owns(const void *p)
{
	return owned(p);
}

PUBLIC uint64_t agnocast_heap_offset(const void *p)
{
	return owned(p) ? (uint64_t)(uintptr_t)p - heap.addr : UINT64_MAX;
}

PUBLIC void *agnocast_heap_at(uint64_t offset)
{
	if (atomic_load(&heap.state) != JOINED || offset >= heap.max)
		return NULL;
	return (void *)(uintptr_t)(heap.addr + offset);
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
