/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_alloc.h - two-level segregated-fit allocator over one growable region.
 *
 * The region is a fixed virtual range [base, base + max) of which only the
 * prefix [base, base + size) is usable; the caller's grow() callback makes a
 * longer prefix usable (e.g. by ftruncate()ing the shm file that backs a
 * MAP_SHARED mapping of the whole range).  The allocator's control block
 * lives at base, inside the region, so it is in the shared memory too.
 *
 * The core (pool_alloc.c) is single-threaded: the caller serialises every
 * call on one pool.  pool_thread.h is the thread-safe front-end with
 * per-thread caches; use that one from several threads.
 *
 * Errors:
 *  - out of memory (no block fits, growth refused or past max): NULL with
 *    errno = ENOMEM; nothing else changes (realloc keeps the old block).
 *  - bad arguments (memalign with an alignment that is not a power of
 *    two, bad init arguments): NULL with errno = EINVAL.
 *  - free/realloc/usable_size of a pointer that is not a live block of
 *    this pool (outside the heap, misaligned, no block header, already
 *    free): one line on stderr, then abort().  Detection is best-effort:
 *    it reads the 8-byte header before the payload and checks a 16-bit
 *    magic and the free flag; a block freed and handed out again cannot
 *    be told from a live one.
 *
 * Every returned pointer is 16-byte aligned (alignof(max_align_t)).
 * malloc(0) returns a unique minimal block, like glibc; realloc(p, 0)
 * frees p and returns NULL, like glibc.
 */
#ifndef AGNOCAST_POOL_ALLOC_H
#define AGNOCAST_POOL_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct pool_alloc;

/* Make [base, base + new_size) usable; return 0 on success. */
typedef int (*pool_grow_fn)(void *ctx, size_t new_size);

/* Growth happens in multiples of this (100 kB, a multiple of the page). */
#define POOL_GROW_UNIT		102400UL
/* Largest supported max (1 TiB): the first-level index fits 32 bits. */
#define POOL_MAX_LOG2		40
#define POOL_MAX_SIZE		(1UL << POOL_MAX_LOG2)

struct pool_stats {
	size_t size;		/* usable prefix of the region now */
	size_t max;		/* the region's fixed reservation */
	size_t overhead;	/* control block + end sentinel */
	size_t in_use;		/* bytes in used blocks, headers included */
	size_t free;		/* bytes in free blocks */
	size_t largest_free;	/* size of the largest free block */
	size_t n_used;		/* number of used blocks */
	size_t n_free;		/* number of free blocks */
	size_t grows;		/* successful grow() calls */
};
/* Always: overhead + in_use + free == size. */

/*
 * Set up a pool at base (16-byte aligned; page aligned is best).  size is
 * the usable prefix now (at least POOL_MIN_SIZE), max the reservation
 * (size <= max <= POOL_MAX_SIZE).  grow may be NULL for a fixed pool.
 * grow is called with new_size a multiple of POOL_GROW_UNIT, or max itself
 * if max is not one, and size < new_size <= max.
 */
struct pool_alloc *pool_alloc_init(void *base, size_t size, size_t max,
				   pool_grow_fn grow, void *grow_ctx);

/*
 * Sub-pools, for a front-end's arenas.  A sub-pool has its control block
 * (pool_ctl_size() bytes, 16-aligned) wherever the caller puts it, and
 * its memory in segments the caller adds: each seg_align-aligned and at
 * most seg_align long, typically blocks of a root pool.  It never calls
 * grow(); malloc returns NULL/ENOMEM when no segment has room, and the
 * caller may add a segment and retry.  Its headers carry
 * POOL_HDR_MAGIC_SUB, so a front-end can tell its blocks from a root's,
 * and find the owner with pool_seg_owner().  Blocks never span or merge
 * across segments.  The sub-pool trusts that p & ~(seg_align - 1) is
 * readable for any p passed to it: check pool_owns() on the root first.
 */
size_t pool_ctl_size(void);
struct pool_alloc *pool_alloc_init_sub(void *ctl, size_t seg_align);
int pool_add_segment(struct pool_alloc *pa, void *mem, size_t size);
/* A segment emptied by a recent free, unlinked and handed back, or NULL
 * (the last segment is never handed back). */
void *pool_seg_reclaim(struct pool_alloc *pa);
/* The sub-pool whose segment holds p, or NULL. */
struct pool_alloc *pool_seg_owner(const void *p, size_t seg_align);

/* Two words inside the control block for the caller; the core ignores them. */
void **pool_user(struct pool_alloc *pa);
size_t pool_n_used(const struct pool_alloc *pa);

void *pool_malloc(struct pool_alloc *pa, size_t n);
void *pool_calloc(struct pool_alloc *pa, size_t nmemb, size_t n);
void *pool_memalign(struct pool_alloc *pa, size_t align, size_t n);
void *pool_realloc(struct pool_alloc *pa, void *p, size_t n);
void pool_free(struct pool_alloc *pa, void *p);
size_t pool_usable_size(struct pool_alloc *pa, void *p);

/* Is p inside [base, base + max) of a root pool?  Needs no lock. */
int pool_owns(const struct pool_alloc *pa, const void *p);

/*
 * Walk every block and free list and verify every invariant listed at the
 * top of pool_alloc.c.  Returns 0 if all hold, else -1 with a reason in why.
 */
int pool_check(struct pool_alloc *pa, char *why, size_t whylen);

void pool_get_stats(struct pool_alloc *pa, struct pool_stats *st);

/* Current end of the usable prefix; it only grows, readable unlocked. */
const size_t *pool_size_ref(const struct pool_alloc *pa);

/* Report "pool_alloc: <op>(<p>): <what>" on stderr and abort(). */
void pool_die(const char *op, const void *p, const char *what)
	__attribute__((noreturn, cold));

/*
 * ---- Block format, shared with front-ends (pool_thread.c) ----
 *
 * A payload p is preceded by one 64-bit header word at p - 8:
 *	bits  0..3	flags (POOL_HDR_FREE, POOL_HDR_PREV_FREE)
 *	bits  4..47	block size in bytes (a multiple of 16, header included)
 *	bits 48..63	POOL_HDR_MAGIC (POOL_HDR_MAGIC_SUB in a sub-pool)
 * A block of size s offers s - 8 usable bytes: the next block's 8-byte
 * "prev_size" tag overlaps our last 8 bytes and is only used while we
 * are free.  The core writes a used block's header only (a) inside a
 * core call on that very block, or (b) to flip POOL_HDR_PREV_FREE when
 * its physical predecessor changes state.  A front-end may therefore
 * read the header of a block it owns without the core's lock (relaxed
 * atomic load), but must never write it.
 *
 * Size classes: block sizes below 512 map linearly in steps of 16
 * (classes 0..31); above, each power of two is cut in 32 equal classes.
 * class_down(s) is the class a block of size s lives in; class_up(s) is
 * the first class whose every block is >= s.
 */
#define POOL_ALIGN		16UL
#define POOL_HDR_BYTES		8UL
#define POOL_MIN_BLOCK		32UL
#define POOL_SL_LOG2		5
#define POOL_SL_COUNT		(1U << POOL_SL_LOG2)
#define POOL_FL_SHIFT		(POOL_SL_LOG2 + 4)	/* log2(512) */
#define POOL_SMALL_BLOCK	(1UL << POOL_FL_SHIFT)
#define POOL_FL_COUNT		(POOL_MAX_LOG2 - POOL_FL_SHIFT + 1)
#define POOL_MAX_BLOCK		(POOL_MAX_SIZE - POOL_SMALL_BLOCK)

#define POOL_HDR_FREE		0x1ULL
#define POOL_HDR_PREV_FREE	0x2ULL
#define POOL_HDR_FLAGS		0xfULL
#define POOL_HDR_SIZE_MASK	(((1ULL << 48) - 1) & ~POOL_HDR_FLAGS)
#define POOL_HDR_MAGIC_MASK	(0xffffULL << 48)
#define POOL_HDR_MAGIC		(0xa6c5ULL << 48)
#define POOL_HDR_MAGIC_SUB	(0xa6c4ULL << 48)

/* Block size for a request of n bytes; 0 if n is too large. */
static inline size_t pool_bsize(size_t n)
{
	if (n > POOL_MAX_BLOCK - POOL_ALIGN)
		return 0;
	n = (n + POOL_HDR_BYTES + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
	return n < POOL_MIN_BLOCK ? POOL_MIN_BLOCK : n;
}

static inline unsigned int pool_fls(size_t x)
{
	return 63 - __builtin_clzl(x);
}

/* Class of a block of size s (s >= 32, a multiple of 16). */
static inline unsigned int pool_class_down(size_t s)
{
	unsigned int f;

	if (s < POOL_SMALL_BLOCK)
		return s >> 4;
	f = pool_fls(s);
	return ((f - POOL_FL_SHIFT + 1) << POOL_SL_LOG2) +
	       ((s >> (f - POOL_SL_LOG2)) & (POOL_SL_COUNT - 1));
}

/* Round s up to its class boundary; every block of the class fits s. */
static inline size_t pool_class_round(size_t s)
{
	size_t step;

	if (s < POOL_SMALL_BLOCK)
		return s;
	step = (size_t)1 << (pool_fls(s) - POOL_SL_LOG2);
	return (s + step - 1) & ~(step - 1);
}

static inline uint64_t pool_hdr_load(const void *p)
{
	return __atomic_load_n((const uint64_t *)p - 1, __ATOMIC_RELAXED);
}

#endif /* AGNOCAST_POOL_ALLOC_H */
