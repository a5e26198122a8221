/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_thread.h - thread-safe front-end over the pool_alloc core.
 *
 * Every thread keeps a small cache of freed blocks per size class (blocks
 * up to POOL_MT_CACHE_MAX_REQ), in front of a per-thread arena with its
 * own lock (requests up to 128 KiB), in front of the root pool with one
 * lock (larger requests, and everything in pools under 32 MiB).
 * Semantics, alignment and error reporting are those of pool_alloc.h;
 * in addition a second free of a block that sits in a thread cache is
 * caught (its payload carries a per-address mark while cached).
 *
 * Blocks may be freed by any thread (a block goes back to the arena it
 * came from).  A thread's cache is returned to the pool when the thread
 * exits, on pool_mt_flush(), and when the pool runs out of memory for
 * that thread.  Limits: other threads' caches are not raided, and free
 * space inside another arena's 1 MiB segments is not lent out, so an
 * ENOMEM can come while other threads hold up to POOL_MT_CACHE_BYTES of
 * cache and one partly used segment per arena (8 arenas).  A segment
 * goes back to the root as soon as it is empty (but an arena's last).
 *
 * The front-end's own state (struct pool_mt, arena control blocks, each
 * thread's cache) is allocated from the pool itself; the thread-local
 * part is a few words (initial-exec TLS, so safe inside an LD_PRELOAD
 * malloc).
 */
#ifndef AGNOCAST_POOL_THREAD_H
#define AGNOCAST_POOL_THREAD_H

#include "pool_alloc.h"

struct pool_mt;

/* Most bytes one thread keeps cached. */
#ifndef POOL_MT_CACHE_BYTES
#define POOL_MT_CACHE_BYTES	(1024UL * 1024)
#endif
/*
 * Requests up to this size are served from the thread caches, without a
 * lock. Measured in the QEMU guest (npm run bench:malloc), caching up to
 * 64 KiB takes same-size malloc/free of 4-64 KiB from 0.28x glibc to
 * 1.5-2.5x; on the host's random mixed 16 B-64 KiB workload (make -C
 * heaphook bench) it costs: 0.56x instead of 1.1x with a 1 KiB limit,
 * because cached large blocks are not coalesced. A size-adaptive limit
 * would get both.
 */
#ifndef POOL_MT_CACHE_MAX_REQ
#define POOL_MT_CACHE_MAX_REQ	(64UL * 1024)
#endif

/* Same arguments as pool_alloc_init(). */
struct pool_mt *pool_mt_init(void *base, size_t size, size_t max,
			     pool_grow_fn grow, void *grow_ctx);
/*
 * Forget the pool before the caller unmaps it.  No thread may use it
 * afterwards; blocks in other threads' caches are simply dropped.
 */
void pool_mt_destroy(struct pool_mt *mt);
/*
 * Forget a pool whose memory may be gone already (a forked child's copy
 * of its parent's pool, which the child may have unmapped): like
 * pool_mt_destroy() but never touches the pool's memory. The calling
 * thread must be the only one that used mt (as in a forked child).
 */
void pool_mt_abandon(struct pool_mt *mt);

void *pool_mt_malloc(struct pool_mt *mt, size_t n);
void *pool_mt_calloc(struct pool_mt *mt, size_t nmemb, size_t n);
void *pool_mt_memalign(struct pool_mt *mt, size_t align, size_t n);
void *pool_mt_realloc(struct pool_mt *mt, void *p, size_t n);
void pool_mt_free(struct pool_mt *mt, void *p);
size_t pool_mt_usable_size(struct pool_mt *mt, void *p);
int pool_mt_owns(const struct pool_mt *mt, const void *p);

/* Return the calling thread's cached blocks to the pool. */
void pool_mt_flush(struct pool_mt *mt);
/* Bytes the calling thread holds cached for mt. */
size_t pool_mt_cached(struct pool_mt *mt);

/*
 * pool_check() on the root and every arena, under their locks.  Stats of
 * the whole pool as the user sees it (arena segments replaced by their
 * contents; cached blocks count as used).
 */
int pool_mt_check(struct pool_mt *mt, char *why, size_t whylen);
void pool_mt_stats(struct pool_mt *mt, struct pool_stats *st);

/* For pthread_atfork(): hold every lock across fork(), release on both sides. */
void pool_mt_lock(struct pool_mt *mt);
void pool_mt_unlock(struct pool_mt *mt);

struct pool_alloc *pool_mt_core(struct pool_mt *mt);

#endif /* AGNOCAST_POOL_THREAD_H */
