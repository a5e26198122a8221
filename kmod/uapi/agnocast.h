/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR Apache-2.0 */
/*
 * agnocast: zero-copy publish/subscribe between processes on one host.
 *
 * This header is the only contract between the kernel module, the C client
 * library (libagnocast) and the Node addon. Every struct has a fixed layout
 * (explicit padding, 64-bit user pointers as __u64), identical for 32- and
 * 64-bit callers; every reserved field and every unknown flag bit must be
 * zero, or the ioctl fails with EINVAL. Fields marked "out" are ignored on
 * input, so an argument struct can be reused.
 *
 * Life of a message
 *   1. ADD_PROCESS: the module assigns the caller a unique address range
 *      (its pool) above AGNOCAST_POOL_BASE, clear of the caller's own
 *      mappings at that moment. The process creates the POSIX shared memory
 *      "/agnocast@<pid>" (mode 0444), sizes it, maps it MAP_SHARED at
 *      exactly that address for the full reserved length (pool_max) and
 *      hands it over with ATTACH_POOL. Growth is ftruncate: pages past the
 *      old end of the file become valid in every existing mapping of it,
 *      the subscribers' included, with no remapping.
 *   2. ADD_PUBLISHER / ADD_SUBSCRIBER on a topic name (per IPC namespace).
 *   3. MAP_POOL gives a subscriber a read-only descriptor of the very file a
 *      publisher attached (never looked up by name), to map PROT_READ,
 *      MAP_SHARED at the pool's address for its reserved length.
 *   4. PUBLISH an address inside the caller's own pool; subscribers are
 *      woken through the pollable fd ADD_SUBSCRIBER returned.
 *   5. RECEIVE / TAKE give entries (address, length, publisher) and a
 *      reference each; RELEASE drops it. An entry is reclaimable once no
 *      subscriber holds it and it fell out of its publisher's history depth;
 *      the owner learns the address through PUBLISH or RECLAIM and may then
 *      reuse the memory.
 *   6. When a process dies (its mm goes away, by any means), everything it
 *      owned or held is dropped and the module unlinks "/agnocast@<pid>"
 *      (with the credentials of the process that attached it), so no name
 *      outlives its owner. Entries of its pool that subscribers still hold
 *      stay readable (their mappings keep the memory). Its address range is
 *      handed out again once no process of the owner's user declares
 *      (MAP_POOL) that it maps the pool.
 *
 * What a process is
 *   A joined process is one thread group together with its mm. Threads of
 *   it share its registration; fork and exec give a new, unjoined process
 *   (a forked child inherits descriptors, not ids). A task that shares the
 *   mm of a joined process but is another thread group (clone(CLONE_VM)
 *   without CLONE_THREAD, a vfork child before exec) gets EPERM from every
 *   ioctl that acts for a process. Cleanup runs when the mm goes away,
 *   which is at the exit of its last task, or later if another process
 *   holds a reference on that mm at the time (e.g. reading its
 *   /proc/<pid>/mem).
 *
 * Access model
 *   The device is created root-only (mode 0660, group root) unless the
 *   module is loaded with device_mode=0666. Give it to a group with the
 *   udev rule kmod/99-agnocast.rules (group "agnocast", mode 0660); users
 *   of that group may then join. Any process that can open the device can
 *   read the pool of every process that publishes on a topic it may
 *   subscribe to (topics are per IPC namespace): a pool is mapped
 *   read-only by every subscriber, so put in it only what the topic's
 *   readers may see. No process can write into another's pool, publish an
 *   address outside its own pool, or act on another process's ids (EPERM).
 *
 * Bounds (module parameters, /sys/module/agnocast/parameters/<name>,
 * writable by root; a lower value applies to new requests only)
 *   max_procs_per_user      1024     joined processes of one user, counting
 *                                    exited ones whose range is still
 *                                    reserved (ADD_PROCESS: EDQUOT)
 *   max_window_per_user     4 TiB    address window reserved by one user's
 *                                    pools, live or exited but still
 *                                    reserved (ADD_PROCESS: EDQUOT)
 *   max_endpoints_per_process 1024   publishers plus subscribers of one
 *                                    process (ADD_PUBLISHER,
 *                                    ADD_SUBSCRIBER: EDQUOT)
 *   max_entries_per_process 65536    entries of one process's pool that the
 *                                    module tracks: alive on topics, or
 *                                    reclaimable and not yet handed back
 *                                    (PUBLISH: EDQUOT)
 *   max_mappings_per_process 4096    pools one process declares it maps
 *                                    (MAP_POOL: EDQUOT)
 *   status_entries_max      64       entry lines the status file prints per
 *                                    topic
 *   device_mode             0660     mode of /dev/agnocast at load time
 *   Fixed limits: AGNOCAST_TOPIC_SUBS_MAX / _PUBS_MAX per topic (ENOSPC),
 *   AGNOCAST_HOLD_MAX references per subscriber (ENOBUFS),
 *   AGNOCAST_MAP_COUNT_MAX MAP_POOLs of one pool without UNMAP_POOL
 *   (EDQUOT). "User" is the real uid of the caller at ADD_PROCESS. Every
 *   object the module allocates for a caller is charged to the caller's
 *   memory cgroup.
 *   A well-behaved client that meets EDQUOT gives something back before
 *   retrying: PUBLISH -> hand back reclaimed addresses (reclaimed_cap > 0
 *   on every PUBLISH, or RECLAIM) and release what its subscribers hold;
 *   ADD_PUBLISHER / ADD_SUBSCRIBER -> remove endpoints it no longer uses;
 *   MAP_POOL -> UNMAP_POOL pools whose owners are gone; ADD_PROCESS ->
 *   ask for a smaller pool_max, or end processes of the same user.
 *
 * Status file AGNOCAST_STATUS_PATH (read-only, world-readable), one record a
 * line, "key value" pairs after the first word. Topics are those of the
 * reader's IPC namespace, processes those visible in its pid namespace; the
 * totals line counts everything in the module. Cleanup is synchronous with
 * a process's end (see "What a process is"), so once a process has been
 * reaped its records are gone. A read returns consistent records; records
 * of one file read through several read() calls may come from different
 * moments. At most status_entries_max entry lines are printed per topic
 * (the oldest first); a "more-entries" line counts the rest.
 *   agnocast <major>.<minor>.<patch> abi <n>
 *   totals processes <n> topics <n> publishers <n> subscribers <n> entries <n> mappings <n>
 *   process pid <pid> uid <uid> addr 0x<hex> size <n> max <n> state <live|exited> attached <0|1> publishers <n> subscribers <n> mappers <n> reclaimable <n>
 *   topic <name> publishers <n> subscribers <n> entries <n> last-seq <n>
 *     publisher id <n> pid <pid> depth <n> transient-local <0|1> retained <n>
 *     subscriber id <n> pid <pid> depth <n> transient-local <0|1> held <n> pending <0|1> reliable <0|1> queued <n>
 *     entry seq <n> publisher <id> pid <pid> addr 0x<hex> len <n> refs <n> retained <0|1>
 *     more-entries count <n>
 * "processes" counts joined processes plus exited ones whose range is
 * still reserved; "entries" counts entries alive on topics plus reclaimable
 * ones not yet handed back; "mappings" counts MAP_POOL declarations (one
 * per mapper and pool). A pid not visible in the reader's pid namespace is
 * printed as 0 (process records of such pools are left out).
 *
 * Errors common to every ioctl
 *   EFAULT   an argument or a user pointer inside it is not accessible
 *   EINVAL   a reserved field or unknown flag is non-zero, or a field is out
 *            of its documented bounds
 *   ENOTTY   unknown ioctl
 *   ESRCH    the caller has not joined (ADD_PROCESS) (all but VERSION,
 *            ADD_PROCESS and the introspection ioctls LIST_TOPICS,
 *            TOPIC_INFO and LIST_PROCESSES, which need no joining)
 *   EPERM    the caller shares a joined process's mm but is another thread
 *            group (see "What a process is"), or an id belongs to another
 *            process
 *   ENOENT   unknown publisher / subscriber id, pid, or entry
 *   ENOMEM   the kernel is out of memory (or the caller's memory cgroup is
 *            at its limit)
 *   EINTR    a fatal signal arrived during a call that may take long
 *            (ADD_PROCESS)
 * Each ioctl below lists the errors it adds. Output arrays are given as
 * (pointer, capacity); the module fills at most capacity items and always
 * reports the total count, so a caller can retry with a larger buffer.
 * Nothing a call creates is visible to any other thread before the call can
 * no longer fail: a call that fails, EFAULT on copy-out included, leaves
 * nothing registered and nothing consumed, except where it says otherwise.
 *
 * 32-bit callers: compat_ioctl passes every ioctl through unchanged (the
 * layouts are the same); ADD_PROCESS fails with EOPNOTSUPP for them since
 * pools live above 4 GiB, so they can use VERSION and introspection only.
 */
#ifndef _UAPI_AGNOCAST_H
#define _UAPI_AGNOCAST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define AGNOCAST_DEVICE_NAME		"agnocast"
#define AGNOCAST_DEVICE_PATH		"/dev/agnocast"
#define AGNOCAST_STATUS_PATH		"/proc/driver/agnocast"

/* Bumped on any incompatible change of this header. */
#define AGNOCAST_ABI_VERSION		4

/*
 * Pool geometry. The window [AGNOCAST_POOL_BASE, AGNOCAST_POOL_LIMIT) is
 * where nothing else in a process lands on its own: V8 (Node) places its
 * heap and code pages at random hints below 64 TiB (46 bits), and Linux
 * puts position-independent executables and their heap at 85 TiB and
 * ordinary mappings from the top of user space (128 TiB) down. A pool's
 * range must be free in every process that maps it, not only in its owner.
 */
#define AGNOCAST_POOL_BASE		0x400000000000ULL	/* 64 TiB */
#define AGNOCAST_POOL_LIMIT		0x540000000000ULL	/* 84 TiB */
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
#define AGNOCAST_MAP_COUNT_MAX		65535	/* MAP_POOLs of one pool, unmatched */

#define AGNOCAST_RELEASE_MAX		32	/* seqs one RECEIVE releases first */

/*
 * QoS flags. TRANSIENT_LOCAL: a publisher retains its newest qos.depth
 * entries for subscribers that join later; a transient-local subscriber
 * receives them. RELIABLE (subscribers only): nothing published while the
 * subscriber is there is dropped for it. Entries wait in its queue (at most
 * qos.depth) until it receives them (a RECEIVE or TAKE frees their room when
 * it returns them, not while it runs), and PUBLISH on the topic fails with
 * EAGAIN while the queue is full; the publisher's fd reports EPOLLOUT again
 * once every reliable subscriber has room.
 */
#define AGNOCAST_QOS_TRANSIENT_LOCAL	(1U << 0)
#define AGNOCAST_QOS_RELIABLE		(1U << 1)
#define AGNOCAST_QOS_PUB_FLAGS		AGNOCAST_QOS_TRANSIENT_LOCAL
#define AGNOCAST_QOS_SUB_FLAGS		(AGNOCAST_QOS_TRANSIENT_LOCAL | AGNOCAST_QOS_RELIABLE)

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
 * to AGNOCAST_POOL_ALIGN, lies in [AGNOCAST_POOL_BASE, AGNOCAST_POOL_LIMIT),
 * overlaps no range that is reserved for another pool and no mapping the
 * caller has when it asks.
 * Joining twice from one process is not an error: the second call returns
 * the same pool with AGNOCAST_JOIN_EXISTING set and ignores the sizes.
 * A caller that cannot read the answer (EFAULT) stays joined; joining again
 * returns the pool.
 * Errors: EINVAL (pool_size 0, pool_max < pool_size), E2BIG (a size above
 * AGNOCAST_POOL_SIZE_MAX), ENOSPC (no free address range that large),
 * EDQUOT (max_procs_per_user or max_window_per_user reached), EPERM (the
 * caller's mm serves or served another thread group: a vfork child before
 * exec, a clone(CLONE_VM) child, or a process that made one before
 * joining; a registration must not outlive the thread group that made it),
 * EOPNOTSUPP (a 32-bit caller), EINTR.
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
 * a tmpfs file named "agnocast@<pid>" (<pid> the caller's pid, as it sees
 * it; "/agnocast@<pid>" in /dev/shm for shm_open), and the file must be
 * mapped MAP_SHARED at pool_addr from offset 0. The module keeps the file
 * for as long as the pool's range is reserved, reads its current size
 * (growth) from it, hands it to mappers (MAP_POOL) and unlinks its name
 * when the owner is gone. Errors: EBADF (fd), EINVAL (not such a file, not
 * mapped there, not writable), EBUSY (a pool is already attached).
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
	__u32 flags;		/* AGNOCAST_QOS_PUB_FLAGS / _SUB_FLAGS */
};

/*
 * Become a publisher. Returns the publisher id, a new pollable descriptor
 * and the pids of the processes that have a subscriber on the topic (each
 * once; the caller included if it subscribes too; 0 for a process not
 * visible in the caller's pid namespace). The descriptor (O_CLOEXEC) is the
 * publisher: closing its last copy removes it as REMOVE_PUBLISHER does.
 * poll gives
 *   EPOLLOUT  while no reliable subscriber's queue is full (a PUBLISH would
 *             not fail with EAGAIN right now);
 *   EPOLLPRI  once the topic's subscribers changed (one joined or left, by
 *             any means) since ADD_PUBLISHER or the last PUBLISHER_STATE;
 *   EPOLLHUP  once the publisher is removed.
 * Neither the id nor the descriptor exists for any thread before the call
 * succeeded.
 * Errors: ENXIO (no pool attached yet), ENOSPC (the topic has
 * AGNOCAST_TOPIC_PUBS_MAX publishers), EDQUOT (max_endpoints_per_process),
 * EMFILE / ENFILE, ENAMETOOLONG / EINVAL (topic name; qos.flags outside
 * AGNOCAST_QOS_PUB_FLAGS), EFAULT (nothing registered).
 */
struct agnocast_add_publisher_args {
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_qos qos;	/* depth: history kept for late joiners */
	__u64 sub_pids;		/* in: user pointer to __s32[sub_pids_cap] */
	__u32 sub_pids_cap;	/* in */
	__u32 nr_sub_pids;	/* out: total */
	__u32 publisher_id;	/* out */
	__s32 fd;		/* out */
};

/* A pool as seen by another process. */
struct agnocast_pool_info {
	__s32 pid;		/* owner, in the caller's pid namespace, or 0 */
	__u32 reserved;
	__u64 addr;
	__u64 size;		/* current size of the shared memory file */
	__u64 max;		/* reserved length: map this much */
};

/*
 * Become a subscriber. Returns the subscriber id, a new pollable file
 * descriptor and the pools of the processes that have a publisher on the
 * topic (each once). The descriptor (O_CLOEXEC) is the subscriber: closing
 * its last copy removes it as REMOVE_SUBSCRIBER does. poll gives
 *   EPOLLIN   while entries are waiting to be received;
 *   EPOLLPRI  once the topic's publishers changed (one joined or left, by
 *             any means) since ADD_SUBSCRIBER or the last SUBSCRIBER_STATE;
 *   EPOLLHUP  once the subscriber is removed (REMOVE_SUBSCRIBER, or its
 *             process's end).
 * Neither the id nor the descriptor exists for any thread before the call
 * succeeded.
 * A transient-local subscriber's first RECEIVE also returns the history that
 * transient-local publishers retained when it joined.
 * Errors: ENOSPC (the topic has AGNOCAST_TOPIC_SUBS_MAX subscribers), EDQUOT
 * (max_endpoints_per_process), EMFILE / ENFILE (no descriptor free),
 * ENAMETOOLONG / EINVAL (topic name; qos.flags outside
 * AGNOCAST_QOS_SUB_FLAGS), EFAULT (nothing registered).
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

/*
 * Remove a publisher or subscriber of the caller. A publisher's entries that
 * subscribers hold or have queued stay readable until released; a
 * subscriber's references are dropped. The descriptor (still to be closed)
 * reports EPOLLHUP. Errors: ENOENT, EPERM.
 */
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
 * Errors: ERANGE (not inside the pool's current size), EDQUOT (the caller
 * already owns max_entries_per_process entries: reclaim first), EAGAIN (a
 * reliable subscriber's queue is full: nothing was published; wait for
 * EPOLLOUT on the publisher's descriptor, or give up), ENOENT / EPERM
 * (publisher id).
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
 * First release the entries release[0 .. release_nr) as RELEASE would (seqs
 * the subscriber does not hold are skipped), then receive the entries
 * published since the previous RECEIVE or TAKE: of those, the newest
 * qos.depth, oldest first, at most entries_cap of them (the rest stay
 * pending; with entries_cap 0 the call only releases). The subscriber holds
 * a reference on each entry returned until it releases it. The releases
 * stand whatever the receiving part then returns.
 * Errors: EAGAIN (nothing new), ENOBUFS (the subscriber already holds
 * AGNOCAST_HOLD_MAX references), EINVAL (entries_cap and release_nr both 0,
 * or out of bounds), EFAULT (the release list unreadable: nothing done; or
 * the entries not writable: the references are given back and the entries
 * pending again, those still there — an entry released or dropped
 * meanwhile is not brought back).
 */
struct agnocast_receive_args {
	__u32 subscriber_id;
	__u32 entries_cap;	/* in: 0 .. AGNOCAST_ARRAY_MAX */
	__u64 entries;		/* in: user pointer to agnocast_entry[entries_cap] */
	__u64 release;		/* in: user pointer to __u64[release_nr] */
	__u32 release_nr;	/* in: 0 .. AGNOCAST_RELEASE_MAX */
	__u32 nr_entries;	/* out */
};

/*
 * Take the newest entry published since the previous RECEIVE or TAKE and
 * skip the older ones (polling style; a reliable subscriber's queue is
 * emptied of them), holding a reference on it.
 * EAGAIN: nothing new. ENOBUFS and EFAULT as for RECEIVE.
 */
struct agnocast_take_args {
	__u32 subscriber_id;
	__u32 reserved;
	struct agnocast_entry entry;	/* out */
};

/*
 * Drop one reference the subscriber holds on entry seq. Errors: ENOENT (no
 * such subscriber, or it holds no entry seq).
 */
struct agnocast_release_args {
	__u32 subscriber_id;
	__u32 reserved;
	__u64 seq;
};

/*
 * Addresses of the caller's entries that became reclaimable, oldest first;
 * each is handed out once (if writing them out fails, they stay queued and
 * the call fails with EFAULT). nr_addrs: how many were written.
 */
struct agnocast_reclaim_args {
	__u64 addrs;		/* in: user pointer to __u64[addrs_cap] */
	__u32 addrs_cap;	/* in: 1 .. AGNOCAST_ARRAY_MAX */
	__u32 nr_addrs;		/* out */
};

/*
 * Map another process's pool. The pool is named by pool.pid (> 0, in the
 * caller's pid namespace: the process that has that pid now, else an
 * exited owner that had it), or, with pool.pid 0, by pool.addr: any address
 * inside its reserved range (an entry's address will do, whatever pid
 * namespace the owner is in), or by both (pool.pid > 0 and pool.addr != 0:
 * that pid's pool, only if its range covers pool.addr). The module returns the geometry and fd, a new
 * read-only descriptor (O_CLOEXEC) of the very file the owner attached:
 * map it with mmap(addr, max, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE,
 * fd, 0), then close it. It also declares that the caller maps the pool:
 * while a process of the owner's user declares it, the range is not handed
 * to another pool even after the owner is gone (a declaration by another
 * user's process keeps the range only while the owner lives: unmap such a
 * pool once its owner is gone). Each MAP_POOL needs one UNMAP_POOL; the
 * caller's end drops the rest. MAP_POOL of one's own pool returns the
 * geometry, fd -1, and declares nothing.
 * Errors: ENOENT (no pool with that pid or address is reserved), ENXIO (its
 * owner has not attached it yet), EDQUOT (max_mappings_per_process, or
 * AGNOCAST_MAP_COUNT_MAX MAP_POOLs of this pool), EMFILE / ENFILE, EFAULT
 * (nothing declared, no descriptor).
 */
struct agnocast_map_pool_args {
	struct agnocast_pool_info pool;	/* in: pool.pid or pool.addr; out */
	__s32 fd;		/* out */
	__u32 reserved;
};

/*
 * Undo one MAP_POOL of the pool named by pid, by addr or by both, as
 * MAP_POOL names pools; the caller unmaps the memory itself. A declaration
 * of an exited owner's pool outlives its range when the caller is of
 * another user, and a new pool may get that range: an address alone then
 * names the pool whose range is still reserved, pid and address together
 * the one the caller means. Errors: ENOENT (no such pool), EINVAL (no
 * MAP_POOL of it to undo).
 */
struct agnocast_unmap_pool_args {
	__s32 pid;
	__u32 reserved;
	__u64 addr;
};

/*
 * The topic of one of the caller's publishers (PUBLISHER_STATE) or
 * subscribers (SUBSCRIBER_STATE), now; reading it clears the endpoint's
 * EPOLLPRI (the change it reported is seen; TOPIC_INFO tells who is there).
 * nr_full: reliable subscribers whose queue is full (PUBLISH fails with
 * EAGAIN while it is not 0). queued: for a subscriber, the entries waiting
 * in its queue (reliable) or pending (otherwise); 0 for a publisher.
 * Errors: ENOENT, EPERM (id), EFAULT (nothing cleared).
 */
struct agnocast_endpoint_state_args {
	__u32 id;		/* in */
	__u32 reserved;
	__u32 nr_publishers;	/* out */
	__u32 nr_subscribers;	/* out */
	__u32 nr_full;		/* out */
	__u32 queued;		/* out */
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

/*
 * Introspection: one topic's publishers and subscribers (pids 0 where not
 * visible in the caller's pid namespace). Errors: ENOENT (no such topic in
 * the caller's IPC namespace), ENAMETOOLONG / EINVAL (topic name).
 */
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
	_IOW(AGNOCAST_IOC_MAGIC, 13, struct agnocast_unmap_pool_args)
#define AGNOCAST_LIST_TOPICS_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 14, struct agnocast_list_topics_args)
#define AGNOCAST_TOPIC_INFO_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 15, struct agnocast_topic_info_args)
#define AGNOCAST_LIST_PROCESSES_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 16, struct agnocast_list_processes_args)
#define AGNOCAST_PUBLISHER_STATE_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 17, struct agnocast_endpoint_state_args)
#define AGNOCAST_SUBSCRIBER_STATE_CMD \
	_IOWR(AGNOCAST_IOC_MAGIC, 18, struct agnocast_endpoint_state_args)

#endif /* _UAPI_AGNOCAST_H */
