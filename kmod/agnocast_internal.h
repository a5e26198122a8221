/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agnocast module internals.
 *
 * Files
 *   main.c     device, ioctl dispatch, argument validation, module init/exit
 *   process.c  joined processes, address ranges, pools, mappings, reclaim
 *   topic.c    topics, publishers, subscribers, entries, the pollable fd
 *   exit.c     what happens when a process's mm goes away
 *   status.c   /proc/driver/agnocast and the introspection ioctls
 *
 * Lock order, outermost first. Never take an outer lock while holding an
 * inner one.
 *   1. agnocast_lock (mutex): the process list and address ranges, the
 *      topic table, each process's publisher/subscriber/mapping lists,
 *      pool attachment, the global counters.
 *   2. topic->lock (mutex): the topic's publishers, subscribers and entries,
 *      entries' holders and retained state, subscribers' cursors and their
 *      waiters' pending flags.
 *   3. Leaf spinlocks, never nested in each other: agnocast_mm_lock (the
 *      mm -> process hash), proc->reclaim_lock (a process's reclaimable
 *      entries), the xarray locks of the id tables, wait queue locks.
 * mmap_lock may be taken while holding 1 or 2 (faults in copy_*_user,
 * find_vma, mmu_notifier_get); it is never held when we take 1 or 2: the mm
 * release callback runs without it. User memory is never touched while a
 * topic lock is held, so a faulting (e.g. userfaultfd) buffer cannot stall
 * other processes' traffic.
 *
 * Lifetimes (kref)
 *   proc:  +1 while joined (dropped when its mm goes away), +1 per publisher
 *          and subscriber, +1 per entry of its pool (live or reclaimable),
 *          +1 per mapping that names it as owner. The last put queues the
 *          free work, which frees the address range, unlinks the pool's
 *          shared memory name and drops the module reference.
 *   topic: +1 while in the table (dropped when it has no endpoint left),
 *          +1 per publisher and subscriber.
 *   pub/sub: +1 while registered, +1 per in-flight lookup by id.
 *   waiter: +1 from its subscriber, +1 from its file; the wait queue lives
 *          as long as the file, as eventfd's does.
 */
#ifndef AGNOCAST_INTERNAL_H
#define AGNOCAST_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "uapi/agnocast.h"

#define AGNOCAST_VERSION_MAJOR	0
#define AGNOCAST_VERSION_MINOR	1
#define AGNOCAST_VERSION_PATCH	0

struct ipc_namespace;
struct pid;

/* Watches one mm; freed by the mmu notifier core after its SRCU period. */
struct agnocast_mm_watch {
	struct mmu_notifier mn;
	struct agnocast_proc *proc;	/* NULL once the mm went away */
};

struct agnocast_proc {
	struct kref ref;
	struct mm_struct *mm;		/* identity while joined; never deref'd */
	struct hlist_node mm_node;	/* agnocast_mm_hash, while joined */
	struct list_head addr_node;	/* agnocast_procs, sorted by pool_addr */
	struct agnocast_mm_watch *watch;
	struct pid *tgid;
	u64 pool_addr;
	u64 pool_max;			/* reserved length */
	u64 slot_len;			/* pool_max rounded to AGNOCAST_POOL_ALIGN */
	struct file *pool_file;		/* set once by ATTACH_POOL */
	bool joined;			/* agnocast_lock */
	struct list_head pubs;		/* agnocast_lock */
	struct list_head subs;		/* agnocast_lock */
	struct list_head mappings;	/* this process maps others: agnocast_lock */
	unsigned int nr_pubs, nr_subs;	/* agnocast_lock */
	unsigned int nr_mappers;	/* others map this one: agnocast_lock */
	spinlock_t reclaim_lock;
	bool exited;			/* reclaim_lock */
	struct list_head reclaimable;	/* entries, reclaim_lock */
	unsigned int nr_reclaimable;	/* reclaim_lock */
	struct work_struct free_work;
};

struct agnocast_mapping {
	struct list_head node;		/* mapper's proc->mappings */
	struct agnocast_proc *owner;
	unsigned int count;
};

struct agnocast_topic {
	struct kref ref;
	struct hlist_node node;		/* agnocast_topics */
	const struct ipc_namespace *ns;	/* compared, never dereferenced */
	struct mutex lock;
	struct list_head pubs;
	struct list_head subs;
	struct list_head entries;	/* by seq, oldest first */
	unsigned int nr_pubs, nr_subs, nr_entries;
	u64 sub_slots;			/* bitmap of subscriber slots in use */
	u64 last_seq;
	char name[AGNOCAST_TOPIC_NAME_MAX];
};

struct agnocast_pub {
	struct kref ref;
	u32 id;
	struct agnocast_proc *proc;
	struct agnocast_topic *topic;
	struct list_head proc_node;	/* agnocast_lock */
	struct list_head topic_node;	/* topic->lock */
	struct list_head retained;	/* entries within depth, topic->lock */
	unsigned int nr_retained;
	struct agnocast_qos qos;
	bool removed;			/* topic->lock */
};

struct agnocast_waiter {
	struct kref ref;
	wait_queue_head_t wq;
	bool pending;			/* written under topic->lock */
	bool hup;
};

struct agnocast_sub {
	struct kref ref;
	u32 id;
	unsigned int slot;		/* bit in entries' holders */
	struct agnocast_proc *proc;
	struct agnocast_topic *topic;
	struct agnocast_waiter *waiter;
	struct list_head proc_node;	/* agnocast_lock */
	struct list_head topic_node;	/* topic->lock */
	struct agnocast_qos qos;
	u64 join_seq;			/* topic->last_seq when it joined */
	u64 cursor;			/* entries up to here were delivered or skipped */
	unsigned int nr_held;
	bool removed;			/* topic->lock */
};

/* One published message: an entry of a topic. */
struct agnocast_msg {
	struct list_head topic_node;	/* topic->entries */
	struct list_head pub_node;	/* pub->retained, then proc->reclaimable */
	struct agnocast_proc *proc;	/* owner of the pool */
	u64 seq, addr, len, timestamp_ns;
	u64 holders;			/* subscriber slots holding a reference */
	u32 pub_id;
	bool retained;
	bool transient_local;
};

/* main.c */
extern struct mutex agnocast_lock;
extern struct workqueue_struct *agnocast_wq;
bool agnocast_topic_name_ok(const char *name, int *err);

/* process.c */
void agnocast_process_exit(void);
struct agnocast_proc *agnocast_proc_current(void);
void agnocast_proc_put(struct agnocast_proc *proc);
u64 agnocast_pool_size(const struct agnocast_proc *proc);
void agnocast_pool_info(const struct agnocast_proc *proc,
			struct agnocast_pool_info *info);
void agnocast_reclaim_queue(struct agnocast_msg *entry);
void agnocast_entry_free(struct agnocast_msg *entry);
void agnocast_mapping_drop_all(struct agnocast_proc *proc);
void agnocast_reclaim_drain(struct agnocast_proc *proc);
void agnocast_proc_unhash(struct agnocast_proc *proc);
long agnocast_add_process(void __user *arg);
long agnocast_attach_pool(void __user *arg);
long agnocast_map_pool(void __user *arg, bool map);
long agnocast_reclaim(void __user *arg);
unsigned int agnocast_reclaim_pop(struct agnocast_proc *proc,
				  struct list_head *out, unsigned int max);
void agnocast_reclaim_unpop(struct agnocast_proc *proc,
			    struct list_head *list, unsigned int n);
extern struct list_head agnocast_procs;
extern const struct mmu_notifier_ops agnocast_mn_ops;

/* topic.c */
long agnocast_add_publisher(void __user *arg);
long agnocast_add_subscriber(void __user *arg);
long agnocast_remove_publisher(void __user *arg);
long agnocast_remove_subscriber(void __user *arg);
long agnocast_publish(void __user *arg);
long agnocast_receive(void __user *arg);
long agnocast_take(void __user *arg);
long agnocast_release(void __user *arg);
void agnocast_pub_remove(struct agnocast_pub *pub);
void agnocast_sub_remove(struct agnocast_sub *sub);
struct agnocast_topic *agnocast_topic_find(const char *name,
					   const struct ipc_namespace *ns);
extern struct hlist_head agnocast_topics[64];
extern unsigned int agnocast_nr_topics, agnocast_nr_pubs, agnocast_nr_subs;
extern atomic_t agnocast_nr_entries;

/* exit.c */
void agnocast_proc_exited(struct agnocast_proc *proc);

/* status.c */
int agnocast_status_init(void);
void agnocast_status_exit(void);
long agnocast_list_topics(void __user *arg);
long agnocast_topic_info(void __user *arg);
long agnocast_list_processes(void __user *arg);
extern unsigned int agnocast_nr_procs, agnocast_nr_mappings;

#endif /* AGNOCAST_INTERNAL_H */
