/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agnocast module internals.
 *
 * Files
 *   main.c      device, module parameters, ioctl dispatch, init/exit
 *   process.c   a joined process: identity (its mm and thread group),
 *               ADD_PROCESS, ATTACH_POOL, the mmu notifier, lifetime
 *   range.c     the shared address window: reserving and releasing pool
 *               ranges, per-user budgets, unlinking a pool's name
 *   mapping.c   MAP_POOL / UNMAP_POOL: who maps whose pool
 *   topic.c     topics and their IPC namespaces
 *   endpoint.c  publishers and subscribers: add, remove, the subscriber fd
 *   message.c   entries: PUBLISH, RECEIVE, TAKE, RELEASE, RECLAIM
 *   exit.c      what happens when a process's mm goes away
 *   status.c    /proc/driver/agnocast and the introspection ioctls
 *
 * The caller is hostile. Any thread of any process may call anything with
 * any argument while its siblings call the opposite and it is being
 * killed. Three rules keep that safe:
 *   - Commit last. A call prepares everything that can fail (memory, a
 *     reserved id, an unused fd, the file) before it links anything, and
 *     makes the result reachable by others (the id in its table, the fd)
 *     only after its last copy to user space succeeded. An id is reserved
 *     (xa_alloc of NULL) while the call runs: lookups see nothing.
 *   - No pointer outlives the lock that found it unless a reference pins
 *     it. Undoing a failed copy-out (RECEIVE, TAKE) finds the entries
 *     again by seq under the topic lock and re-checks that they are still
 *     held, never by a pointer kept across the unlock.
 *   - A lookup never revives an object: every table holds a reference on
 *     what it lists and an object leaves the table before that reference
 *     is dropped (ids, topics, the mm hash); the range list holds no
 *     reference, and a proc leaves it (agnocast_range_release) in the
 *     same critical section that makes it unreachable otherwise.
 *
 * Lock order, outermost first. Never take an outer lock while holding an
 * inner one.
 *   1. agnocast_lock (mutex): the range list, the topic table, each
 *      process's state, publisher/subscriber/mapping lists and counters,
 *      pool attachment, every endpoint's "linked" state, global counters.
 *   2. topic->lock (mutex): the topic's publishers, subscribers and entries,
 *      entries' holders, queues and retained state, subscribers' cursors,
 *      pending and hup flags, the generations and nr_full that poll reads
 *      without a lock ("linked" is written under both 1 and 2).
 *   3. Leaf spinlocks, never nested in each other: agnocast_mm_lock (the
 *      mm -> process hash), proc->reclaim_lock (reclaimable entries), the
 *      xarray locks of the id tables, wait queue locks.
 * mmap_lock is never held together with 1 or 2, and user memory is never
 * touched while 1 or 2 is held: a faulting (userfaultfd) buffer stalls only
 * its own caller. Every loop whose length a caller controls runs with
 * cond_resched() and is bounded by a module parameter.
 *
 * Lifetimes (kref)
 *   proc:  +1 while joined (dropped when its mm goes away), +1 per
 *          publisher and subscriber, +1 per entry of its pool (alive or
 *          reclaimable), +1 per mapping that names it as owner. Its range
 *          (and pool file) is released separately, under agnocast_lock,
 *          once it is not joined and no process of its user declares a
 *          mapping of it. The last put frees the struct and the module
 *          reference; every context that can drop it holds a module
 *          reference of its own (an open file, the mmu notifier's SRCU).
 *   topic: +1 while in the table (dropped when it has no endpoint left),
 *          +1 per publisher and subscriber. It holds its IPC namespace.
 *   pub, sub: +1 from its file (from creation to the file's release), +1
 *          while linked, +1 per in-flight lookup by id. A subscriber's wait
 *          queue lives in it, so it lives as long as its file, as eventfd's;
 *          publishers wait on their topic's, which they hold.
 */
#ifndef AGNOCAST_INTERNAL_H
#define AGNOCAST_INTERNAL_H

#include <linux/cred.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "uapi/agnocast.h"

#define AGNOCAST_VERSION_MAJOR	0
#define AGNOCAST_VERSION_MINOR	3
#define AGNOCAST_VERSION_PATCH	0

struct ipc_namespace;
struct pid;

/* Module parameters (main.c), documented in the uapi header. */
extern unsigned int agnocast_max_procs_per_user;
extern unsigned long agnocast_max_window_per_user;
extern unsigned int agnocast_max_endpoints_per_process;
extern unsigned int agnocast_max_entries_per_process;
extern unsigned int agnocast_max_mappings_per_process;
extern unsigned int agnocast_status_entries_max;

/* Watches one mm; freed by the mmu notifier core after its SRCU period. */
struct agnocast_mm_watch {
	struct mmu_notifier mn;
	struct agnocast_proc *proc;	/* agnocast_lock; NULL once gone */
};

enum agnocast_proc_state {
	AGNOCAST_RESERVING,	/* ADD_PROCESS is checking its range */
	AGNOCAST_LIVE,		/* joined */
	AGNOCAST_EXITED,	/* mm gone, range still reserved (pinned) */
	AGNOCAST_RELEASED,	/* range released; the struct lives on refs */
};

struct agnocast_proc {
	struct kref ref;
	struct mm_struct *mm;		/* identity while joined; never deref'd */
	struct hlist_node mm_node;	/* agnocast_mm_hash, while joined */
	struct list_head addr_node;	/* agnocast_procs, while reserved */
	struct agnocast_mm_watch *watch;
	struct pid *tgid;
	kuid_t uid;			/* real uid at ADD_PROCESS */
	enum agnocast_proc_state state;	/* agnocast_lock */
	u64 pool_addr;
	u64 pool_max;			/* reserved length */
	u64 slot_len;			/* pool_max rounded to AGNOCAST_POOL_ALIGN */
	/*
	 * Set once by ATTACH_POOL, dropped with the range (never while
	 * live, so the owner's PUBLISH may read it without the lock).
	 */
	struct file *pool_file;
	const struct cred *attach_cred;	/* the name is unlinked as them */
	struct list_head pubs;		/* agnocast_lock */
	struct list_head subs;		/* agnocast_lock */
	struct list_head mappings;	/* pools this one maps: agnocast_lock */
	unsigned int nr_pubs, nr_subs;	/* agnocast_lock */
	unsigned int nr_mappings;	/* entries of ->mappings: agnocast_lock */
	unsigned int nr_mappers;	/* mappings of this pool: agnocast_lock */
	unsigned int nr_pins;		/* ... by its own user: agnocast_lock */
	atomic_t nr_entries;		/* entries of this pool the module has */
	spinlock_t reclaim_lock;
	bool exited;			/* reclaim_lock */
	struct list_head reclaimable;	/* entries, reclaim_lock */
	unsigned int nr_reclaimable;	/* reclaim_lock */
};

/* One process (the mapper) declares it maps another's pool (the owner). */
struct agnocast_mapping {
	struct list_head node;		/* mapper's proc->mappings */
	struct agnocast_proc *owner;	/* a reference */
	unsigned int count;		/* MAP_POOLs not yet undone */
	bool pins;			/* same user: keeps the range reserved */
};

struct agnocast_topic {
	struct kref ref;
	struct hlist_node node;		/* agnocast_topics */
	struct ipc_namespace *ns;	/* a reference */
	struct mutex lock;
	struct list_head pubs;
	struct list_head subs;
	struct list_head entries;	/* by seq, oldest first */
	unsigned int nr_pubs, nr_subs, nr_entries;
	u64 sub_slots;			/* bitmap of subscriber slots in use */
	u64 last_seq;
	u64 sub_gen, pub_gen;		/* bumped when one joins or leaves */
	unsigned int nr_full;		/* reliable subscribers with a full queue */
	wait_queue_head_t wq;		/* publishers' polls */
	char name[AGNOCAST_TOPIC_NAME_MAX];
};

struct agnocast_pub {
	struct kref ref;
	u32 id;
	struct agnocast_proc *proc;	/* a reference */
	struct agnocast_topic *topic;	/* a reference, once linked */
	struct list_head proc_node;	/* agnocast_lock */
	struct list_head topic_node;	/* topic->lock */
	struct list_head retained;	/* entries within depth, topic->lock */
	unsigned int nr_retained;
	struct agnocast_qos qos;
	u64 sub_gen_seen;		/* topic->lock */
	bool linked;			/* agnocast_lock and topic->lock */
};

struct agnocast_sub {
	struct kref ref;
	u32 id;
	unsigned int slot;		/* bit in entries' holders */
	struct agnocast_proc *proc;	/* a reference */
	struct agnocast_topic *topic;	/* a reference, once linked */
	struct list_head proc_node;	/* agnocast_lock */
	struct list_head topic_node;	/* topic->lock */
	struct agnocast_qos qos;
	u64 join_seq;			/* topic->last_seq when it joined */
	u64 cursor;			/* entries up to here were delivered or skipped */
	u64 pub_gen_seen;		/* topic->lock */
	unsigned int nr_held;
	unsigned int nr_queued;		/* reliable: entries in its queue */
	bool linked;			/* agnocast_lock and topic->lock */
	bool pending;			/* topic->lock; read by poll */
	bool hup;			/* topic->lock; read by poll */
	wait_queue_head_t wq;
};

/* One published message: an entry of a topic. */
struct agnocast_msg {
	struct list_head topic_node;	/* topic->entries */
	struct list_head pub_node;	/* pub->retained, then proc->reclaimable */
	struct agnocast_proc *proc;	/* owner of the pool, a reference */
	u64 seq, addr, len, timestamp_ns;
	u64 holders;			/* subscriber slots holding a reference */
	u64 queued;			/* reliable subscribers' slots it waits for */
	u32 pub_id;
	bool retained;
	bool transient_local;
};

/* main.c */
extern struct mutex agnocast_lock;
bool agnocast_topic_name_ok(const char *name, int *err);
bool agnocast_qos_ok(const struct agnocast_qos *qos, u32 flags);

/* process.c */
struct agnocast_proc *agnocast_proc_current(void);
void agnocast_proc_put(struct agnocast_proc *proc);
u64 agnocast_pool_size(const struct agnocast_proc *proc);
void agnocast_pool_info(const struct agnocast_proc *proc,
			struct agnocast_pool_info *info);
void agnocast_proc_unhash(struct agnocast_proc *proc);
long agnocast_add_process(void __user *arg);
long agnocast_attach_pool(void __user *arg);
extern const struct mmu_notifier_ops agnocast_mn_ops;

/* range.c */
extern struct list_head agnocast_procs;
extern unsigned int agnocast_nr_procs;
int agnocast_range_reserve(struct agnocast_proc *proc);
void agnocast_range_unreserve(struct agnocast_proc *proc);
void agnocast_range_commit(struct agnocast_proc *proc);
void agnocast_range_maybe_release(struct agnocast_proc *proc);
bool agnocast_slot_covers(const struct agnocast_proc *p, u64 addr);
struct agnocast_proc *agnocast_pool_find(pid_t pid, u64 addr);
void agnocast_pool_unlink(struct file *file, const struct cred *cred);

/* mapping.c */
extern unsigned int agnocast_nr_mappings;
long agnocast_map_pool(void __user *arg);
long agnocast_unmap_pool(void __user *arg);
void agnocast_mapping_drop_all(struct agnocast_proc *mapper);

/* topic.c */
extern struct hlist_head agnocast_topics[64];
extern unsigned int agnocast_nr_topics;
struct agnocast_topic *agnocast_topic_find(const char *name,
					   const struct ipc_namespace *ns);
struct agnocast_topic *agnocast_topic_get_or_create(const char *name);
void agnocast_topic_maybe_remove(struct agnocast_topic *topic);
void agnocast_topic_put(struct agnocast_topic *topic);
const struct ipc_namespace *agnocast_current_ipc_ns(void);

/* endpoint.c */
extern unsigned int agnocast_nr_pubs, agnocast_nr_subs;
long agnocast_add_publisher(void __user *arg);
long agnocast_add_subscriber(void __user *arg);
long agnocast_remove_publisher(void __user *arg);
long agnocast_remove_subscriber(void __user *arg);
long agnocast_endpoint_state(void __user *arg, bool is_pub);
struct agnocast_pub *agnocast_pub_get(u32 id, struct agnocast_proc *proc);
struct agnocast_sub *agnocast_sub_get(u32 id, struct agnocast_proc *proc);
void agnocast_pub_put(struct agnocast_pub *pub);
void agnocast_sub_put(struct agnocast_sub *sub);
void agnocast_pub_remove(struct agnocast_pub *pub);
void agnocast_sub_remove(struct agnocast_sub *sub);

/* message.c */
extern atomic_t agnocast_nr_entries;
int agnocast_msg_cache_init(void);
void agnocast_msg_cache_exit(void);
long agnocast_publish(void __user *arg);
long agnocast_receive(void __user *arg);
long agnocast_take(void __user *arg);
long agnocast_release(void __user *arg);
long agnocast_reclaim(void __user *arg);
void agnocast_entry_unretain(struct agnocast_topic *topic,
			     struct agnocast_pub *pub,
			     struct agnocast_msg *entry);
void agnocast_entry_unhold(struct agnocast_topic *topic,
			   struct agnocast_sub *sub,
			   struct agnocast_msg *entry);
void agnocast_sub_drop_entries(struct agnocast_sub *sub);
bool agnocast_sub_pending(const struct agnocast_sub *sub);
unsigned int agnocast_sub_nr_pending(const struct agnocast_sub *sub);
void agnocast_sub_set_pending(struct agnocast_sub *sub, bool pending);
void agnocast_reclaim_drain(struct agnocast_proc *proc);

/* exit.c */
void agnocast_proc_exited(struct agnocast_proc *proc);

/* status.c */
int agnocast_status_init(void);
void agnocast_status_exit(void);
long agnocast_list_topics(void __user *arg);
long agnocast_topic_info(void __user *arg);
long agnocast_list_processes(void __user *arg);

#endif /* AGNOCAST_INTERNAL_H */
