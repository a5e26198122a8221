/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR Apache-2.0 */
/*
 * agnocast: zero-copy publish/subscribe between processes on one host.
 *
 * This header is the only contract between the kernel module, the C
 * libraries and the Node addon. Every struct has a fixed layout (explicit
 * padding, 64-bit user pointers as __u64); every reserved field and every
 * unknown flag bit must be zero, or the ioctl fails with EINVAL. Fields
 * marked "out" are ignored on input, so an argument struct can be reused.
 *
 * Life of a message
 *   1. ADD_PROCESS: the module assigns the caller a unique address range
 *      (its pool) above AGNOCAST_POOL_BASE, clear of the caller's own
 *      mappings at that moment. The process creates the POSIX
 *      shared memory "/agnocast@<pid>" (mode 0444), sizes it, maps it
 *      MAP_SHARED at exactly that address for the full reserved length
 *      (pool_max) and hands it over with ATTACH_POOL. Growth is ftruncate:
 *      pages past the old end of the file become valid in every existing
 *      mapping of it, the subscribers' included, with no remapping.
 *   2. ADD_PUBLISHER / ADD_SUBSCRIBER on a topic name (per IPC namespace).
 *   3. PUBLISH an address inside the caller's own pool; subscribers are
 *      woken through the pollable fd ADD_SUBSCRIBER returned.
 *   4. RECEIVE / TAKE give entries (address, length, publisher) and a
 *      reference each; RELEASE drops it. An entry is reclaimable once no
 *      subscriber holds it and it fell out of its publisher's history depth;
 *      the owner learns the address through PUBLISH or RECLAIM and may then
 *      reuse the memory.
 *   5. When a process dies (its mm goes away, by any means), everything it
 *      owned or held is dropped. Its address range is handed out again only
 *      when no entry of its pool is alive and no process declared (MAP_POOL)
 *      that it maps the pool; at that point the module also unlinks
 *      "/agnocast@<pid>", so no shared memory outlives its use.
 *
 * Status file AGNOCAST_STATUS_PATH (read-only, world-readable), one record a
 * line, "key value" pairs after the first word. Reading it first waits for
 * pending cleanup, so it never shows a half-finished exit. Topics are those
 * of the reader's IPC namespace, processes those visible in its pid
 * namespace; the totals line counts everything in the module.
 *   agnocast <major>.<minor>.<patch> abi <n>
 *   totals processes <n> topics <n> publishers <n> subscribers <n> entries <n> mappings <n>
 *   process pid <pid> addr 0x<hex> size <n> max <n> state <live|exited> attached <0|1> publishers <n> subscribers <n> mappers <n> reclaimable <n>
 *   topic <name> publishers <n> subscribers <n> entries <n> last-seq <n>
 *     publisher id <n> pid <pid> depth <n> transient-local <0|1> retained <n>
 *     subscriber id <n> pid <pid> depth <n> transient-local <0|1> held <n> pending <0|1>
 *     entry seq <n> publisher <id> pid <pid> addr 0x<hex> len <n> refs <n> retained <0|1>
 * "processes" counts joined processes plus exited ones whose pool is still
 * needed; "entries" counts entries alive on topics plus reclaimable ones not
 * yet handed back; "mappings" counts MAP_POOL declarations.
 *
 * Errors common to every ioctl
 *   EFAULT   an argument or a user pointer inside it is not accessible
 *   EINVAL   a reserved field or unknown flag is non-zero, or a field is out
 *            of its documented bounds
 *   ENOTTY   unknown ioctl
 *   ESRCH    the caller has not joined (ADD_PROCESS) (all but VERSION,
 *            ADD_PROCESS and the introspection ioctls LIST_TOPICS,
 *            TOPIC_INFO and LIST_PROCESSES, which need no joining)
 *   ENOENT   unknown publisher / subscriber id, pid, or entry
 *   EPERM    the id belongs to another process (another thread group)
 *   ENOMEM   the kernel is out of memory
 * Output arrays are given as (pointer, capacity); the module fills at most
 * capacity items and always reports the total count, so a caller can retry
 * with a larger buffer. A failed copy-out undoes the operation (nothing is
 * registered or consumed) where the ioctl says so.
 */
#ifndef _UAPI_AGNOCAST_H
#define _UAPI_AGNOCAST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define AGNOCAST_DEVICE_NAME		"agnocast"
#define AGNOCAST_DEVICE_PATH		"/dev/agnocast"
#define AGNOCAST_STATUS_PATH		"/proc/driver/agnocast"

/* Bumped on any incompatible change of this header. */
#define AGNOCAST_ABI_VERSION		1

/* Pool geometry. */
#define AGNOCAST_POOL_BASE		0x40000000000ULL	/* 4 TiB */
#define AGNOCAST_POOL_LIMIT		0x400000000000ULL	/* 64 TiB */
#define AGNOCAST_POOL_UNIT		102400ULL		/* 100 kB */
#define AGNOCAST_POOL_ALIGN		0x200000ULL		/* 2 MiB */
#define AGNOCAST_POOL_SIZE_MAX		0x10000000000ULL	/* 1 TiB */

/* Topics and queues. */
#define AGNOCAST_TOPIC_NAME_MAX		256	/* bytes, including the NUL */
#define AGNOCAST_DEPTH_MAX		1024	/* history / queue depth */
#define AGNOCAST_HOLD_MAX		4096	/* references one subscriber holds */
#define AGNOCAST_ARRAY_MAX		65536	/* capacity of any output array */
#define AGNOCAST_TOPIC_SUBS_MAX		64	/* subscribers on one topic */
#define AGNOCAST_TOPIC_PUBS_MAX		256	/* publishers on one topic */

#define AGNOCAST_QOS_TRANSIENT_LOCAL	(1U << 0)
#define AGNOCAST_QOS_FLAGS		AGNOCAST_QOS_TRANSIENT_LOCAL

struct agnocast_version_args {
	__u32 abi;		/* out: AGNOCAST_ABI_VERSION */
	__u32 major;		/* out: module version */
	__u32 minor;
	__u32 patch;
};

/*
 * Join. pool_size is rounded up to a multiple of AGNOCAST_POOL_UNIT;
 * pool_max (0: same as pool_size) bounds later growth and is rounded the
 * same way. The reserved range [pool_addr, pool_addr + pool_max) is aligned
 * to AGNOCAST_POOL_ALIGN, lies in [AGNOCAST_POOL_BASE, AGNOCAST_POOL_LIMIT)
 * and overlaps no range that any live process owns or maps.
 * Joining twice from one process is not an error: the second call returns
 * the same pool with AGNOCAST_JOIN_EXISTING set and ignores the sizes.
 * Errors: EINVAL (pool_size 0, pool_max < pool_size), E2BIG (a size above
 * AGNOCAST_POOL_SIZE_MAX), ENOSPC (no free address range).
 */
#define AGNOCAST_JOIN_EXISTING		(1U << 0)
struct agnocast_add_process_args {
	__u64 pool_size;	/* in: requested; out: rounded */
	__u64 pool_max;		/* in: requested; out: rounded */
	__u64 pool_addr;	/* out */
	__u32 flags;		/* out: AGNOCAST_JOIN_* */
	__u32 reserved;
};

/*
 * Hand the pool to the module. fd is the caller's read-write descriptor of
 * "/agnocast@<pid>" (a tmpfs file, <pid> the caller's pid), and the file must
 * be mapped MAP_SHARED at pool_addr from offset 0. The module keeps the file
 * for as long as the pool is needed and reads its current size (growth) from
 * it. Errors: EBADF (fd), EINVAL (not that file, not mapped there, not
 * writable), EBUSY (a pool is already attached).
 */
struct agnocast_attach_pool_args {
	__s32 fd;
	__u32 reserved;
};

/*
 * Topic name: 1 to AGNOCAST_TOPIC_NAME_MAX - 1 bytes, NUL-terminated inside
 * the field, no byte below 0x21 and no 0x7f (no spaces, no control bytes).
 * Errors: ENAMETOOLONG (no NUL in the field), EINVAL (empty, bad byte).
 */
struct agnocast_qos {
	__u32 depth;		/* 1 .. AGNOCAST_DEPTH_MAX */
	__u32 flags;		/* AGNOCAST_QOS_* */
};

/*
 * Become a publisher. Returns the publisher id and the pids of the processes
 * that have a subscriber on the topic (each once; the caller included if it
 * subscribes too). Needs an attached pool (else ENXIO). If copying the pids
 * out fails, the publisher is removed again (EFAULT, nothing registered).
 * ENOSPC: the topic has AGNOCAST_TOPIC_PUBS_MAX publishers already.
 */
struct agnocast_add_publisher_args {
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_qos qos;	/* depth: history kept for late joiners */
	__u64 sub_pids;		/* in: user pointer to __s32[sub_pids_cap] */
	__u32 sub_pids_cap;	/* in */
	__u32 nr_sub_pids;	/* out: total */
	__u32 publisher_id;	/* out */
	__u32 reserved;
};

/* A pool as seen by another process. */
struct agnocast_pool_info {
	__s32 pid;		/* owner, in the caller's pid namespace */
	__u32 reserved;
	__u64 addr;
	__u64 size;		/* current size of the shared memory file */
	__u64 max;		/* reserved length: map this much */
};

/*
 * Become a subscriber. Returns the subscriber id, a new pollable file
 * descriptor (O_CLOEXEC; EPOLLIN while entries are waiting to be received,
 * EPOLLHUP once the subscriber is removed; close it when done) and the pools
 * of the processes that have a publisher on the topic (each once). If
 * copying out fails the subscriber is removed again (EFAULT).
 * ENOSPC: the topic has AGNOCAST_TOPIC_SUBS_MAX subscribers already.
 * A transient-local subscriber's first RECEIVE also returns the history that
 * transient-local publishers retained when it joined.
 */
struct agnocast_add_subscriber_args {
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_qos qos;	/* depth: at most this many per RECEIVE */
	__u64 pubs;		/* in: user pointer to agnocast_pool_info[pubs_cap] */
	__u32 pubs_cap;		/* in */
	__u32 nr_pubs;		/* out: total */
	__u32 subscriber_id;	/* out */
	__s32 fd;		/* out */
};

/* Remove a publisher or subscriber of the caller. */
struct agnocast_remove_args {
	__u32 id;
	__u32 reserved;
};

/*
 * Publish [addr, addr + len) of the caller's pool (len may be 0; the range
 * must lie inside the pool's current size, else ERANGE). Returns the entry's
 * sequence number (per topic, from 1, strictly increasing) and hands back
 * addresses of the caller's entries that became reclaimable (as RECLAIM),
 * this publish's own effect included. If writing those addresses out fails,
 * they stay queued for RECLAIM and the ioctl fails with EFAULT although the
 * entry was published (seq is written first).
 */
struct agnocast_publish_args {
	__u32 publisher_id;
	__u32 reclaimed_cap;	/* in */
	__u64 addr;
	__u64 len;
	__u64 reclaimed;	/* in: user pointer to __u64[reclaimed_cap] */
	__u64 seq;		/* out */
	__u32 nr_reclaimed;	/* out: how many were written */
	__u32 reserved;
};

/* One received entry. */
struct agnocast_entry {
	__u64 seq;
	__u64 addr;
	__u64 len;
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC at PUBLISH */
	__s32 pid;		/* publisher's process, caller's pid namespace */
	__u32 publisher_id;
};

/*
 * Receive the entries published since the previous RECEIVE or TAKE: of
 * those, the newest qos.depth, oldest first, at most entries_cap of them
 * (the rest stay pending). The subscriber holds a reference on each entry
 * returned until RELEASE. EAGAIN: nothing new. ENOBUFS: the subscriber
 * already holds AGNOCAST_HOLD_MAX references. EFAULT on copy-out gives the
 * references back and leaves the entries pending.
 */
struct agnocast_receive_args {
	__u32 subscriber_id;
	__u32 entries_cap;	/* in: 1 .. AGNOCAST_ARRAY_MAX */
	__u64 entries;		/* in: user pointer to agnocast_entry[entries_cap] */
	__u32 nr_entries;	/* out */
	__u32 reserved;
};

/*
 * Take the newest entry published since the previous RECEIVE or TAKE and
 * skip the older ones (polling style), holding a reference on it.
 * EAGAIN: nothing new. ENOBUFS as for RECEIVE.
 */
struct agnocast_take_args {
	__u32 subscriber_id;
	__u32 reserved;
	struct agnocast_entry entry;	/* out */
};

/* Drop one reference the subscriber holds on entry seq (else ENOENT). */
struct agnocast_release_args {
	__u32 subscriber_id;
	__u32 reserved;
	__u64 seq;
};

/*
 * Addresses of the caller's entries that became reclaimable, oldest first;
 * each is handed out once. nr_addrs: how many were written.
 */
struct agnocast_reclaim_args {
	__u64 addrs;		/* in: user pointer to __u64[addrs_cap] */
	__u32 addrs_cap;	/* in: 1 .. AGNOCAST_ARRAY_MAX */
	__u32 nr_addrs;		/* out */
};

/*
 * Declare that the caller maps (MAP_POOL) or no longer maps (UNMAP_POOL)
 * the pool of process pid, and learn its geometry. While declared, the
 * range is not handed to another process even after the owner exits. Each
 * MAP_POOL needs one UNMAP_POOL; process exit drops the rest.
 * MAP_POOL of one's own pid returns the geometry and declares nothing.
 * ENOENT: no such process has (or had, with a pool still alive) joined;
 * ENXIO: it has not attached its pool yet; EINVAL: UNMAP_POOL without
 * MAP_POOL.
 */
struct agnocast_map_pool_args {
	struct agnocast_pool_info pool;	/* in: pool.pid; out: the rest */
};

/* Introspection: names of the topics in the caller's IPC namespace. */
struct agnocast_topic_name {
	char name[AGNOCAST_TOPIC_NAME_MAX];
};
struct agnocast_list_topics_args {
	__u64 topics;		/* in: user pointer to agnocast_topic_name[cap] */
	__u32 topics_cap;	/* in: 0 .. AGNOCAST_ARRAY_MAX */
	__u32 nr_topics;	/* out: total */
};

/* Introspection: one topic's publishers and subscribers. */
struct agnocast_endpoint_info {
	__u32 id;
	__s32 pid;
	struct agnocast_qos qos;
	__u32 count;		/* publisher: entries retained; subscriber: held */
	__u32 reserved;
};
struct agnocast_topic_info_args {
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	__u64 pubs;		/* in: user pointer to agnocast_endpoint_info[] */
	__u64 subs;		/* in: user pointer to agnocast_endpoint_info[] */
	__u32 pubs_cap;		/* in: 0 .. AGNOCAST_ARRAY_MAX */
	__u32 subs_cap;		/* in: 0 .. AGNOCAST_ARRAY_MAX */
	__u32 nr_pubs;		/* out: total */
	__u32 nr_subs;		/* out: total */
	__u64 nr_entries;	/* out: entries alive on the topic */
	__u64 last_seq;		/* out */
};

/* Introspection: joined processes visible in the caller's pid namespace. */
#define AGNOCAST_PROC_EXITED		(1U << 0)
#define AGNOCAST_PROC_ATTACHED		(1U << 1)
struct agnocast_process_info {
	struct agnocast_pool_info pool;
	__u32 flags;		/* AGNOCAST_PROC_* */
	__u32 nr_publishers;
	__u32 nr_subscribers;
	__u32 nr_mappers;	/* processes that declared they map this pool */
};
struct agnocast_list_processes_args {
	__u64 procs;		/* in: user pointer to agnocast_process_info[] */
	__u32 procs_cap;	/* in: 0 .. AGNOCAST_ARRAY_MAX */
	__u32 nr_procs;		/* out: total */
};

#define AGNOCAST_IOC_MAGIC		0xA6

#define AGNOCAST_VERSION_CMD \
	_IOR(AGNOCAST_IOC_MAGIC, 0, struct agnocast_version_args)
#define AGNOCAST_ADD_PROCESS_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 1, struct agnocast_add_process_args)
#define AGNOCAST_ATTACH_POOL_CMD \
	_IOW(AGNOCAST_IOC_MAGIC, 2, struct agnocast_attach_pool_args)
#define AGNOCAST_ADD_PUBLISHER_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 3, struct agnocast_add_publisher_args)
#define AGNOCAST_ADD_SUBSCRIBER_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 4, struct agnocast_add_subscriber_args)
#define AGNOCAST_REMOVE_PUBLISHER_CMD \
	_IOW(AGNOCAST_IOC_MAGIC, 5, struct agnocast_remove_args)
#define AGNOCAST_REMOVE_SUBSCRIBER_CMD \
	_IOW(AGNOCAST_IOC_MAGIC, 6, struct agnocast_remove_args)
#define AGNOCAST_PUBLISH_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 7, struct agnocast_publish_args)
#define AGNOCAST_RECEIVE_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 8, struct agnocast_receive_args)
#define AGNOCAST_TAKE_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 9, struct agnocast_take_args)
#define AGNOCAST_RELEASE_CMD \
	_IOW(AGNOCAST_IOC_MAGIC, 10, struct agnocast_release_args)
#define AGNOCAST_RECLAIM_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 11, struct agnocast_reclaim_args)
#define AGNOCAST_MAP_POOL_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 12, struct agnocast_map_pool_args)
#define AGNOCAST_UNMAP_POOL_CMD \
	_IOW(AGNOCAST_IOC_MAGIC, 13, struct agnocast_map_pool_args)
#define AGNOCAST_LIST_TOPICS_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 14, struct agnocast_list_topics_args)
#define AGNOCAST_TOPIC_INFO_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 15, struct agnocast_topic_info_args)
#define AGNOCAST_LIST_PROCESSES_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 16, struct agnocast_list_processes_args)

#endif /* _UAPI_AGNOCAST_H */
