// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: what is registered, for people (/proc/driver/agnocast) and for
 * programs (the introspection ioctls). Both show the topics of the caller's
 * IPC namespace and the processes visible in its pid namespace. Neither
 * holds a lock while it touches user memory, and what the ioctls allocate
 * is bounded by what exists, not by what the caller asks for.
 */
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/mm.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

#define AGNOCAST_PROC_NAME "driver/agnocast"

static unsigned int agnocast_nr_reclaimable(struct agnocast_proc *proc)
{
	unsigned int n;

	spin_lock(&proc->reclaim_lock);
	n = proc->nr_reclaimable;
	spin_unlock(&proc->reclaim_lock);
	return n;
}

/* One topic: its endpoints and at most status_entries_max entries. */
static void agnocast_show_topic(struct seq_file *m, struct agnocast_topic *topic)
{
	unsigned int shown = 0, max = READ_ONCE(agnocast_status_entries_max);
	struct agnocast_msg *msg;
	struct agnocast_pub *pub;
	struct agnocast_sub *sub;

	mutex_lock(&topic->lock);
	seq_printf(m, "topic %s publishers %u subscribers %u entries %u last-seq %llu\n",
		   topic->name, topic->nr_pubs, topic->nr_subs,
		   topic->nr_entries, topic->last_seq);
	list_for_each_entry(pub, &topic->pubs, topic_node)
		seq_printf(m, "  publisher id %u pid %d depth %u transient-local %d retained %u\n",
			   pub->id, pid_vnr(pub->proc->tgid), pub->qos.depth,
			   !!(pub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL),
			   pub->nr_retained);
	list_for_each_entry(sub, &topic->subs, topic_node)
		seq_printf(m, "  subscriber id %u pid %d depth %u transient-local %d held %u pending %d reliable %d queued %u\n",
			   sub->id, pid_vnr(sub->proc->tgid), sub->qos.depth,
			   !!(sub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL),
			   sub->nr_held, READ_ONCE(sub->pending),
			   !!(sub->qos.flags & AGNOCAST_QOS_RELIABLE),
			   sub->nr_queued);
	list_for_each_entry(msg, &topic->entries, topic_node) {
		if (shown++ == max)
			break;
		seq_printf(m, "  entry seq %llu publisher %u pid %d addr 0x%llx len %llu refs %u retained %d\n",
			   msg->seq, msg->pub_id, pid_vnr(msg->proc->tgid),
			   msg->addr, msg->len, (unsigned int)hweight64(msg->holders),
			   msg->retained);
	}
	if (topic->nr_entries > max)
		seq_printf(m, "  more-entries count %u\n",
			   topic->nr_entries - max);
	mutex_unlock(&topic->lock);
}

static void agnocast_show_process(struct seq_file *m, struct agnocast_proc *proc)
{
	pid_t pid = pid_vnr(proc->tgid);

	if (!pid || proc->state == AGNOCAST_RESERVING)
		return;
	seq_printf(m, "process pid %d uid %u addr 0x%llx size %llu max %llu state %s attached %d publishers %u subscribers %u mappers %u reclaimable %u\n",
		   pid, from_kuid_munged(current_user_ns(), proc->uid),
		   proc->pool_addr, agnocast_pool_size(proc), proc->pool_max,
		   proc->state == AGNOCAST_LIVE ? "live" : "exited",
		   !!proc->pool_file, proc->nr_pubs, proc->nr_subs,
		   proc->nr_mappers, agnocast_nr_reclaimable(proc));
}

static void agnocast_show_header(struct seq_file *m)
{
	seq_printf(m, "agnocast %d.%d.%d abi %d\n", AGNOCAST_VERSION_MAJOR,
		   AGNOCAST_VERSION_MINOR, AGNOCAST_VERSION_PATCH,
		   AGNOCAST_ABI_VERSION);
	seq_printf(m, "totals processes %u topics %u publishers %u subscribers %u entries %d mappings %u\n",
		   agnocast_nr_procs, agnocast_nr_topics, agnocast_nr_pubs,
		   agnocast_nr_subs, atomic_read(&agnocast_nr_entries),
		   agnocast_nr_mappings);
}

/*
 * The status file is a sequence of records: the header, each process, each
 * topic of the reader's IPC namespace. agnocast_lock is held from ->start
 * to ->stop, which seq_file calls around each buffer it fills, so no read
 * holds it for long however much there is to print. A record is found
 * again by its position: records added or removed between two read()
 * calls may shift what the second one shows.
 */
/* What the record at the iterator's position is. */
struct agnocast_status_iter {
	bool topic;
};

static void *agnocast_status_at(struct seq_file *m, loff_t pos)
{
	const struct ipc_namespace *ns = agnocast_current_ipc_ns();
	struct agnocast_status_iter *it = m->private;
	struct agnocast_topic *topic;
	struct agnocast_proc *proc;
	unsigned int bkt;

	if (pos == 0)
		return SEQ_START_TOKEN;
	pos--;
	it->topic = false;
	list_for_each_entry(proc, &agnocast_procs, addr_node)
		if (pos-- == 0)
			return proc;
	it->topic = true;
	hash_for_each(agnocast_topics, bkt, topic, node)
		if (topic->ns == ns && pos-- == 0)
			return topic;
	return NULL;
}

static void *agnocast_status_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&agnocast_lock);
	return agnocast_status_at(m, *pos);
}

static void *agnocast_status_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return agnocast_status_at(m, *pos);
}

static void agnocast_status_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&agnocast_lock);
}

static int agnocast_status_show(struct seq_file *m, void *v)
{
	struct agnocast_status_iter *it = m->private;

	if (v == SEQ_START_TOKEN)
		agnocast_show_header(m);
	else if (it->topic)
		agnocast_show_topic(m, v);
	else
		agnocast_show_process(m, v);
	return 0;
}

static const struct seq_operations agnocast_status_ops = {
	.start = agnocast_status_start,
	.next = agnocast_status_next,
	.stop = agnocast_status_stop,
	.show = agnocast_status_show,
};

int agnocast_status_init(void)
{
	return proc_create_seq_private(AGNOCAST_PROC_NAME, 0444, NULL,
				       &agnocast_status_ops,
				       sizeof(struct agnocast_status_iter),
				       NULL) ? 0 : -ENOMEM;
}

void agnocast_status_exit(void)
{
	remove_proc_entry(AGNOCAST_PROC_NAME, NULL);
}

static bool agnocast_cap_ok(u32 cap)
{
	return cap <= AGNOCAST_ARRAY_MAX;
}

/*
 * An output array: the answer fills min(total, cap) items and reports the
 * total, so the buffer must hold every item there is up to cap. It is
 * sized by a count of at least every item the walk can find (*nr, written
 * under agnocast_lock): read without the lock to allocate, checked under
 * it before the walk, so the walk runs once. After a few tries (others keep
 * adding) the buffer is allocated under the lock, sized by what exists
 * there: bounded by that and by AGNOCAST_ARRAY_MAX, not by what the caller
 * asks.
 */
struct agnocast_out {
	void *buf;
	size_t size;		/* of an item */
	u32 cap;		/* the caller's */
	u32 len;		/* items buf holds */
};

#define AGNOCAST_OUT_TRIES	3

/* A fresh buffer for nr items, at most cap (none on failure). */
static int agnocast_out_alloc(struct agnocast_out *o, unsigned int nr)
{
	kvfree(o->buf);
	o->len = min_t(u32, o->cap, nr);
	o->buf = kvcalloc(o->len ?: 1, o->size, GFP_KERNEL_ACCOUNT);
	return o->buf ? 0 : -ENOMEM;
}

/*
 * Lock with a buffer for min(cap, *nr) items. Returns with agnocast_lock
 * held, or an errno without it (and no buffer).
 */
static int agnocast_out_lock(struct agnocast_out *o, const unsigned int *nr)
{
	int tries, err;

	for (tries = 1; tries < AGNOCAST_OUT_TRIES; tries++) {
		err = agnocast_out_alloc(o, READ_ONCE(*nr));
		if (err)
			return err;
		mutex_lock(&agnocast_lock);
		if (o->len >= min_t(u32, o->cap, *nr))
			return 0;
		mutex_unlock(&agnocast_lock);
	}
	mutex_lock(&agnocast_lock);
	err = agnocast_out_alloc(o, *nr);
	if (err)
		mutex_unlock(&agnocast_lock);
	return err;
}

/* Copy out min(total, len) items and the total; frees the buffer. */
static long agnocast_out_put(struct agnocast_out *o, u64 uptr, u32 total,
			     u32 __user *unr)
{
	long err = 0;

	if (copy_to_user(u64_to_user_ptr(uptr), o->buf,
			 min(total, o->len) * o->size) ||
	    put_user(total, unr))
		err = -EFAULT;
	kvfree(o->buf);
	return err;
}

long agnocast_list_topics(void __user *arg)
{
	const struct ipc_namespace *ns = agnocast_current_ipc_ns();
	struct agnocast_list_topics_args __user *uargs = arg;
	struct agnocast_list_topics_args args;
	struct agnocast_out o = { .size = sizeof(struct agnocast_topic_name) };
	struct agnocast_topic_name *names;
	struct agnocast_topic *topic;
	unsigned int bkt;
	u32 total;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_cap_ok(args.topics_cap))
		return -EINVAL;
	o.cap = args.topics_cap;
	err = agnocast_out_lock(&o, &agnocast_nr_topics);
	if (err)
		return err;
	names = o.buf;
	total = 0;
	hash_for_each(agnocast_topics, bkt, topic, node) {
		if (topic->ns != ns)
			continue;
		if (total < o.len)
			strscpy(names[total].name, topic->name,
				sizeof(names[total].name));
		total++;
	}
	mutex_unlock(&agnocast_lock);
	return agnocast_out_put(&o, args.topics, total, &uargs->nr_topics);
}

static void agnocast_endpoint_info(struct agnocast_endpoint_info *info, u32 id,
				   struct agnocast_proc *proc,
				   const struct agnocast_qos *qos, u32 count)
{
	memset(info, 0, sizeof(*info));
	info->id = id;
	info->pid = pid_vnr(proc->tgid);
	info->qos = *qos;
	info->count = count;
}

long agnocast_topic_info(void __user *arg)
{
	struct agnocast_topic_info_args __user *uargs = arg;
	struct agnocast_endpoint_info *pubs = NULL, *subs = NULL;
	struct agnocast_topic_info_args args;
	struct agnocast_topic *topic;
	struct agnocast_pub *pub;
	struct agnocast_sub *sub;
	u32 np = 0, ns = 0;
	int err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_topic_name_ok(args.topic, &err))
		return err;
	if (!agnocast_cap_ok(args.pubs_cap) || !agnocast_cap_ok(args.subs_cap))
		return -EINVAL;
	pubs = kvcalloc(min_t(u32, args.pubs_cap, AGNOCAST_TOPIC_PUBS_MAX) ?: 1,
			sizeof(*pubs), GFP_KERNEL_ACCOUNT);
	subs = kvcalloc(min_t(u32, args.subs_cap, AGNOCAST_TOPIC_SUBS_MAX) ?: 1,
			sizeof(*subs), GFP_KERNEL_ACCOUNT);
	if (!pubs || !subs) {
		err = -ENOMEM;
		goto out;
	}
	mutex_lock(&agnocast_lock);
	topic = agnocast_topic_find(args.topic, agnocast_current_ipc_ns());
	if (!topic) {
		mutex_unlock(&agnocast_lock);
		err = -ENOENT;
		goto out;
	}
	mutex_lock(&topic->lock);
	list_for_each_entry(pub, &topic->pubs, topic_node) {
		if (np < min_t(u32, args.pubs_cap, AGNOCAST_TOPIC_PUBS_MAX))
			agnocast_endpoint_info(&pubs[np], pub->id, pub->proc,
					       &pub->qos, pub->nr_retained);
		np++;
	}
	list_for_each_entry(sub, &topic->subs, topic_node) {
		if (ns < min_t(u32, args.subs_cap, AGNOCAST_TOPIC_SUBS_MAX))
			agnocast_endpoint_info(&subs[ns], sub->id, sub->proc,
					       &sub->qos, sub->nr_held);
		ns++;
	}
	args.nr_pubs = np;
	args.nr_subs = ns;
	args.nr_entries = topic->nr_entries;
	args.last_seq = topic->last_seq;
	mutex_unlock(&topic->lock);
	mutex_unlock(&agnocast_lock);

	err = 0;
	if (copy_to_user(u64_to_user_ptr(args.pubs), pubs,
			 min(np, args.pubs_cap) * sizeof(*pubs)) ||
	    copy_to_user(u64_to_user_ptr(args.subs), subs,
			 min(ns, args.subs_cap) * sizeof(*subs)) ||
	    copy_to_user(&uargs->nr_pubs, &args.nr_pubs,
			 sizeof(args) - offsetof(typeof(args), nr_pubs)))
		err = -EFAULT;
out:
	kvfree(pubs);
	kvfree(subs);
	return err;
}

static void agnocast_process_info(const struct agnocast_proc *proc,
				  struct agnocast_process_info *info)
{
	agnocast_pool_info(proc, &info->pool);
	info->flags = (proc->state == AGNOCAST_LIVE ? 0 : AGNOCAST_PROC_EXITED) |
		      (proc->pool_file ? AGNOCAST_PROC_ATTACHED : 0);
	info->nr_publishers = proc->nr_pubs;
	info->nr_subscribers = proc->nr_subs;
	info->nr_mappers = proc->nr_mappers;
}

long agnocast_list_processes(void __user *arg)
{
	struct agnocast_list_processes_args __user *uargs = arg;
	struct agnocast_list_processes_args args;
	struct agnocast_out o = { .size = sizeof(struct agnocast_process_info) };
	struct agnocast_process_info *infos;
	struct agnocast_proc *proc;
	u32 total;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_cap_ok(args.procs_cap))
		return -EINVAL;
	o.cap = args.procs_cap;
	/* agnocast_nr_procs counts every one the walk may list. */
	err = agnocast_out_lock(&o, &agnocast_nr_procs);
	if (err)
		return err;
	infos = o.buf;
	total = 0;
	list_for_each_entry(proc, &agnocast_procs, addr_node) {
		if (!pid_vnr(proc->tgid) || proc->state == AGNOCAST_RESERVING)
			continue;
		if (total < o.len)
			agnocast_process_info(proc, &infos[total]);
		total++;
	}
	mutex_unlock(&agnocast_lock);
	return agnocast_out_put(&o, args.procs, total, &uargs->nr_procs);
}
