// SPDX-License-Identifier: Apache-2.0
/*
 * pool_alloc.c - two-level segregated-fit (TLSF-style) allocator over one
 * region whose usable prefix grows in place ("root pool"), or over
 * segments a caller adds ("sub-pool", for a front-end's arenas).
 *
 * Layout of a root pool's region [base, base + size):
 *
 *	base            first                                   sentinel  end
 *	| struct pool_alloc | block | block | ... | block | [ 16 B ] |
 *
 * Layout of a sub-pool segment [seg, seg + seg->size), seg aligned to the
 * sub-pool's seg_align (the control block lives elsewhere):
 *
 *	seg                                                     sentinel  end
 *	| struct pool_seg | block | block | ... | block | [ 16 B ] |
 *
 * A block b (16-byte aligned) is:
 *	b + 0	prev_size: size of the previous block, valid only when
 *		that block is free (it overlaps that block's last 8 bytes)
 *	b + 8	header word: size | flags | magic (format in pool_alloc.h)
 *	b + 16	payload (16-byte aligned); a free block keeps its two
 *		free-list links there
 * and ends at b + size, where the next block starts.
 *
 * Invariants (pool_check() verifies every one but I8, a rule of the code):
 *  I1 Tiling: the blocks from first to sentinel tile [first, sentinel)
 *     exactly (in every segment, for a sub-pool; blocks never span two
 *     segments); every block is 16-byte aligned, its size a multiple of 16
 *     and >= POOL_MIN_BLOCK, and its header carries the pool's magic
 *     (POOL_HDR_MAGIC, or POOL_HDR_MAGIC_SUB in a sub-pool).
 *  I2 Sentinel: the last 16 bytes (of the region, of each segment)
 *     hold a used block of size 0; the walk stops there.  Only
 *     sentinels have size 0.
 *  I3 Boundary tags: a block's PREV_FREE flag equals its predecessor's
 *     FREE flag (the first block's is clear); when it is set, prev_size
 *     equals the predecessor's size.
 *  I4 Coalescing: no two free blocks are adjacent.
 *  I5 Segregation: a block is FREE iff it is on exactly one free list,
 *     list [fl][sl] = pool_class_down(size); lists are doubly linked
 *     and NULL-terminated, and hold free blocks only.
 *  I6 Bitmaps: bit sl of sl_bitmap[fl] is set iff list [fl][sl] is
 *     non-empty; bit fl of fl_bitmap is set iff sl_bitmap[fl] != 0.
 *  I7 Accounting: free_bytes and n_free sum the free blocks, n_used
 *     counts the used ones; overhead + in_use + free == size (for a
 *     sub-pool, size sums its segments).
 *  I8 Ownership: the core writes a used block's header only inside a
 *     call on that block, or to flip its PREV_FREE flag; it never reads
 *     or writes a used block's payload except to copy it in realloc.
 *  I9 Segments: a sub-pool's segments are linked from segs, nsegs long;
 *     each is seg_align-aligned, at most seg_align long, and names the
 *     sub-pool as owner, so the owner of any block p is found at
 *     p & ~(seg_align - 1).
 *
 * Costs: malloc rounds the request up to its class boundary (so any
 * block of the class fits), finds the first non-empty list at or above
 * it with two find-first-set instructions, and splits: O(1), and the
 * rounding wastes < 1/32 of the request (good-fit, bounded internal
 * fragmentation).  free merges with both neighbours through the
 * boundary tags: O(1).  Only when that fails does malloc scan the one
 * list of the unrounded class (first fit), and then grow the region;
 * those paths are linear in that list / a syscall, and only run just
 * before the pool would otherwise report ENOMEM.
 *
 * A sub-pool never grows: when nothing fits, malloc fails and the caller
 * may add a segment.  A free that leaves a segment one free block notes
 * it in pa->empty, and pool_seg_reclaim() hands it back (never the last).
 *
 * Growth: the new prefix becomes one free block made of the old
 * sentinel's 16 bytes and the new bytes, merged with the old last block
 * if that was free; a new sentinel ends it.  The target size is
 * max(needed, 2 * size) rounded to POOL_GROW_UNIT (capped at max); if
 * grow() refuses that, the bare need is tried once more.
 */
#define _GNU_SOURCE
#include "pool_alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pool_blk {
	size_t prev_size;
	uint64_t hdr;
	struct pool_blk *next_free;	/* free blocks only */
	struct pool_blk *prev_free;
};

#define POOL_CTL_MAGIC	0x4c4f4f50434e4741ULL	/* "AGNCPOOL" */
#define POOL_SEG_MAGIC	0x474553434e4741ULL	/* "AGNCSEG" */

/* At the start of every segment of a sub-pool. */
struct pool_seg {
	uint64_t magic;
	struct pool_alloc *owner;
	struct pool_seg *next;
	size_t size;			/* whole segment, this header included */
};

struct pool_alloc {
	uint64_t magic;
	uint64_t hdr_magic;		/* POOL_HDR_MAGIC or POOL_HDR_MAGIC_SUB */
	void *user[2];			/* the caller's; see pool_user() */
	char *base;
	size_t size;			/* usable prefix; see pool_size_ref() */
	size_t max;
	struct pool_blk *first;
	struct pool_blk *sentinel;	/* at base + size - 16 */
	pool_grow_fn grow;
	void *grow_ctx;
	size_t free_bytes;
	size_t n_free;
	size_t n_used;
	size_t grows;
	size_t seg_align;		/* sub-pools only; 0 for a root pool */
	struct pool_seg *segs;
	struct pool_seg *empty;		/* a segment that may be all free */
	size_t nsegs;
	uint32_t fl_bitmap;
	uint32_t sl_bitmap[POOL_FL_COUNT];
	struct pool_blk *heads[POOL_FL_COUNT][POOL_SL_COUNT];
};

#define BLK_OVERHEAD	16UL	/* from block start to payload */
#define SENTINEL_SIZE	16UL
#define SEG_HDR		((sizeof(struct pool_seg) + 15) & ~15UL)
#define SEG_MIN_SIZE	(SEG_HDR + POOL_MIN_BLOCK + SENTINEL_SIZE)
#define CTL_SIZE	((sizeof(struct pool_alloc) + 15) & ~15UL)
#define POOL_MIN_SIZE	(CTL_SIZE + POOL_MIN_BLOCK + SENTINEL_SIZE)

/* ---- block helpers ---- */

static inline uint64_t hdr_get(const struct pool_blk *b)
{
	return __atomic_load_n(&b->hdr, __ATOMIC_RELAXED);
}

static inline void hdr_set(struct pool_blk *b, uint64_t h)
{
	__atomic_store_n(&b->hdr, h, __ATOMIC_RELAXED);
}

static inline size_t blk_size(const struct pool_blk *b)
{
	return hdr_get(b) & POOL_HDR_SIZE_MASK;
}

static inline int blk_is_free(const struct pool_blk *b)
{
	return (hdr_get(b) & POOL_HDR_FREE) != 0;
}

static inline int blk_prev_is_free(const struct pool_blk *b)
{
	return (hdr_get(b) & POOL_HDR_PREV_FREE) != 0;
}

static inline struct pool_blk *blk_at(void *b, size_t off)
{
	return (struct pool_blk *)((char *)b + off);
}

static inline struct pool_blk *blk_next(struct pool_blk *b)
{
	return blk_at(b, blk_size(b));
}

static inline struct pool_blk *blk_prev(struct pool_blk *b)
{
	return (struct pool_blk *)((char *)b - b->prev_size);
}

static inline void *blk_payload(struct pool_blk *b)
{
	return (char *)b + BLK_OVERHEAD;
}

static inline struct pool_blk *blk_of(const void *p)
{
	return (struct pool_blk *)((char *)p - BLK_OVERHEAD);
}

/* Write a whole header; keeps nothing of the old one. */
static inline void blk_init(const struct pool_alloc *pa, struct pool_blk *b,
			    size_t size, uint64_t flags)
{
	hdr_set(b, pa->hdr_magic | size | flags);
}

/* Tell b's successor that b is now free (I3). */
static inline void blk_tag_free(struct pool_blk *b)
{
	struct pool_blk *n = blk_next(b);

	n->prev_size = blk_size(b);
	hdr_set(n, hdr_get(n) | POOL_HDR_PREV_FREE);
}

/* Tell b's successor that b is now used (I3). */
static inline void blk_tag_used(struct pool_blk *b)
{
	struct pool_blk *n = blk_next(b);

	hdr_set(n, hdr_get(n) & ~POOL_HDR_PREV_FREE);
}

/* ---- size classes and free lists ---- */

static inline void class_split(unsigned int c, unsigned int *fl,
			       unsigned int *sl)
{
	*fl = c >> POOL_SL_LOG2;
	*sl = c & (POOL_SL_COUNT - 1);
}

static void list_insert(struct pool_alloc *pa, struct pool_blk *b)
{
	unsigned int fl, sl;
	struct pool_blk *head;

	class_split(pool_class_down(blk_size(b)), &fl, &sl);
	head = pa->heads[fl][sl];
	b->next_free = head;
	b->prev_free = NULL;
	if (head)
		head->prev_free = b;
	pa->heads[fl][sl] = b;
	pa->sl_bitmap[fl] |= 1U << sl;
	pa->fl_bitmap |= 1U << fl;
	pa->free_bytes += blk_size(b);
	pa->n_free++;
}

static void list_remove(struct pool_alloc *pa, struct pool_blk *b)
{
	unsigned int fl, sl;

	class_split(pool_class_down(blk_size(b)), &fl, &sl);
	if (b->next_free)
		b->next_free->prev_free = b->prev_free;
	if (b->prev_free) {
		b->prev_free->next_free = b->next_free;
	} else {
		pa->heads[fl][sl] = b->next_free;
		if (!b->next_free) {
			pa->sl_bitmap[fl] &= ~(1U << sl);
			if (!pa->sl_bitmap[fl])
				pa->fl_bitmap &= ~(1U << fl);
		}
	}
	pa->free_bytes -= blk_size(b);
	pa->n_free--;
}

/* Head of the first non-empty list of class >= c, or NULL. */
static struct pool_blk *list_find(struct pool_alloc *pa, unsigned int c)
{
	unsigned int fl, sl;
	uint32_t map;

	class_split(c, &fl, &sl);
	if (fl >= POOL_FL_COUNT)
		return NULL;
	map = pa->sl_bitmap[fl] & (~0U << sl);
	if (!map) {
		if (fl + 1 >= POOL_FL_COUNT)
			return NULL;
		map = pa->fl_bitmap & (~0U << (fl + 1));
		if (!map)
			return NULL;
		fl = __builtin_ctz(map);
		map = pa->sl_bitmap[fl];
	}
	return pa->heads[fl][__builtin_ctz(map)];
}

/* First fit in the list of bs's own class (blocks there may be < bs). */
static struct pool_blk *list_scan(struct pool_alloc *pa, size_t bs)
{
	unsigned int fl, sl;
	struct pool_blk *b;

	class_split(pool_class_down(bs), &fl, &sl);
	if (fl >= POOL_FL_COUNT)
		return NULL;
	for (b = pa->heads[fl][sl]; b; b = b->next_free)
		if (blk_size(b) >= bs)
			return b;
	return NULL;
}

/* ---- growth ---- */

static size_t grow_round(const struct pool_alloc *pa, size_t n)
{
	n = (n + POOL_GROW_UNIT - 1) / POOL_GROW_UNIT * POOL_GROW_UNIT;
	return n > pa->max ? pa->max : n;
}

static int grow_call(struct pool_alloc *pa, size_t extra)
{
	size_t need, want;

	if (extra < POOL_MIN_BLOCK)
		extra = POOL_MIN_BLOCK;
	if (!pa->grow || extra > pa->max - pa->size)
		return -1;
	need = grow_round(pa, pa->size + extra);
	want = grow_round(pa, pa->size * 2 > need ? pa->size * 2 : need);
	if (pa->grow(pa->grow_ctx, want) != 0) {
		if (want == need || pa->grow(pa->grow_ctx, need) != 0)
			return -1;
		want = need;
	}
	__atomic_store_n(&pa->size, want, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Make at least extra more bytes available at the end of the heap, as
 * (part of) the free block that ends at the sentinel.  Returns that
 * block, still on its free list, or NULL.
 */
static struct pool_blk *pool_extend(struct pool_alloc *pa, size_t extra)
{
	struct pool_blk *b = pa->sentinel, *s;
	size_t old = pa->size, size;

	if (grow_call(pa, extra) < 0)
		return NULL;
	size = pa->size - old;
	if (blk_prev_is_free(b)) {
		b = blk_prev(b);
		list_remove(pa, b);
		size += blk_size(b);
	}
	blk_init(pa, b, size, POOL_HDR_FREE);
	s = blk_at(pa->base, pa->size - SENTINEL_SIZE);
	s->prev_size = size;
	blk_init(pa, s, 0, POOL_HDR_PREV_FREE);
	__atomic_store_n(&pa->sentinel, s, __ATOMIC_RELAXED);
	pa->grows++;
	list_insert(pa, b);
	return b;
}

/* Grow so that the last block, once free, holds at least bs bytes. */
static struct pool_blk *grow_for(struct pool_alloc *pa, size_t bs)
{
	struct pool_blk *s = pa->sentinel;
	size_t avail;

	if (!pa->grow)
		return NULL;
	avail = blk_prev_is_free(s) ? s->prev_size : 0;

	return pool_extend(pa, bs > avail ? bs - avail : POOL_MIN_BLOCK);
}

/* ---- allocation ---- */

/* A free block of size >= bs, taken off its list (still marked free). */
static struct pool_blk *take_free(struct pool_alloc *pa, size_t bs)
{
	struct pool_blk *b;

	b = list_find(pa, pool_class_down(pool_class_round(bs)));
	if (!b)
		b = list_scan(pa, bs);
	if (!b)
		b = grow_for(pa, bs);
	if (b)
		list_remove(pa, b);
	return b;
}

/*
 * Turn the free, unlisted block b into a used block of size bs; a
 * remainder of at least POOL_MIN_BLOCK goes back on a free list.
 * b's successor is never free here (I4), so the remainder need not merge.
 */
static void *blk_use(struct pool_alloc *pa, struct pool_blk *b, size_t bs)
{
	uint64_t prev = hdr_get(b) & POOL_HDR_PREV_FREE;
	size_t size = blk_size(b);
	struct pool_blk *r;

	if (size - bs >= POOL_MIN_BLOCK) {
		r = blk_at(b, bs);
		blk_init(pa, r, size - bs, POOL_HDR_FREE);
		blk_next(r)->prev_size = size - bs;
		list_insert(pa, r);
		blk_init(pa, b, bs, prev);
	} else {
		blk_init(pa, b, size, prev);
		blk_tag_used(b);
	}
	pa->n_used++;
	return blk_payload(b);
}

void *pool_malloc(struct pool_alloc *pa, size_t n)
{
	size_t bs = pool_bsize(n);
	struct pool_blk *b;

	b = bs ? take_free(pa, bs) : NULL;
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	return blk_use(pa, b, bs);
}

void *pool_calloc(struct pool_alloc *pa, size_t nmemb, size_t n)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, n, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = pool_malloc(pa, total);
	if (p)
		memset(p, 0, total);
	return p;
}

/*
 * Cut the free, unlisted block b so that its payload is align-aligned:
 * the leading gap (>= POOL_MIN_BLOCK, multiple of 16) becomes a free
 * block of its own, which cannot merge backwards since b's predecessor
 * is used (I4).
 */
static struct pool_blk *blk_align(struct pool_alloc *pa, struct pool_blk *b,
				  size_t align)
{
	uintptr_t p = (uintptr_t)blk_payload(b);
	size_t gap = ((p + align - 1) & ~(uintptr_t)(align - 1)) - p;
	size_t size = blk_size(b);
	struct pool_blk *nb;

	if (!gap)
		return b;
	if (gap < POOL_MIN_BLOCK)
		gap += align;
	nb = blk_at(b, gap);
	blk_init(pa, b, gap, POOL_HDR_FREE);
	nb->prev_size = gap;
	blk_init(pa, nb, size - gap, POOL_HDR_FREE | POOL_HDR_PREV_FREE);
	list_insert(pa, b);
	return nb;
}

void *pool_memalign(struct pool_alloc *pa, size_t align, size_t n)
{
	size_t bs = pool_bsize(n), total;
	struct pool_blk *b;

	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= POOL_ALIGN)
		return pool_malloc(pa, n);
	if (!bs || align > POOL_MAX_BLOCK ||
	    __builtin_add_overflow(bs, align + POOL_MIN_BLOCK, &total) ||
	    total > POOL_MAX_BLOCK) {
		errno = ENOMEM;
		return NULL;
	}
	b = take_free(pa, total);
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	return blk_use(pa, blk_align(pa, b, align), bs);
}

/* ---- release ---- */

/* The segment of a sub-pool that address a would lie in, or NULL. */
static struct pool_seg *seg_of(const struct pool_alloc *pa, uintptr_t a)
{
	struct pool_seg *s = (struct pool_seg *)(a & ~(pa->seg_align - 1));

	if (s->magic != POOL_SEG_MAGIC || s->owner != pa)
		return NULL;
	return s;
}

/*
 * Where the blocks around address a (a block or payload address) end:
 * the sentinel of its segment, or NULL if a is outside the pool's blocks.
 * A sub-pool trusts that a's segment-aligned base is readable memory.
 */
static uintptr_t blk_limit(const struct pool_alloc *pa, uintptr_t a)
{
	struct pool_seg *s;

	if (!pa->seg_align) {
		if (a < (uintptr_t)pa->first || a >= (uintptr_t)pa->sentinel)
			return 0;
		return (uintptr_t)pa->sentinel;
	}
	s = seg_of(pa, a);
	if (!s || a < (uintptr_t)s + SEG_HDR ||
	    a >= (uintptr_t)s + s->size - SENTINEL_SIZE)
		return 0;
	return (uintptr_t)s + s->size - SENTINEL_SIZE;
}

/* The block of payload p, or die: p must be a live block of this pool. */
static struct pool_blk *blk_checked(struct pool_alloc *pa, const void *p,
				   const char *op)
{
	uintptr_t a = (uintptr_t)p, limit = 0;
	struct pool_blk *b = blk_of(p);
	uint64_t h;
	size_t size;

	if (!(a & (POOL_ALIGN - 1)) && a >= BLK_OVERHEAD)
		limit = blk_limit(pa, a - BLK_OVERHEAD);
	if (!limit)
		pool_die(op, p, "invalid pointer (not a block of this pool)");
	h = hdr_get(b);
	if ((h & POOL_HDR_MAGIC_MASK) != pa->hdr_magic)
		pool_die(op, p, "invalid pointer (no block header)");
	if (h & POOL_HDR_FREE)
		pool_die(op, p, "double free (block is already free)");
	size = h & POOL_HDR_SIZE_MASK;
	if (size < POOL_MIN_BLOCK || size > limit - (uintptr_t)b)
		pool_die(op, p, "corrupted block header");
	return b;
}

/* Free the used block b: merge with free neighbours, list the result. */
static void blk_release(struct pool_alloc *pa, struct pool_blk *b)
{
	size_t size = blk_size(b);
	struct pool_blk *n = blk_at(b, size);

	/* Mark the old header free first so a second free of it is caught
	 * even after it has been merged into its predecessor. */
	hdr_set(b, hdr_get(b) | POOL_HDR_FREE);
	pa->n_used--;
	if (blk_is_free(n)) {
		list_remove(pa, n);
		size += blk_size(n);
	}
	if (blk_prev_is_free(b)) {
		b = blk_prev(b);
		list_remove(pa, b);
		size += blk_size(b);
	}
	blk_init(pa, b, size, POOL_HDR_FREE);
	blk_tag_free(b);
	list_insert(pa, b);
	if (pa->seg_align &&
	    ((uintptr_t)b & (pa->seg_align - 1)) == SEG_HDR &&
	    !blk_size(blk_at(b, size)))
		pa->empty = (struct pool_seg *)((uintptr_t)b - SEG_HDR);
}

void pool_free(struct pool_alloc *pa, void *p)
{
	if (p)
		blk_release(pa, blk_checked(pa, p, "free"));
}

size_t pool_usable_size(struct pool_alloc *pa, void *p)
{
	if (!p)
		return 0;
	return blk_size(blk_checked(pa, p, "malloc_usable_size")) -
	       POOL_HDR_BYTES;
}

/* ---- realloc ---- */

/* Cut the used block b down to bs, freeing (and merging) the tail. */
static void blk_shrink(struct pool_alloc *pa, struct pool_blk *b, size_t bs)
{
	size_t size = blk_size(b), rest = size - bs;
	struct pool_blk *r, *n;

	if (rest < POOL_MIN_BLOCK)
		return;
	blk_init(pa, b, bs, hdr_get(b) & POOL_HDR_PREV_FREE);
	r = blk_at(b, bs);
	n = blk_at(b, size);
	if (blk_is_free(n)) {
		list_remove(pa, n);
		rest += blk_size(n);
	}
	blk_init(pa, r, rest, POOL_HDR_FREE);
	blk_tag_free(r);
	list_insert(pa, r);
}

/* Resize the used block b to bs without moving it, if possible. */
static int blk_resize(struct pool_alloc *pa, struct pool_blk *b, size_t bs)
{
	size_t size = blk_size(b);
	struct pool_blk *n = blk_at(b, size);

	if (bs > size) {
		if (!blk_is_free(n) || size + blk_size(n) < bs)
			return 0;
		list_remove(pa, n);
		size += blk_size(n);
		blk_init(pa, b, size, hdr_get(b) & POOL_HDR_PREV_FREE);
		blk_tag_used(b);
	}
	blk_shrink(pa, b, bs);
	return 1;
}

/* Is b the last block, possibly followed by one free block? */
static int blk_is_last(struct pool_alloc *pa, struct pool_blk *b)
{
	struct pool_blk *n = blk_next(b);

	if (!pa->grow)
		return 0;
	return n == pa->sentinel || (blk_is_free(n) && blk_next(n) == pa->sentinel);
}

void *pool_realloc(struct pool_alloc *pa, void *p, size_t n)
{
	struct pool_blk *b, *nb;
	size_t bs, have;
	void *q;

	if (!p)
		return pool_malloc(pa, n);
	b = blk_checked(pa, p, "realloc");
	if (!n) {
		blk_release(pa, b);
		return NULL;
	}
	bs = pool_bsize(n);
	if (bs && blk_resize(pa, b, bs))
		return p;
	if (bs && blk_is_last(pa, b)) {
		nb = blk_next(b);
		have = blk_size(b) + (nb == pa->sentinel ? 0 : blk_size(nb));
		if (pool_extend(pa, bs - have) && blk_resize(pa, b, bs))
			return p;
	}
	q = pool_malloc(pa, n);
	if (!q)
		return NULL;
	memcpy(q, p, blk_size(b) - POOL_HDR_BYTES);
	blk_release(pa, b);
	return q;
}

/* ---- set-up, queries ---- */

static struct pool_alloc *pool_setup(void *base, size_t size, size_t max,
				      pool_grow_fn grow, void *grow_ctx,
				      uint64_t hdr_magic)
{
	struct pool_alloc *pa = base;
	struct pool_blk *b, *s;

	if (!base || ((uintptr_t)base & (POOL_ALIGN - 1)) ||
	    size < POOL_MIN_SIZE || size > max || max > POOL_MAX_SIZE ||
	    (size & (POOL_ALIGN - 1)) || (max & (POOL_ALIGN - 1))) {
		errno = EINVAL;
		return NULL;
	}
	memset(pa, 0, sizeof(*pa));
	pa->magic = POOL_CTL_MAGIC;
	pa->hdr_magic = hdr_magic;
	pa->base = base;
	pa->size = size;
	pa->max = max;
	pa->grow = grow;
	pa->grow_ctx = grow_ctx;
	b = blk_at(base, CTL_SIZE);
	s = blk_at(base, size - SENTINEL_SIZE);
	pa->first = b;
	pa->sentinel = s;
	blk_init(pa, b, (char *)s - (char *)b, POOL_HDR_FREE);
	s->prev_size = blk_size(b);
	blk_init(pa, s, 0, POOL_HDR_PREV_FREE);
	list_insert(pa, b);
	return pa;
}

struct pool_alloc *pool_alloc_init(void *base, size_t size, size_t max,
				   pool_grow_fn grow, void *grow_ctx)
{
	return pool_setup(base, size, max, grow, grow_ctx, POOL_HDR_MAGIC);
}

struct pool_alloc *pool_alloc_init_sub(void *ctl, size_t seg_align)
{
	struct pool_alloc *pa = ctl;

	if (!ctl || ((uintptr_t)ctl & (POOL_ALIGN - 1)) || seg_align < 4096 ||
	    (seg_align & (seg_align - 1)) || seg_align > POOL_MAX_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	memset(pa, 0, sizeof(*pa));
	pa->magic = POOL_CTL_MAGIC;
	pa->hdr_magic = POOL_HDR_MAGIC_SUB;
	pa->seg_align = seg_align;
	return pa;
}

size_t pool_ctl_size(void)
{
	return CTL_SIZE;
}

int pool_add_segment(struct pool_alloc *pa, void *mem, size_t size)
{
	struct pool_seg *s = mem;
	struct pool_blk *b, *end;

	if (!pa->seg_align || ((uintptr_t)mem & (pa->seg_align - 1)) ||
	    size > pa->seg_align || size < SEG_MIN_SIZE ||
	    (size & (POOL_ALIGN - 1))) {
		errno = EINVAL;
		return -1;
	}
	s->magic = POOL_SEG_MAGIC;
	s->owner = pa;
	s->size = size;
	s->next = pa->segs;
	b = blk_at(s, SEG_HDR);
	end = blk_at(s, size - SENTINEL_SIZE);
	blk_init(pa, b, (char *)end - (char *)b, POOL_HDR_FREE);
	end->prev_size = blk_size(b);
	blk_init(pa, end, 0, POOL_HDR_PREV_FREE);
	list_insert(pa, b);
	pa->segs = s;
	pa->nsegs++;
	pa->size += size;
	pa->max = pa->size;
	return 0;
}

void *pool_seg_reclaim(struct pool_alloc *pa)
{
	struct pool_seg *s = pa->empty, **pp;
	struct pool_blk *b;

	pa->empty = NULL;
	if (!s || pa->nsegs < 2)
		return NULL;
	b = blk_at(s, SEG_HDR);
	if (!blk_is_free(b) || blk_size(b) != s->size - SEG_HDR - SENTINEL_SIZE)
		return NULL;
	list_remove(pa, b);
	for (pp = &pa->segs; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	pa->nsegs--;
	pa->size -= s->size;
	pa->max = pa->size;
	s->magic = 0;
	return s;
}

struct pool_alloc *pool_seg_owner(const void *p, size_t seg_align)
{
	const struct pool_seg *s;

	s = (const struct pool_seg *)((uintptr_t)p & ~(seg_align - 1));
	return s->magic == POOL_SEG_MAGIC ? s->owner : NULL;
}

void **pool_user(struct pool_alloc *pa)
{
	return pa->user;
}

size_t pool_n_used(const struct pool_alloc *pa)
{
	return pa->n_used;
}

int pool_owns(const struct pool_alloc *pa, const void *p)
{
	return (uintptr_t)p - (uintptr_t)pa->base < pa->max;
}

const size_t *pool_size_ref(const struct pool_alloc *pa)
{
	return &pa->size;
}

void pool_get_stats(struct pool_alloc *pa, struct pool_stats *st)
{
	struct pool_blk *b;
	unsigned int fl, sl;

	memset(st, 0, sizeof(*st));
	st->size = pa->size;
	st->max = pa->max;
	if (pa->seg_align)
		st->overhead = pa->nsegs * (SEG_HDR + SENTINEL_SIZE);
	else
		st->overhead = CTL_SIZE + SENTINEL_SIZE;
	st->free = pa->free_bytes;
	st->in_use = st->size - st->overhead - st->free;
	st->n_used = pa->n_used;
	st->n_free = pa->n_free;
	st->grows = pa->grows;
	if (!pa->fl_bitmap)
		return;
	fl = pool_fls(pa->fl_bitmap);
	sl = pool_fls(pa->sl_bitmap[fl]);
	for (b = pa->heads[fl][sl]; b; b = b->next_free)
		if (blk_size(b) > st->largest_free)
			st->largest_free = blk_size(b);
}

void pool_die(const char *op, const void *p, const char *what)
{
	char line[256];
	int len;

	len = snprintf(line, sizeof(line), "pool_alloc: %s(%p): %s\n",
		       op, p, what);
	if (len > 0) {
		if ((size_t)len >= sizeof(line))
			len = sizeof(line) - 1;
		if (write(STDERR_FILENO, line, len) < 0)
			len = 0;
	}
	abort();
}

/* ---- consistency check ---- */

#define FAIL(...)						\
	do {							\
		snprintf(why, whylen, __VA_ARGS__);		\
		return -1;					\
	} while (0)

struct walk_sum {
	size_t n_free, n_used, free_bytes;
	uintptr_t addr_sum;
};

/* I1-I4 and the physical side of I5, I7, over the blocks [b, end). */
static int check_blocks(struct pool_alloc *pa, struct pool_blk *b,
			struct pool_blk *end, struct walk_sum *w, char *why,
			size_t whylen)
{
	struct pool_blk *first = b, *prev = NULL;
	uint64_t h;
	size_t size;

	while (b != end) {
		if (b < first || b > end || ((uintptr_t)b & 15))
			FAIL("block %p outside the heap or misaligned", (void *)b);
		h = hdr_get(b);
		size = h & POOL_HDR_SIZE_MASK;
		if ((h & POOL_HDR_MAGIC_MASK) != pa->hdr_magic)
			FAIL("block %p: bad magic %#llx", (void *)b,
			     (unsigned long long)h);
		if (size < POOL_MIN_BLOCK || (char *)b + size > (char *)end)
			FAIL("block %p: bad size %zu", (void *)b, size);
		if (!!(h & POOL_HDR_PREV_FREE) != (prev && blk_is_free(prev)))
			FAIL("block %p: PREV_FREE flag disagrees", (void *)b);
		if (prev && blk_is_free(prev) && b->prev_size != blk_size(prev))
			FAIL("block %p: prev_size %zu != %zu", (void *)b,
			     b->prev_size, blk_size(prev));
		if ((h & POOL_HDR_FREE) && prev && blk_is_free(prev))
			FAIL("block %p: two adjacent free blocks", (void *)b);
		if (h & POOL_HDR_FREE) {
			w->n_free++;
			w->free_bytes += size;
			w->addr_sum += (uintptr_t)b;
		} else {
			w->n_used++;
		}
		prev = b;
		b = blk_at(b, size);
	}
	h = hdr_get(b);
	if ((h & POOL_HDR_MAGIC_MASK) != pa->hdr_magic ||
	    (h & POOL_HDR_SIZE_MASK) || (h & POOL_HDR_FREE))
		FAIL("bad sentinel at %p", (void *)b);
	if (!!(h & POOL_HDR_PREV_FREE) != (prev && blk_is_free(prev)))
		FAIL("sentinel %p: PREV_FREE flag disagrees", (void *)b);
	if (prev && blk_is_free(prev) && b->prev_size != blk_size(prev))
		FAIL("sentinel %p: prev_size disagrees", (void *)b);
	return 0;
}

/* One list: I5 and I6 for it. */
static int check_list(struct pool_alloc *pa, unsigned int fl, unsigned int sl,
		      struct walk_sum *w, size_t limit, char *why,
		      size_t whylen)
{
	struct pool_blk *b, *prev = NULL;
	int bit = !!(pa->sl_bitmap[fl] & (1U << sl));

	if (bit != !!pa->heads[fl][sl])
		FAIL("list [%u][%u]: bitmap bit %d disagrees", fl, sl, bit);
	for (b = pa->heads[fl][sl]; b; prev = b, b = b->next_free) {
		if (w->n_free >= limit)
			FAIL("list [%u][%u]: longer than the free blocks (cycle?)",
			     fl, sl);
		if (((uintptr_t)b & 15) || !blk_limit(pa, (uintptr_t)b))
			FAIL("list [%u][%u]: entry %p outside the heap", fl, sl,
			     (void *)b);
		if (!blk_is_free(b) ||
		    (hdr_get(b) & POOL_HDR_MAGIC_MASK) != pa->hdr_magic)
			FAIL("list [%u][%u]: entry %p is not a free block", fl,
			     sl, (void *)b);
		if (pool_class_down(blk_size(b)) != (fl << POOL_SL_LOG2 | sl))
			FAIL("list [%u][%u]: block %p of size %zu in wrong class",
			     fl, sl, (void *)b, blk_size(b));
		if (b->prev_free != prev)
			FAIL("list [%u][%u]: bad back link at %p", fl, sl,
			     (void *)b);
		w->n_free++;
		w->free_bytes += blk_size(b);
		w->addr_sum += (uintptr_t)b;
	}
	return 0;
}

static int check_lists(struct pool_alloc *pa, struct walk_sum *w,
		       size_t limit, char *why, size_t whylen)
{
	unsigned int fl, sl;

	for (fl = 0; fl < POOL_FL_COUNT; fl++) {
		if (!!(pa->fl_bitmap & (1U << fl)) != !!pa->sl_bitmap[fl])
			FAIL("fl_bitmap bit %u disagrees", fl);
		for (sl = 0; sl < POOL_SL_COUNT; sl++)
			if (check_list(pa, fl, sl, w, limit, why, whylen))
				return -1;
	}
	return 0;
}

/* A root pool: the geometry and its one run of blocks. */
static int check_root(struct pool_alloc *pa, struct walk_sum *w, char *why,
		      size_t whylen)
{
	if (pa->base != (char *)pa || pa->size > pa->max ||
	    pa->size < POOL_MIN_SIZE ||
	    (char *)pa->sentinel != pa->base + pa->size - SENTINEL_SIZE ||
	    pa->first != blk_at(pa->base, CTL_SIZE))
		FAIL("bad geometry: size %zu max %zu", pa->size, pa->max);
	return check_blocks(pa, pa->first, pa->sentinel, w, why, whylen);
}

/* A sub-pool: every segment's header and run of blocks. */
static int check_segs(struct pool_alloc *pa, struct walk_sum *w, char *why,
		      size_t whylen)
{
	struct pool_seg *s;
	size_t n = 0, bytes = 0;

	for (s = pa->segs; s && n <= pa->nsegs; s = s->next, n++) {
		if (((uintptr_t)s & (pa->seg_align - 1)) ||
		    s->magic != POOL_SEG_MAGIC || s->owner != pa ||
		    s->size > pa->seg_align || s->size < SEG_MIN_SIZE)
			FAIL("bad segment header at %p", (void *)s);
		bytes += s->size;
		if (check_blocks(pa, blk_at(s, SEG_HDR),
				 blk_at(s, s->size - SENTINEL_SIZE), w, why,
				 whylen))
			return -1;
	}
	if (n != pa->nsegs || bytes != pa->size)
		FAIL("segments: %zu of %zu B listed, expected %zu of %zu B", n,
		     bytes, pa->nsegs, pa->size);
	return 0;
}

int pool_check(struct pool_alloc *pa, char *why, size_t whylen)
{
	struct walk_sum phys = { 0 }, lists = { 0 };

	if (pa->magic != POOL_CTL_MAGIC)
		FAIL("bad control block");
	if (pa->seg_align ? check_segs(pa, &phys, why, whylen) :
	    check_root(pa, &phys, why, whylen))
		return -1;
	if (check_lists(pa, &lists, phys.n_free + 1, why, whylen))
		return -1;
	if (phys.n_free != lists.n_free || phys.addr_sum != lists.addr_sum ||
	    phys.free_bytes != lists.free_bytes)
		FAIL("free blocks (%zu, %zu B) and free lists (%zu, %zu B) differ",
		     phys.n_free, phys.free_bytes, lists.n_free,
		     lists.free_bytes);
	if (phys.n_free != pa->n_free || phys.free_bytes != pa->free_bytes ||
	    phys.n_used != pa->n_used)
		FAIL("counters: free %zu/%zu B %zu/%zu used %zu/%zu",
		     pa->n_free, phys.n_free, pa->free_bytes, phys.free_bytes,
		     pa->n_used, phys.n_used);
	return 0;
}
