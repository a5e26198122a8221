/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agn: a tiny C client of agnocast.ko, for the demo programs.
 *
 * One struct agn per process. agn_join() does the real join (ADD_PROCESS,
 * the pool "/agnocast@<pid>" created 0444 and mapped at the address the
 * module chose, ATTACH_POOL) and creates the process's discovery queue
 * "/new_publisher@<pid>". Then:
 *   - agn_add_subscriber() maps the pools of the publishers already on the
 *     topic (read-only, each at its own address);
 *   - agn_add_publisher() announces the caller to every subscriber process
 *     already on the topic, on that process's "/new_publisher@<pid>";
 *   - agn_drain_queue() maps the pools announced on the caller's queue;
 *   - agn_receive() maps the pool of any publisher it did not know yet
 *     (from the entry's pid), so an entry is always readable when returned.
 * Every mapping of another process's pool is declared (MAP_POOL) and made
 * once; agn_leave() undoes all of it. Errors that a demo cannot recover
 * from end the process with a message (agn_die).
 *
 * Discovery message (on "/new_publisher@<subscriber pid>", O_NONBLOCK): the
 * TypeScript library's, JSON {"pid":<publisher pid>,"topic":"<topic>"} in
 * that order without spaces, no NUL, at most AGN_QUEUE_MSG_MAX bytes (the
 * library's queue message size), so C and TypeScript processes discover
 * each other.
 *
 * agn_ring is a FIFO allocator over the caller's pool: blocks are carved
 * in order, freed in any order (by the addresses PUBLISH and RECLAIM hand
 * back), and space is reused once the oldest live block is freed.
 */
#ifndef AGN_H
#define AGN_H

#include <mqueue.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast.h"

#define AGN_PEERS_MAX		64
#define AGN_QUEUE_MSG_MAX	512	/* src/node.ts QUEUE_MESSAGE_SIZE */
#define AGN_QUEUE_DEPTH		10	/* fs.mqueue.msg_max defaults to 10 */
#define AGN_RING_BLOCKS		4096

struct agn_peer {
	pid_t pid;
	uint64_t addr, max;
};

struct agn {
	const char *name;	/* prefix of every line this process prints */
	int dev;		/* /dev/agnocast */
	pid_t pid;
	uint64_t pool_addr, pool_size, pool_max;
	int shm_fd;		/* read-write fd of our own pool */
	mqd_t queue;		/* our /new_publisher@<pid>, or -1 */
	struct agn_peer peers[AGN_PEERS_MAX];
	unsigned int nr_peers;
};

struct agn_block {
	uint64_t addr, len;
	int freed;
};

struct agn_ring {
	uint64_t base, size;	/* the region carved: [base, base + size) */
	uint64_t head;		/* offset of the next block */
	unsigned int first, count;	/* live blocks, oldest first (circular) */
	struct agn_block blocks[AGN_RING_BLOCKS];
	uint64_t allocs, frees;	/* statistics */
};

static inline void *agn_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

#define agn_addr(p) ((uint64_t)(uintptr_t)(p))

__attribute__((noreturn, format(printf, 1, 2)))
void agn_die(const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void agn_say(const struct agn *a, const char *fmt, ...);

uint64_t agn_now_ns(void);	/* CLOCK_MONOTONIC */
/* "64", "4K", "16M", "1G" (powers of 1024) -> bytes; 0 if malformed. */
uint64_t agn_parse_size(const char *s);
/* 64 B, 4 KiB, 16 MiB ... into buf. */
const char *agn_fmt_size(char *buf, size_t len, uint64_t bytes);

/*
 * Join with a pool of pool_size bytes (AGNOCAST_MEMPOOL_SIZE overrides it),
 * reserving pool_max (at least the size) for growth. with_queue: create
 * "/new_publisher@<pid>" (a stale one of a dead process is replaced).
 */
void agn_join(struct agn *a, const char *name, uint64_t pool_size,
	      uint64_t pool_max, int with_queue);
/* Remove nothing explicitly (exit does); unmap peers, unlink the queue. */
void agn_leave(struct agn *a);

uint32_t agn_add_publisher(struct agn *a, const char *topic, uint32_t depth,
			   uint32_t qos_flags);
/* Returns the subscriber id; *fd is its pollable descriptor. */
uint32_t agn_add_subscriber(struct agn *a, const char *topic, uint32_t depth,
			    uint32_t qos_flags, int *fd);

/* Map pid's pool read-only at its address unless done already; how says
 * how we learnt of it (printed). Returns the peer, or NULL if pid is gone. */
const struct agn_peer *agn_map_peer(struct agn *a, pid_t pid, const char *how);
/* Map the pools announced on our queue (nothing waiting is fine). */
void agn_drain_queue(struct agn *a);

/* PUBLISH; the reclaimed addresses go back to ring (may be NULL). */
uint64_t agn_publish(struct agn *a, uint32_t pub, uint64_t addr, uint64_t len,
		     struct agn_ring *ring);
/* RECLAIM everything reclaimable into ring; returns how many. */
unsigned int agn_reclaim(struct agn *a, struct agn_ring *ring);
/* RECEIVE up to cap entries (0: nothing new); their pools are mapped. */
unsigned int agn_receive(struct agn *a, uint32_t sub,
			 struct agnocast_entry *e, unsigned int cap);
void agn_release(struct agn *a, uint32_t sub, uint64_t seq);
/*
 * Subscribe to topic (depth 16), print "ready", then hand each of the next
 * count entries to fn as they arrive (poll), releasing it after; stdout is
 * flushed after every batch.
 */
void agn_subscribe_each(struct agn *a, const char *topic, unsigned int count,
			void (*fn)(const struct agnocast_entry *e, void *ctx), void *ctx);

/* A pidfd of process pid (readable once it exited), or -1 if it is gone. */
int agn_pidfd(pid_t pid);

/* Physical frame of the page at addr in this process (0: not readable,
 * e.g. not root, or not present). */
uint64_t agn_pfn(uint64_t addr);

void agn_ring_init(struct agn_ring *r, uint64_t base, uint64_t size);
/* A block of len bytes aligned to align (a power of two); 0 if no room. */
uint64_t agn_ring_alloc(struct agn_ring *r, uint64_t len, uint64_t align);
void agn_ring_free(struct agn_ring *r, uint64_t addr);

#endif
