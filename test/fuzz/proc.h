/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A participant process and its threads, as the fuzzer keeps track of
 * them: its endpoints, its pool's blocks, the entries it has published
 * and not got back, the pools it maps, and per thread the entries it
 * holds. Everything the process shares between its threads is under
 * pctx.mu; a thread's own records (tctx) need no lock.
 */
#ifndef FUZZ_PROC_H
#define FUZZ_PROC_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast.h"
#include "arena.h"
#include "pool.h"
#include "rng.h"
#include "shared.h"

#define MAXPUB 24
#define MAXSUB 72		/* a probe fills a topic (64) */
#define CHAOS_MAXSUB 24		/* what member threads use of them */
#define MAXMAP 32
#define MAXTHR 4
#define BLK 256			/* a well-formed message */
#define SCRATCH 4096		/* end of the floor: odd publishes only */
#define OUTST_SZ 16384		/* open-addressing table of published addresses */
#define OUTST_MAX 6000		/* stop publishing beyond this many outstanding */
#define NTOPICS 6		/* shared topic names fz/0 .. fz/5 */

struct pubrec {
	int live;
	uint32_t id;
	int fd;			/* the publisher's descriptor; -1 once closed */
	int exposed;		/* other threads may close its fd */
	int owner;		/* thread index that added it */
	uint64_t ns;		/* IPC namespace it lives in */
	struct agnocast_qos qos;
	uint64_t last_seq;	/* newest seq its owner got from PUBLISH */
	char topic[AGNOCAST_TOPIC_NAME_MAX];
};

struct subrec {
	int live;
	uint32_t id;
	int fd;			/* -1 once closed */
	int owner;
	int exposed;		/* other threads may close and use it */
	uint64_t ns;
	struct agnocast_qos qos;
	uint64_t last_seq;	/* newest seq its owner received */
	uint32_t nheld;		/* held by its owner (exact if not exposed) */
	char topic[AGNOCAST_TOPIC_NAME_MAX];
};

struct mapping {
	int used;
	int mapped;		/* mmap'ed, not only declared */
	struct agnocast_pool_info info;
	uint32_t decls;		/* MAP_POOLs not undone */
	uint32_t refs;		/* held entries read through it */
};

struct outst {
	uint64_t addr;
	uint32_t n;
};

struct pctx {
	pthread_mutex_t mu;
	enum kind kind;
	uint64_t sid;
	int dev, dev2;		/* two opens of /dev/agnocast */
	int memfd;		/* /proc/self/mem, opened when first needed */
	int joined;		/* fixed before any second thread runs */
	int attached;		/* ATTACH_POOL done (joined the full way) */
	struct fz_pool pool;
	uint64_t floor;		/* never shrunk below; blocks live under it */
	int fi;			/* threads may inject slab failures */
	int may_exec;		/* exec of the whole process allowed */
	struct regrec *reg;
	struct pubrec pubs[MAXPUB];
	struct subrec subs[MAXSUB];
	uint32_t nblk;
	uint8_t *blkfree;
	struct outst *outst;
	uint32_t outst_total;
	uint64_t serial;
	struct mapping maps[MAXMAP];
	uint32_t dead[2][16];	/* publisher, subscriber ids we removed */
	uint32_t ndead[2];
	int nthreads;
	int clone_busy;		/* CLONE_VM children alive */
};

struct held {
	uint32_t sub;
	int exposed;
	uint64_t seq, addr, len;
	int32_t pid;
	int rc0;		/* blk_read when received: 0 intact, -1 not, 1 unknown */
	char why0[96];		/* what was wrong then */
	uint64_t serial;
	uint32_t sum;
};

struct tctx {
	struct pctx *p;
	struct rng r;
	uint64_t sid;
	int idx;
	pid_t tid;
	struct arena ar;
	struct trace *tr;
	uint32_t nop;
	uint32_t nchild;	/* child streams handed out */
	int fi_fd;		/* /proc/thread-self/make-it-fail, or -1 */
	uint64_t ns;		/* current IPC namespace */
	int unshares;
	struct held *held;
	uint32_t nheld, held_cap;
};

/* Set up a process record (not joined) and the calling thread. */
int pctx_init(struct pctx *p, enum kind kind, uint64_t sid, uid_t uid);
int tctx_init(struct tctx *t, struct pctx *p, int idx, uint64_t sid);
void tctx_fini(struct tctx *t);
/*
 * After fork, in the child: reset the lock, forget the parent's state;
 * public: list the child in the registry for others to misuse.
 */
void pctx_after_fork(struct pctx *p, struct tctx *t, int public);

/* The real join; 0 or -errno (EDQUOT etc. when bounds are lowered). */
int proc_join(struct tctx *t, uint64_t size, uint64_t max);

/* The inode number of the calling thread's IPC namespace. */
uint64_t ipc_ns_now(void);

/* Blocks and entries (p->mu held). */
int blk_take(struct pctx *p);
uint64_t blk_addr(const struct pctx *p, int i);
void blk_write(struct pctx *p, int i);
void outst_inc(struct pctx *p, uint64_t addr);
int outst_dec(struct pctx *p, uint64_t addr);
/* Addresses handed back by PUBLISH or RECLAIM: each must be outstanding. */
void take_back(struct tctx *t, const uint64_t *addrs, uint32_t n,
	       const char *from);

/* Held entries of the calling thread. */
void held_add(struct tctx *t, const struct agnocast_entry *e, uint32_t sub,
	      int exposed);
void held_drop_sub(struct tctx *t, uint32_t sub);
/* Read a well-formed block: 0 intact, -1 corrupt, 1 cannot tell. */
int blk_read(struct tctx *t, int32_t pid, uint64_t addr, uint64_t len,
	     uint64_t *serial, uint32_t *sum, char *why, size_t whylen,
	     int ref);
/*
 * For a failure report: our record of the mapping that covers addr (pid,
 * range, references, declarations) and the line of /proc/self/maps there.
 */
void map_describe(struct pctx *p, uint64_t addr, char *buf, size_t len);

/* Drop a mapping reference taken by blk_read(ref) for a held entry. */
void map_unref(struct pctx *p, uint64_t addr);
/* Undo one of our mappings entirely (p->mu held). */
struct mapping;
void map_drop(struct tctx *t, struct mapping *m);

/* Endpoint bookkeeping (p->mu held by the caller where noted). */
struct pubrec *pub_pick_own(struct tctx *t);
struct subrec *sub_pick_own(struct tctx *t);
/* Ids this process removed (sub: 0 publishers, 1 subscribers). */
void dead_add(struct pctx *p, int sub, uint32_t id);
uint32_t dead_pick(struct tctx *t, int sub);
/* Is id one of this process's publishers / subscribers (p->mu held)? */
int id_is_ours(const struct pctx *p, int sub, uint32_t id);

#endif
