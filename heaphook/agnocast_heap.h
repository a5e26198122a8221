/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agnocast heaphook: a process's heap in its own shared pool.
 *
 * Loaded with LD_PRELOAD=libagnocast_heaphook.so, the library joins agnocast
 * before main (or on the first allocation, whichever comes first) through
 * libagnocast, which it contains (libagnocast/libagnocast.h: the pool
 * "/agnocast@<pid>", mode 0444, mapped MAP_SHARED at the address the module
 * assigned and attached). Being the first copy of libagnocast in the
 * process, it is the one every other copy forwards to (the Node addon's, a
 * program's), and it exports libagnocast's functions too. From then on
 * malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc and malloc_usable_size are
 * served from the pool, so anything the process builds (strings, vectors,
 * trees of pointers) can be published as is: a subscriber maps the pool
 * read-only at the same address and follows the same pointers.
 *
 * Environment
 *   AGNOCAST_MEMPOOL_SIZE        initial pool size: bytes, or with a K, M or
 *                                G suffix (powers of 1024); rounded up to a
 *                                multiple of 100 kB. Default 64M.
 *   AGNOCAST_MEMPOOL_MAX         how far the pool may grow (same syntax).
 *                                Default 16 x the size, at least 1G; at
 *                                most 1T. Growth is ftruncate: subscribers
 *                                that mapped the pool see the new memory
 *                                without remapping.
 *   AGNOCAST_HEAPHOOK_MODE       "all" (default): every allocation goes to
 *                                the pool. "borrow": only allocations made
 *                                inside agnocast_borrow_begin()/_end() do;
 *                                the rest stays on glibc's heap.
 *   AGNOCAST_HEAPHOOK_FALLBACK   what to do when the module is not loaded
 *                                or joining fails: "fail" (default) prints
 *                                one line and exits with status 1; "glibc"
 *                                prints one line and continues on glibc's
 *                                heap (nothing is shareable then).
 *   AGNOCAST_HEAPHOOK_STATS      "1": print one line of counters at exit.
 * A malformed, zero or absurd size is refused with one line on stderr and
 * exit status 1, whatever the fallback.
 *
 * Security trade-off of the modes: every subscriber of this process maps
 * the whole pool read-only. In "all" mode that is the whole heap (tokens,
 * keys, other users' data); in "borrow" mode it is only what was allocated
 * inside borrow windows, at the cost of choosing them explicitly.
 *
 * Pointers that are not in the pool (allocated before joining, by the
 * loader, or on glibc's heap in borrow mode) are freed and reallocated by
 * glibc. When the pool cannot grow any more, allocation fails with ENOMEM
 * (NULL) and one diagnostic line is printed, once.
 *
 * fork: the child must not write into its parent's pool. The child's copy
 * of the pool's used extent becomes private memory at the same addresses
 * (copied once, while the parent's allocator is held), so inherited
 * pointers stay valid and the child keeps allocating from its private copy.
 * The child is not joined: nothing it allocates is shareable until it
 * execs. (vfork and posix_spawn children exec at once and copy nothing.)
 *
 * Thread safety: every function here and every hooked allocator function
 * may be called from any thread.
 */
#ifndef AGNOCAST_HEAP_H
#define AGNOCAST_HEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the pool is. All zero (and fds -1) when the process has not joined. */
struct agnocast_heap_info {
	int dev_fd;		/* the process's /dev/agnocast descriptor */
	int pool_fd;		/* read-write descriptor of /agnocast@<pid> */
	uint64_t addr;		/* pool base address */
	uint64_t size;		/* current size of the shared memory file */
	uint64_t max;		/* reserved length */
};

/*
 * Join now if not yet joined (the hook does this by itself; a program that
 * links the library without LD_PRELOAD calls it). Returns 0, or a negative
 * errno: -ENODEV when the module is not loaded.
 */
int agnocast_heap_join(void);

/* The pool's geometry; returns 0, or -ENODEV when not joined. */
int agnocast_heap_info(struct agnocast_heap_info *info);

/*
 * Pool memory whatever the mode: NULL with errno ENOMEM when the pool is
 * exhausted, ENODEV when not joined. shm_free and shm_realloc take only
 * pool pointers (and NULL).
 */
void *shm_malloc(size_t size);
void *shm_calloc(size_t nmemb, size_t size);
void *shm_realloc(void *ptr, size_t size);
void shm_free(void *ptr);

/* Is p inside this process's pool (its reserved range)? */
int agnocast_heap_owns(const void *p);

/*
 * Offset of p from the pool's base (UINT64_MAX if p is not in the pool),
 * and back (NULL if the offset lies past the reserved length). Offsets let
 * a program name pool memory independently of where the pool is mapped.
 */
uint64_t agnocast_heap_offset(const void *p);
void *agnocast_heap_at(uint64_t offset);

/*
 * Borrow windows (per thread, nestable): in "borrow" mode the allocations a
 * thread makes between begin and the matching end go to the pool. In "all"
 * mode they do anyway.
 */
void agnocast_borrow_begin(void);
void agnocast_borrow_end(void);

#ifdef __cplusplus
}
#endif

#endif /* AGNOCAST_HEAP_H */
