/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libagnocast: the user-space side of the agnocast protocol, written once.
 *
 * kmod/uapi/agnocast.h is the contract with the kernel module; this library
 * is the one implementation of what a process does around it: joining
 * (its pool), loaning pool memory, publishing, receiving, mapping the pools
 * of other processes, discovery, introspection. The LD_PRELOAD heaphook, the
 * Node addon and every C program of the project are built on it. Include
 * this header with kmod/uapi on the include path; it is usable from C (gnu11)
 * and C++.
 *
 * Errors
 *   Every function that returns int returns a negative errno on failure
 *   (0 or a count on success, as each says). agnocast_last_error() then
 *   says, for the calling thread, what happened and what to do, and
 *   agnocast_last_error_op() names the failing operation ("open
 *   /dev/agnocast", "AGNOCAST_PUBLISH_CMD", "mmap", ...). Functions that
 *   return a pointer return NULL and set errno (the malloc convention), and
 *   set the message too. The library never prints and never exits.
 *
 * One process, one state
 *   The module knows a process (its mm), not a descriptor or a library, so
 *   the library keeps one state per process: the device, the pool and its
 *   allocator, publishers and subscribers, the mapped pools of other
 *   processes, the discovery queue. Several copies of the library can be in
 *   one process: the heaphook (LD_PRELOAD, joins before main), the Node
 *   addon (its own copy compiled in, dlopen'ed without RTLD_GLOBAL), a
 *   program's libagnocast.so or libagnocast.a. Each copy exports one
 *   versioned table of its entry points, the symbol "agnocast_api_v1"
 *   (struct agnocast_api in api.h: a version, its size, one pointer per
 *   function of this header); on its first call a copy looks the table up
 *   with dlsym(RTLD_DEFAULT, ...) and, if another copy's table comes first in
 *   the process's global scope (the preloaded heaphook, or a libagnocast.so
 *   the program links), it forwards every call to it. So the addon under the
 *   heaphook uses the heaphook's pool, allocator and mappings and never
 *   joins a second time. A copy that is not in the global scope (the
 *   addon's, a static one) serves itself when no other copy is found.
 *
 * Threads
 *   Every function may be called from any thread, concurrently, except
 *   where it says otherwise: a publisher or subscriber may be used by
 *   several threads at once, but destroyed (or removed by agnocast_leave())
 *   only when no other thread uses it.
 *
 * fork
 *   A forked child is a new process for the module: it is not joined and
 *   has none of its parent's ids. In the child:
 *   - the parent's pool becomes a private copy at the same addresses (the
 *     used part is copied while the parent's allocator is held, so the copy
 *     is consistent): pointers into it stay valid and agnocast_alloc() and
 *     friends keep working on the copy, but nothing in it is shareable;
 *   - other processes' pools stay mapped read-only, as any memory does, but
 *     the child does not declare them (MAP_POOL); the library unmaps such a
 *     mapping when the child needs its address range;
 *   - the inherited publisher and subscriber descriptors (each is its
 *     endpoint: the child's copy would keep it alive), the discovery queue
 *     and the library's device descriptor are closed (a borrowed one,
 *     agnocast_join_opts.dev_fd, is left alone); the discovery queue's
 *     name stays the parent's;
 *   - calls that act for the process (pool info, publish, receive, map,
 *     ...) fail with -ESRCH; inherited publishers and subscribers can only
 *     be destroyed (which just frees them); introspection works;
 *   - agnocast_join() joins the child on its own (a new pool; the private
 *     copy of the parent's pool is unmapped first), unless the pool is the
 *     process's malloc heap (the heaphook): then it fails with -EBUSY and
 *     the child stays on its private copy until it execs.
 *   vfork and posix_spawn children copy nothing. A task that shares the mm
 *   of a joined process without being of its thread group (clone(CLONE_VM)
 *   without CLONE_THREAD, vfork before exec) gets -EPERM from every call
 *   that acts for the process, agnocast_join() included; and the module
 *   refuses to join a process whose memory served such a task before
 *   (join before spawning with vfork or posix_spawn).
 *
 * Life of a message
 *   agnocast_join(NULL);                             pool, once per process
 *   agnocast_publisher_create(topic, &qos, &pub);    announces itself
 *   p = agnocast_alloc(n); fill p;                   pool memory
 *   agnocast_publish(pub, p, n, &seq);               the library owns p now
 *   ... in another process:
 *   agnocast_subscriber_create(topic, &qos, &sub);
 *   poll(agnocast_subscriber_fd(sub), ...);
 *   agnocast_receive(sub, entries, cap);             entries[i].addr: the bytes
 *   agnocast_release(sub, &entries[i]);              the publisher gets them back
 *   The block comes back to the publisher's allocator through the module's
 *   reclaim answers (on every publish, or agnocast_reclaim()).
 */
#ifndef LIBAGNOCAST_H
#define LIBAGNOCAST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors -------------------------------------------------------------- */

/*
 * The calling thread's last failure: one sentence of what happened and
 * what to do ("" before any failure). Valid until the thread's next call.
 */
const char *agnocast_last_error(void);
/* The operation that failed: "open /dev/agnocast", "AGNOCAST_ADD_SUBSCRIBER_CMD", "mmap", ... */
const char *agnocast_last_error_op(void);

/* ---- module -------------------------------------------------------------- */

/*
 * The module's version (AGNOCAST_VERSION_CMD); needs no joining.
 * -ENOENT: /dev/agnocast does not exist (the module is not loaded);
 * -EACCES: the device is not readable and writable by this user.
 */
int agnocast_version(struct agnocast_version_args *out);

/* ---- joining ------------------------------------------------------------- */

/* agnocast_join_opts.flags */
#define AGNOCAST_OPT_NO_DISCOVERY	(1u << 0)	/* never create /new_publisher@<pid> */

struct agnocast_join_opts {
	/*
	 * Initial pool size and how far it may grow, in bytes (rounded up to
	 * AGNOCAST_POOL_UNIT by the module). 0: from the environment,
	 * AGNOCAST_MEMPOOL_SIZE and AGNOCAST_MEMPOOL_MAX (see
	 * agnocast_env_sizes), else 64 MiB and 16 x the size, at least 1 GiB.
	 */
	uint64_t pool_size;
	uint64_t pool_max;
	/*
	 * An open /dev/agnocast descriptor to use instead of opening one, or
	 * -1 (0 is taken as descriptor 0). The library never closes it; the
	 * caller keeps it open while it uses the library. Ignored when the
	 * library has a device descriptor already.
	 */
	int dev_fd;
	uint32_t flags;		/* AGNOCAST_OPT_* */
};

/*
 * Join: ADD_PROCESS, then the pool "/agnocast@<pid>" is created with mode
 * 0444 (only this process ever holds a writable descriptor), sized, mapped
 * MAP_SHARED at the address the module assigned for its whole reserved
 * length and handed over with ATTACH_POOL; the allocator (TLSF, O(1),
 * pool_alloc.c) is set up in it. opts may be NULL (all defaults).
 * Returns 0 when this call joined, 1 when the process had joined already
 * through the library (the pool is the same; the sizes are ignored).
 * Errors: -ENOENT (the module is not loaded), -EACCES (device
 * permissions), -EINVAL (a malformed size in the environment, or
 * pool_max < pool_size), -E2BIG, -ENOSPC, -EDQUOT (the module's bounds),
 * -EBUSY (the process joined outside this library, or it is a forked
 * child whose heap is its parent's pool), -EPERM, -EEXIST (something is
 * mapped at the assigned address), -ENOMEM and the errors of shm_open,
 * ftruncate and mmap. A failed join leaves nothing of itself but what the
 * module keeps (a half-made join is finished by the next call).
 * Thread-safe: concurrent calls join once.
 */
int agnocast_join(const struct agnocast_join_opts *opts);

/*
 * Everything but the pool: removes the publishers and subscribers still
 * there (their handles stay valid for destroy, which then only frees them),
 * unmaps every other process's pool, closes and unlinks the discovery
 * queue. The module has no way to give a pool back, so the process stays
 * joined with its pool until it exits; agnocast_join() afterwards returns
 * 1 with the same pool. Returns 0, or -ESRCH when not joined.
 */
int agnocast_leave(void);

/*
 * The sizes the environment asks for: AGNOCAST_MEMPOOL_SIZE (bytes, or
 * with a K, M, G or T suffix, powers of 1024; default 64M) and
 * AGNOCAST_MEMPOOL_MAX (default 16 x the size, at least 1G; at most
 * AGNOCAST_POOL_SIZE_MAX). -EINVAL, with a message naming the variable, for
 * a malformed, zero or too large value or a maximum below the size.
 */
int agnocast_env_sizes(uint64_t *pool_size, uint64_t *pool_max);

/* "123", "64K", "64M", "1G", "1T" (optional "iB" or "B"): 0, or -EINVAL. */
int agnocast_parse_size(const char *s, uint64_t *out);

/* agnocast_pool.flags */
#define AGNOCAST_POOL_IS_HEAP	(1u << 0)	/* the process's malloc heap (heaphook) */

struct agnocast_pool {
	pid_t pid;		/* this process */
	int dev_fd;		/* the library's /dev/agnocast descriptor */
	int pool_fd;		/* the read-write descriptor of /agnocast@<pid> */
	uint32_t flags;		/* AGNOCAST_POOL_* */
	uint64_t addr;		/* base address, the same in every process */
	uint64_t size;		/* current size (grows) */
	uint64_t max;		/* reserved length */
};

/* This process's pool. -ESRCH when not joined (or a forked child). */
int agnocast_pool_info(struct agnocast_pool *out);

/* ---- pool memory ---------------------------------------------------------- */

/*
 * The pool's allocator (pool_alloc.c under pool_thread.c: per-thread
 * caches, O(1), every block 16-byte aligned; the pool grows by ftruncate up
 * to its maximum, and processes that mapped it see the growth). It takes
 * the pool over on the first allocation (its state lives at the pool's
 * base): a process that writes its pool by hand, at addresses it chooses,
 * must not allocate from it too. The malloc convention: NULL with errno
 * ENOMEM when the pool cannot give the memory (agnocast_last_error() says
 * how far it is from its maximum), ESRCH when the process has not joined,
 * EINVAL for a bad alignment. agnocast_free() takes NULL and blocks of this
 * pool only. Thread-safe. Under the heaphook these are the very allocator
 * malloc uses.
 */
void *agnocast_alloc(size_t size);
void *agnocast_calloc(size_t nmemb, size_t size);
void *agnocast_realloc(void *block, size_t size);
void *agnocast_memalign(size_t align, size_t size);
void agnocast_free(void *block);
size_t agnocast_usable_size(void *block);
/* Is p inside this process's pool (its reserved range), allocated or not? */
int agnocast_owns(const void *p);
/*
 * May [p, p + len) be read here: inside this process's pool (its current
 * size) or inside a pool of another process that the library maps?
 */
int agnocast_readable(const void *p, size_t len);

/* ---- publishers ----------------------------------------------------------- */

struct agnocast_publisher;

/*
 * A publisher on topic (a name of 1-255 bytes, no space or control byte).
 * qos: depth 1..AGNOCAST_DEPTH_MAX, the history kept for transient-local
 * subscribers; flags AGNOCAST_QOS_PUB_FLAGS (AGNOCAST_QOS_TRANSIENT_LOCAL);
 * NULL: depth 10, volatile. Every process that subscribes to the topic is
 * told on its discovery queue (best effort: a full, missing or foreign
 * queue is skipped, and such a process maps the pool on the first entry
 * instead). Errors: -ESRCH (not joined), -EINVAL / -ENAMETOOLONG (topic,
 * depth, flags), -ENOSPC (the topic has AGNOCAST_TOPIC_PUBS_MAX
 * publishers), -EDQUOT (endpoints of this process), -EMFILE / -ENFILE,
 * -ENXIO, -ENOMEM.
 */
int agnocast_publisher_create(const char *topic, const struct agnocast_qos *qos,
			      struct agnocast_publisher **out);
uint32_t agnocast_publisher_id(const struct agnocast_publisher *pub);

/*
 * The publisher's descriptor (the module's: the publisher is its
 * descriptor). poll() gives POLLOUT while no reliable subscriber's queue is
 * full (a publish would not fail with -EAGAIN now), POLLPRI once the
 * topic's subscribers changed since the publisher was created or its last
 * agnocast_publisher_state(), POLLHUP once it is removed. Owned by the
 * library (closed by destroy): watch it, never close it.
 */
int agnocast_publisher_fd(const struct agnocast_publisher *pub);

/*
 * The publisher's topic now (PUBLISHER_STATE): nr_publishers,
 * nr_subscribers, nr_full (reliable subscribers whose queue is full);
 * clears the descriptor's POLLPRI. 0 or a negative errno.
 */
int agnocast_publisher_state(struct agnocast_publisher *pub,
			     struct agnocast_endpoint_state_args *out);

/*
 * Publishes [block, block + len): block is the start of a block of this
 * process's pool (agnocast_alloc(), or malloc under the heaphook), len at
 * most its size. From then on the block is the library's: it goes back to
 * the allocator once the module hands its address back (every publish
 * collects those, and so does agnocast_reclaim()); the caller must not
 * write it (subscribers read it) nor free it. A process that does not use
 * the allocator may publish any range of its pool, and the addresses the
 * module hands back are only dropped. *seq (may be NULL): the
 * entry's sequence number. Errors: -EAGAIN (a reliable subscriber's queue
 * is full: nothing was published and the block is still the caller's; wait
 * for POLLOUT on agnocast_publisher_fd(), or give up), -EINVAL (not a
 * block of this pool), -ERANGE (past the pool's size), -EDQUOT (the process
 * has max_entries_per_process entries alive: the library reclaims and
 * retries once before reporting it), -EPERM, -ENOENT (publisher), -ESRCH.
 */
int agnocast_publish(struct agnocast_publisher *pub, void *block, size_t len,
		     uint64_t *seq);

/*
 * Takes back every block the module says nobody holds any more (RECLAIM)
 * and frees it. Returns how many, or a negative errno.
 */
int agnocast_reclaim(void);

/*
 * Removes the publisher (REMOVE_PUBLISHER), closes its descriptor and frees
 * the handle. Entries that subscribers hold or have queued stay readable
 * until released. Returns 0 or a negative errno (the handle is freed in
 * every case).
 */
int agnocast_publisher_destroy(struct agnocast_publisher *pub);

/* ---- subscribers ---------------------------------------------------------- */

struct agnocast_subscriber;

/*
 * A subscriber on topic; qos as for publishers, with the flags
 * AGNOCAST_QOS_SUB_FLAGS (depth: at most that many entries per receive;
 * AGNOCAST_QOS_TRANSIENT_LOCAL: the first receive also returns the
 * history; AGNOCAST_QOS_RELIABLE: nothing published while it is there is
 * dropped for it, its queue of depth entries holds publishers back).
 * Before subscribing, the process's discovery
 * queue "/new_publisher@<pid>" is created (once per process, unless joined
 * with AGNOCAST_OPT_NO_DISCOVERY), and the pools of the publishers already
 * on the topic are mapped (a pool whose owner is gone or not attached yet
 * is left to be mapped on its first entry). Errors: those of publishers,
 * plus -EMFILE / -ENFILE (no descriptor), and those of mq_open and of
 * mapping a pool (agnocast_map_pool).
 */
int agnocast_subscriber_create(const char *topic, const struct agnocast_qos *qos,
			       struct agnocast_subscriber **out);
uint32_t agnocast_subscriber_id(const struct agnocast_subscriber *sub);

/*
 * The subscriber's descriptor (the module's: the subscriber is its
 * descriptor). poll() gives POLLIN while entries wait, POLLPRI once the
 * topic's publishers changed since the subscriber was created or its last
 * agnocast_subscriber_state(), POLLHUP once it is removed. Owned by the
 * library (closed by destroy): watch it, never close it.
 */
int agnocast_subscriber_fd(const struct agnocast_subscriber *sub);

/*
 * The subscriber's topic now (SUBSCRIBER_STATE): nr_publishers,
 * nr_subscribers, queued (entries waiting for it); clears POLLPRI.
 */
int agnocast_subscriber_state(struct agnocast_subscriber *sub,
			      struct agnocast_endpoint_state_args *out);

/*
 * RECEIVE: up to cap new entries (oldest first, at most the subscriber's
 * depth) into entries; returns how many, 0 when nothing is new. Each entry's
 * bytes are readable at agnocast_entry_data(&entries[i]) until it is
 * released: its pool is mapped here (on this very call if the publisher
 * was not known yet, found by the entry's address, so also when its pid is
 * not visible here). The subscriber holds each entry until
 * agnocast_release(). Errors: -ENOBUFS (AGNOCAST_HOLD_MAX held: release
 * some), -EINVAL (cap 0 or above AGNOCAST_ARRAY_MAX), the errors of mapping
 * a pool (the whole batch is released then), -ENOENT, -EPERM, -ESRCH.
 */
int agnocast_receive(struct agnocast_subscriber *sub, struct agnocast_entry *entries,
		     uint32_t cap);

/*
 * agnocast_release() of rel[0..nrel) and agnocast_receive() in one RECEIVE
 * (the module's release list; past AGNOCAST_RELEASE_MAX entries the rest
 * are released one by one first). cap 0: only releases, returns 0. The
 * releases stand even when the receive fails. Errors: as for both.
 */
int agnocast_receive_release(struct agnocast_subscriber *sub, const struct agnocast_entry *rel,
			     uint32_t nrel, struct agnocast_entry *entries, uint32_t cap);

/* TAKE: the newest new entry only (polling style); 1, or 0 when nothing is new. */
int agnocast_take(struct agnocast_subscriber *sub, struct agnocast_entry *entry);

/*
 * RELEASE the entry (as receive or take returned it). Once nothing over a
 * pool is held any more and its owner is gone, the pool is unmapped.
 * Errors: -ENOENT (not held by this subscriber), -EPERM, -ESRCH.
 */
int agnocast_release(struct agnocast_subscriber *sub, const struct agnocast_entry *entry);

/*
 * Removes the subscriber (REMOVE_SUBSCRIBER), which drops every entry it
 * still holds, closes its descriptor and frees the handle. Returns 0 or a
 * negative errno (the handle is freed in every case).
 */
int agnocast_subscriber_destroy(struct agnocast_subscriber *sub);

/* The bytes of an entry (readable until it is released). */
static inline const void *agnocast_entry_data(const struct agnocast_entry *e)
{
	return (const void *)(uintptr_t)e->addr;
}

/* ---- other processes' pools ------------------------------------------------ */

/*
 * Pools of other processes are mapped by the library on its own: those of
 * the publishers a subscriber finds on its topic, those announced on the
 * discovery queue, and any pool an entry lies in. Each is mapped once,
 * read-only, at its own address for its reserved length, from the
 * descriptor MAP_POOL returns (the very file its owner attached), and
 * declared to the module while mapped. A pool is unmapped (munmap,
 * UNMAP_POOL) once no entry over it is held and its owner is gone (its
 * pidfd is readable); a pool whose owner is not visible in this pid
 * namespace (pid 0) or could not be watched is unmapped as soon as nothing
 * over it is held, and mapped again by the next entry. A pool of a pid
 * that was reused by an unrelated process stays mapped until that process
 * exits too.
 */

/*
 * Maps the pool named by pid (> 0) or, with pid 0, by any address inside
 * it, unless it is mapped already, and keeps it mapped until
 * agnocast_unmap_pool() or agnocast_leave(). out (may be NULL): its
 * geometry (out->pid 0 if the owner is not visible here). Mapping this
 * process's own pool maps nothing and returns its geometry. Errors:
 * -ENOENT (no such pool), -ENXIO (not attached yet), -EDQUOT
 * (max_mappings_per_process), -EMFILE / -ENFILE, -EEXIST (the range is
 * mapped here by something else, which the error message names as
 * /proc/self/maps lists it), -EBUSY (an older pool at the same range
 * is still held here, or kept by agnocast_map_pool until
 * agnocast_unmap_pool: it is never replaced under the program's
 * pointers), -ESRCH (not joined).
 */
int agnocast_map_pool(pid_t pid, uint64_t addr, struct agnocast_pool_info *out);

/*
 * Unmaps the pool that contains addr now (munmap, UNMAP_POOL). -EBUSY
 * while entries over it are held, -ENOENT when no pool is mapped there.
 * The library maps it again when something needs it.
 */
int agnocast_unmap_pool(uint64_t addr);

/*
 * The pools mapped here right now (after unmapping those whose owners are
 * gone and nothing is held of): fills up to cap of them and returns how
 * many there are.
 */
int agnocast_mapped_pools(struct agnocast_pool_info *pools, uint32_t cap);

/* ---- discovery and events ---------------------------------------------------- */

/*
 * Discovery queue: the POSIX message queue "/new_publisher@<pid>" of a
 * process that subscribes (mode 0622: anyone may post, only the owner
 * reads; AGNOCAST_QUEUE_DEPTH messages of at most AGNOCAST_NOTICE_MAX
 * bytes). A new publisher posts one notice to the queue of every process
 * ADD_PUBLISHER lists as subscribed, in exactly this format (JSON, no
 * spaces, no NUL, the topic escaped as JSON strings are):
 *     {"pid":<publisher pid>,"topic":"<topic>"}
 * A notice is a hint: the receiver maps the pool of that pid (MAP_POOL is
 * the authority), ignores anything else, and a lost notice only delays the
 * mapping to the first entry. The queue is unlinked by agnocast_leave()
 * and at exit (atexit). A process killed by a signal leaves its queue
 * behind: the next process that creates its own queue (its first
 * subscriber) unlinks every "/new_publisher@<pid>" it may (its user's)
 * whose pid is not a live process joined to the module (LIST_PROCESSES,
 * read after the directory, so a queue being created is never taken for
 * a stale one), and the next process with that pid replaces it anyway.
 */
#define AGNOCAST_QUEUE_DEPTH	10	/* fs.mqueue.msg_max's default */
#define AGNOCAST_NOTICE_MAX	512

/*
 * Create the queue now, if not yet (agnocast_subscriber_create() does it);
 * stale queues of dead processes are swept first (above), and one of a
 * dead process that had this pid is replaced. Returns
 * 0, or a negative errno: -ESRCH (not joined, or joined with
 * AGNOCAST_OPT_NO_DISCOVERY), those of mq_open (-EMFILE: RLIMIT_MSGQUEUE
 * or the queue count, -EINVAL: fs.mqueue.msg_max below
 * AGNOCAST_QUEUE_DEPTH).
 */
int agnocast_discovery_create(void);
/* Map the pools of every notice waiting on the queue; returns how many notices. */
int agnocast_discovery_drain(void);
/*
 * Unlink this process's discovery queue now; async-signal-safe, for a
 * program's own handler of the signals that end it (the library installs
 * none): a process killed by a signal leaves its queue otherwise. Returns
 * 1 when a queue was unlinked, 0 when there was none. The queue keeps
 * working for this process until agnocast_leave() or exit.
 */
int agnocast_discovery_unlink(void);
/*
 * Post the notice for a publisher of this process on topic to process
 * pid's queue. Returns 1 when posted, 0 when that process has no queue, or
 * its queue is full or not writable by us (the notice is only a hint), or
 * a negative errno (a notice longer than AGNOCAST_NOTICE_MAX: -EMSGSIZE).
 */
int agnocast_announce(pid_t pid, const char *topic);

/*
 * One descriptor to watch for everything the library handles by itself:
 * it is readable when a notice waits on the discovery queue or when the
 * owner of a mapped pool has exited (an epoll descriptor over the queue and
 * one pidfd per mapped pool). Owned by the library. -ESRCH when not joined.
 */
int agnocast_events_fd(void);
/*
 * Handle what the events descriptor reports: drain the discovery queue,
 * unmap the pools of exited owners that nothing here holds. Returns 0 or
 * a negative errno (a notice whose pool cannot be mapped is skipped).
 */
int agnocast_handle_events(void);

/* ---- introspection (no joining needed) -------------------------------------- */

/*
 * The topics of this IPC namespace: *names (malloc'ed, free() it) holds
 * *count of them. 0 or a negative errno.
 */
int agnocast_list_topics(struct agnocast_topic_name **names, uint32_t *count);

struct agnocast_topic {
	struct agnocast_endpoint_info *pubs;	/* malloc'ed: agnocast_topic_free() */
	struct agnocast_endpoint_info *subs;
	uint32_t nr_pubs, nr_subs;
	uint64_t nr_entries;	/* entries alive on the topic */
	uint64_t last_seq;
};
/* One topic's publishers and subscribers. -ENOENT: no such topic. */
int agnocast_topic_info(const char *topic, struct agnocast_topic *out);
void agnocast_topic_free(struct agnocast_topic *t);

/* Joined processes visible here: *procs (malloc'ed, free() it), *count of them. */
int agnocast_list_processes(struct agnocast_process_info **procs, uint32_t *count);

/*
 * The status file (AGNOCAST_STATUS_PATH): *text (malloc'ed, NUL-terminated,
 * free() it) and its length. -ENOENT when the module is not loaded.
 */
int agnocast_status(char **text, size_t *len);

struct agnocast_totals {
	uint64_t processes, topics, publishers, subscribers, entries, mappings;
};
/* The status file's totals line (reading it waits for pending cleanup). */
int agnocast_totals(struct agnocast_totals *out);

#ifdef __cplusplus
}
#endif

#endif /* LIBAGNOCAST_H */
