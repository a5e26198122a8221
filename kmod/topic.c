// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: topics, publishers, subscribers and entries.
 *
 * A topic is a name in an IPC namespace. Its entries form one list ordered
 * by seq. An entry is "retained" while it is among the newest qos.depth
 * entries of its publisher, and "held" by the subscribers whose slot bits
 * are set in entry->holders. When it is neither, it leaves the topic and
 * goes to its owner's reclaim queue.
 *
 * A subscriber's cursor is the seq up to which entries were delivered to it
 * or skipped; everything newer is pending. Entries older than the subscriber
 * (seq <= join_seq) are visible only to a transient-local subscriber, and
 * only if a transient-local publisher still retains them.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/jhash.h>
#include <linux/nsproxy.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "agnocast_internal.h"

struct hlist_head agnocast_topics[64];		/* agnocast_lock */
unsigned int agnocast_nr_topics, agnocast_nr_pubs, agnocast_nr_subs;
atomic_t agnocast_nr_entries = ATOMIC_INIT(0);

static DEFINE_XARRAY_ALLOC1(agnocast_pub_ids);
static DEFINE_XARRAY_ALLOC1(agnocast_sub_ids);
static u32 agnocast_pub_next, agnocast_sub_next;

/*
 * Topic namespaces: the IPC namespace pointer is only compared. The module
 * cannot hold a reference on it (put_ipc_ns is not exported on every
 * kernel); a topic lives only while a process registered from that
 * namespace keeps an endpoint on it.
 */
static const struct ipc_namespace *agnocast_current_ns(void)
{
	return current->nsproxy->ipc_ns;
}

static u32 agnocast_topic_hash(const char *name, const struct ipc_namespace *ns)
{
	return jhash(name, strlen(name), (u32)(unsigned long)ns) %
	       ARRAY_SIZE(agnocast_topics);
}

/* agnocast_lock held */
struct agnocast_topic *agnocast_topic_find(const char *name,
					   const struct ipc_namespace *ns)
{
	struct agnocast_topic *topic;

	hlist_for_each_entry(topic, &agnocast_topics[agnocast_topic_hash(name, ns)], node)
		if (topic->ns == ns && strcmp(topic->name, name) == 0)
			return topic;
	return NULL;
}

static struct agnocast_topic *agnocast_topic_get_or_create(const char *name)
{
	const struct ipc_namespace *ns = agnocast_current_ns();
	struct agnocast_topic *topic = agnocast_topic_find(name, ns);

	if (topic) {
		kref_get(&topic->ref);
		return topic;
	}
	topic = kzalloc(sizeof(*topic), GFP_KERNEL);
	if (!topic)
		return NULL;
	kref_init(&topic->ref);		/* the table's reference */
	kref_get(&topic->ref);		/* the caller's */
	mutex_init(&topic->lock);
	INIT_LIST_HEAD(&topic->pubs);
	INIT_LIST_HEAD(&topic->subs);
	INIT_LIST_HEAD(&topic->entries);
	topic->ns = ns;
	strscpy(topic->name, name, sizeof(topic->name));
	hlist_add_head(&topic->node, &agnocast_topics[agnocast_topic_hash(name, ns)]);
	agnocast_nr_topics++;
	return topic;
}

static void agnocast_topic_free(struct kref *ref)
{
	struct agnocast_topic *topic = container_of(ref, struct agnocast_topic, ref);

	WARN_ON(!list_empty(&topic->entries));
	mutex_destroy(&topic->lock);
	kfree(topic);
}

static void agnocast_topic_put(struct agnocast_topic *topic)
{
	kref_put(&topic->ref, agnocast_topic_free);
}

/* Drop the table's reference once no endpoint is left; agnocast_lock held. */
static void agnocast_topic_maybe_remove(struct agnocast_topic *topic)
{
	if (topic->nr_pubs || topic->nr_subs || hlist_unhashed(&topic->node))
		return;
	hlist_del_init(&topic->node);
	agnocast_nr_topics--;
	agnocast_topic_put(topic);
}

static void agnocast_pub_free(struct kref *ref)
{
	struct agnocast_pub *pub = container_of(ref, struct agnocast_pub, ref);

	agnocast_topic_put(pub->topic);
	agnocast_proc_put(pub->proc);
	kfree(pub);
}

static void agnocast_pub_put(struct agnocast_pub *pub)
{
	kref_put(&pub->ref, agnocast_pub_free);
}

static void agnocast_waiter_free(struct kref *ref)
{
	kfree(container_of(ref, struct agnocast_waiter, ref));
}

static void agnocast_waiter_put(struct agnocast_waiter *waiter)
{
	kref_put(&waiter->ref, agnocast_waiter_free);
}

static void agnocast_sub_free(struct kref *ref)
{
	struct agnocast_sub *sub = container_of(ref, struct agnocast_sub, ref);

	agnocast_waiter_put(sub->waiter);
	agnocast_topic_put(sub->topic);
	agnocast_proc_put(sub->proc);
	kfree(sub);
}

static void agnocast_sub_put(struct agnocast_sub *sub)
{
	kref_put(&sub->ref, agnocast_sub_free);
}

/*
 * Look up an endpoint of the caller by id: ENOENT if unknown, EPERM if it
 * belongs to another process. Returns a reference.
 */
static void *agnocast_endpoint_get(struct xarray *ids, u32 id,
				   struct agnocast_proc *proc, bool is_pub)
{
	struct agnocast_pub *pub = NULL;
	struct agnocast_sub *sub = NULL;
	void *ep;

	xa_lock(ids);
	ep = xa_load(ids, id);
	if (ep) {
		if (is_pub) {
			pub = ep;
			kref_get(&pub->ref);
		} else {
			sub = ep;
			kref_get(&sub->ref);
		}
	}
	xa_unlock(ids);
	if (!ep)
		return ERR_PTR(-ENOENT);
	if ((is_pub ? pub->proc : sub->proc) == proc)
		return ep;
	if (is_pub)
		agnocast_pub_put(pub);
	else
		agnocast_sub_put(sub);
	return ERR_PTR(-EPERM);
}

static struct agnocast_pub *agnocast_pub_get(u32 id, struct agnocast_proc *proc)
{
	return agnocast_endpoint_get(&agnocast_pub_ids, id, proc, true);
}

static struct agnocast_sub *agnocast_sub_get(u32 id, struct agnocast_proc *proc)
{
	return agnocast_endpoint_get(&agnocast_sub_ids, id, proc, false);
}

/* The entry is neither retained nor held: it leaves the topic. */
static void agnocast_entry_unlink(struct agnocast_topic *topic,
				  struct agnocast_msg *entry)
{
	list_del(&entry->topic_node);
	topic->nr_entries--;
	agnocast_reclaim_queue(entry);
}

static void agnocast_entry_unretain(struct agnocast_topic *topic,
				    struct agnocast_pub *pub,
				    struct agnocast_msg *entry)
{
	list_del_init(&entry->pub_node);
	pub->nr_retained--;
	entry->retained = false;
	if (!entry->holders)
		agnocast_entry_unlink(topic, entry);
}

static void agnocast_entry_unhold(struct agnocast_topic *topic,
				  struct agnocast_sub *sub,
				  struct agnocast_msg *entry)
{
	entry->holders &= ~BIT_ULL(sub->slot);
	sub->nr_held--;
	if (!entry->holders && !entry->retained)
		agnocast_entry_unlink(topic, entry);
}

/* topic->lock held */
static bool agnocast_entry_visible(const struct agnocast_sub *sub,
				   const struct agnocast_msg *entry)
{
	if (entry->seq > sub->join_seq)
		return true;
	return (sub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL) &&
	       entry->transient_local && entry->retained;
}

/* Is anything visible newer than the cursor? topic->lock held. */
static bool agnocast_sub_pending(const struct agnocast_sub *sub)
{
	const struct agnocast_msg *entry;

	list_for_each_entry_reverse(entry, &sub->topic->entries, topic_node) {
		if (entry->seq <= sub->cursor)
			break;
		if (agnocast_entry_visible(sub, entry))
			return true;
	}
	return false;
}

static void agnocast_sub_set_pending(struct agnocast_sub *sub, bool pending)
{
	struct agnocast_waiter *waiter = sub->waiter;

	if (pending == READ_ONCE(waiter->pending))
		return;
	WRITE_ONCE(waiter->pending, pending);
	if (pending)
		wake_up_interruptible_poll(&waiter->wq, EPOLLIN | EPOLLRDNORM);
}

/* Remove a publisher; agnocast_lock held. Its held entries stay readable. */
void agnocast_pub_remove(struct agnocast_pub *pub)
{
	struct agnocast_topic *topic = pub->topic;
	struct agnocast_msg *entry, *tmp;
	struct agnocast_sub *sub;

	xa_erase(&agnocast_pub_ids, pub->id);
	list_del(&pub->proc_node);
	pub->proc->nr_pubs--;
	agnocast_nr_pubs--;

	mutex_lock(&topic->lock);
	list_del(&pub->topic_node);
	topic->nr_pubs--;
	pub->removed = true;
	list_for_each_entry_safe(entry, tmp, &pub->retained, pub_node)
		agnocast_entry_unretain(topic, pub, entry);
	/* Transient-local history may have vanished from under a cursor. */
	list_for_each_entry(sub, &topic->subs, topic_node)
		agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
	mutex_unlock(&topic->lock);

	agnocast_topic_maybe_remove(topic);
	agnocast_pub_put(pub);
}

/* Remove a subscriber and drop what it holds; agnocast_lock held. */
void agnocast_sub_remove(struct agnocast_sub *sub)
{
	struct agnocast_topic *topic = sub->topic;
	struct agnocast_msg *entry, *tmp;

	xa_erase(&agnocast_sub_ids, sub->id);
	list_del(&sub->proc_node);
	sub->proc->nr_subs--;
	agnocast_nr_subs--;

	mutex_lock(&topic->lock);
	list_del(&sub->topic_node);
	topic->nr_subs--;
	topic->sub_slots &= ~BIT_ULL(sub->slot);
	sub->removed = true;
	list_for_each_entry_safe(entry, tmp, &topic->entries, topic_node)
		if (entry->holders & BIT_ULL(sub->slot))
			agnocast_entry_unhold(topic, sub, entry);
	WRITE_ONCE(sub->waiter->pending, false);
	WRITE_ONCE(sub->waiter->hup, true);
	wake_up_interruptible_poll(&sub->waiter->wq, EPOLLHUP);
	mutex_unlock(&topic->lock);

	agnocast_topic_maybe_remove(topic);
	agnocast_sub_put(sub);
}

static bool agnocast_qos_ok(const struct agnocast_qos *qos)
{
	return qos->depth >= 1 && qos->depth <= AGNOCAST_DEPTH_MAX &&
	       !(qos->flags & ~AGNOCAST_QOS_FLAGS);
}

/* Distinct pids of the processes with a subscriber; topic->lock held. */
static u32 agnocast_collect_sub_pids(struct agnocast_topic *topic, s32 *pids)
{
	struct agnocast_sub *sub, *prev;
	u32 n = 0;

	list_for_each_entry(sub, &topic->subs, topic_node) {
		bool seen = false;

		list_for_each_entry(prev, &topic->subs, topic_node) {
			if (prev == sub)
				break;
			if (prev->proc == sub->proc) {
				seen = true;
				break;
			}
		}
		if (!seen)
			pids[n++] = pid_vnr(sub->proc->tgid);
	}
	return n;
}

long agnocast_add_publisher(void __user *arg)
{
	struct agnocast_add_publisher_args args;
	struct agnocast_add_publisher_args __user *uargs = arg;
	struct agnocast_topic *topic;
	struct agnocast_proc *proc;
	struct agnocast_pub *pub;
	s32 *pids = NULL;
	int name_err;
	long err;
	u32 n;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_topic_name_ok(args.topic, &name_err))
		return name_err;
	if (!agnocast_qos_ok(&args.qos) || args.reserved ||
	    args.sub_pids_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	pub = kzalloc(sizeof(*pub), GFP_KERNEL);
	pids = kcalloc(AGNOCAST_TOPIC_SUBS_MAX, sizeof(*pids), GFP_KERNEL);
	if (!pub || !pids) {
		err = -ENOMEM;
		goto out_free;
	}
	kref_init(&pub->ref);
	INIT_LIST_HEAD(&pub->retained);
	pub->qos = args.qos;
	pub->proc = proc;

	mutex_lock(&agnocast_lock);
	if (!proc->pool_file || !proc->joined) {
		err = proc->joined ? -ENXIO : -ESRCH;
		goto out_unlock;
	}
	topic = agnocast_topic_get_or_create(args.topic);
	if (!topic) {
		err = -ENOMEM;
		goto out_unlock;
	}
	if (topic->nr_pubs >= AGNOCAST_TOPIC_PUBS_MAX) {
		err = -ENOSPC;
		goto out_topic;
	}
	err = xa_alloc_cyclic(&agnocast_pub_ids, &pub->id, pub,
			      XA_LIMIT(1, INT_MAX), &agnocast_pub_next,
			      GFP_KERNEL);
	if (err < 0)
		goto out_topic;
	err = 0;
	pub->topic = topic;
	list_add_tail(&pub->proc_node, &proc->pubs);
	proc->nr_pubs++;
	agnocast_nr_pubs++;
	mutex_lock(&topic->lock);
	list_add_tail(&pub->topic_node, &topic->pubs);
	topic->nr_pubs++;
	n = agnocast_collect_sub_pids(topic, pids);
	mutex_unlock(&topic->lock);
	mutex_unlock(&agnocast_lock);

	args.publisher_id = pub->id;
	args.nr_sub_pids = n;
	if (copy_to_user(u64_to_user_ptr(args.sub_pids), pids,
			 min(n, args.sub_pids_cap) * sizeof(*pids)) ||
	    copy_to_user(&uargs->nr_sub_pids, &args.nr_sub_pids,
			 2 * sizeof(u32))) {
		mutex_lock(&agnocast_lock);
		agnocast_pub_remove(pub);
		mutex_unlock(&agnocast_lock);
		err = -EFAULT;
	}
	kfree(pids);
	return err;

out_topic:
	agnocast_topic_maybe_remove(topic);
	agnocast_topic_put(topic);
out_unlock:
	mutex_unlock(&agnocast_lock);
out_free:
	kfree(pids);
	kfree(pub);
	agnocast_proc_put(proc);
	return err;
}

/* Distinct pools of the processes with a publisher; topic->lock held. */
static u32 agnocast_collect_pub_pools(struct agnocast_topic *topic,
				      struct agnocast_pool_info *pools)
{
	struct agnocast_pub *pub, *prev;
	u32 n = 0;

	list_for_each_entry(pub, &topic->pubs, topic_node) {
		bool seen = false;

		list_for_each_entry(prev, &topic->pubs, topic_node) {
			if (prev == pub)
				break;
			if (prev->proc == pub->proc) {
				seen = true;
				break;
			}
		}
		if (!seen)
			agnocast_pool_info(pub->proc, &pools[n++]);
	}
	return n;
}

static __poll_t agnocast_sub_poll(struct file *file, poll_table *wait)
{
	struct agnocast_waiter *waiter = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &waiter->wq, wait);
	if (READ_ONCE(waiter->pending))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(waiter->hup))
		mask |= EPOLLHUP;
	return mask;
}

static int agnocast_sub_file_release(struct inode *inode, struct file *file)
{
	agnocast_waiter_put(file->private_data);
	return 0;
}

static const struct file_operations agnocast_sub_fops = {
	.owner = THIS_MODULE,
	.poll = agnocast_sub_poll,
	.release = agnocast_sub_file_release,
	.llseek = noop_llseek,
};

/* Join a subscriber to its topic; agnocast_lock and topic->lock held. */
static void agnocast_sub_link(struct agnocast_topic *topic,
			      struct agnocast_sub *sub)
{
	sub->slot = __ffs64(~topic->sub_slots);
	topic->sub_slots |= BIT_ULL(sub->slot);
	list_add_tail(&sub->topic_node, &topic->subs);
	topic->nr_subs++;
	sub->join_seq = topic->last_seq;
	sub->cursor = (sub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL) ?
		      0 : topic->last_seq;
	agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
}

long agnocast_add_subscriber(void __user *arg)
{
	struct agnocast_add_subscriber_args args;
	struct agnocast_add_subscriber_args __user *uargs = arg;
	struct agnocast_pool_info *pools = NULL;
	struct agnocast_waiter *waiter = NULL;
	struct agnocast_topic *topic;
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	struct file *file;
	int fd, name_err;
	long err;
	u32 n;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_topic_name_ok(args.topic, &name_err))
		return name_err;
	if (!agnocast_qos_ok(&args.qos) || args.pubs_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	sub = kzalloc(sizeof(*sub), GFP_KERNEL);
	waiter = kzalloc(sizeof(*waiter), GFP_KERNEL);
	pools = kcalloc(AGNOCAST_TOPIC_PUBS_MAX, sizeof(*pools), GFP_KERNEL);
	if (!sub || !waiter || !pools) {
		kfree(sub);
		kfree(waiter);
		kfree(pools);
		agnocast_proc_put(proc);
		return -ENOMEM;
	}
	kref_init(&waiter->ref);	/* the subscriber's */
	init_waitqueue_head(&waiter->wq);
	kref_init(&sub->ref);
	sub->waiter = waiter;
	sub->qos = args.qos;
	sub->proc = proc;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto out_free;
	}
	kref_get(&waiter->ref);		/* the file's */
	file = anon_inode_getfile("[agnocast]", &agnocast_sub_fops, waiter,
				  O_RDONLY | O_CLOEXEC);
	if (IS_ERR(file)) {
		agnocast_waiter_put(waiter);
		err = PTR_ERR(file);
		goto out_fd;
	}

	mutex_lock(&agnocast_lock);
	if (!proc->joined) {
		err = -ESRCH;
		goto out_unlock;
	}
	topic = agnocast_topic_get_or_create(args.topic);
	if (!topic) {
		err = -ENOMEM;
		goto out_unlock;
	}
	if (topic->nr_subs >= AGNOCAST_TOPIC_SUBS_MAX) {
		err = -ENOSPC;
		goto out_topic;
	}
	err = xa_alloc_cyclic(&agnocast_sub_ids, &sub->id, sub,
			      XA_LIMIT(1, INT_MAX), &agnocast_sub_next,
			      GFP_KERNEL);
	if (err < 0)
		goto out_topic;
	err = 0;
	sub->topic = topic;
	list_add_tail(&sub->proc_node, &proc->subs);
	proc->nr_subs++;
	agnocast_nr_subs++;
	mutex_lock(&topic->lock);
	agnocast_sub_link(topic, sub);
	n = agnocast_collect_pub_pools(topic, pools);
	mutex_unlock(&topic->lock);
	mutex_unlock(&agnocast_lock);

	args.subscriber_id = sub->id;
	args.nr_pubs = n;
	args.fd = fd;
	if (copy_to_user(u64_to_user_ptr(args.pubs), pools,
			 min(n, args.pubs_cap) * sizeof(*pools)) ||
	    copy_to_user(&uargs->nr_pubs, &args.nr_pubs, 3 * sizeof(u32))) {
		mutex_lock(&agnocast_lock);
		agnocast_sub_remove(sub);
		mutex_unlock(&agnocast_lock);
		fput(file);
		put_unused_fd(fd);
		kfree(pools);
		return -EFAULT;
	}
	fd_install(fd, file);
	kfree(pools);
	return 0;

out_topic:
	agnocast_topic_maybe_remove(topic);
	agnocast_topic_put(topic);
out_unlock:
	mutex_unlock(&agnocast_lock);
	fput(file);
out_fd:
	put_unused_fd(fd);
out_free:
	kfree(pools);
	agnocast_waiter_put(waiter);
	kfree(sub);
	agnocast_proc_put(proc);
	return err;
}

static long agnocast_remove_endpoint(void __user *arg, bool is_pub)
{
	struct agnocast_remove_args args;
	struct agnocast_proc *proc;
	void *ep;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	ep = is_pub ? (void *)agnocast_pub_get(args.id, proc) :
		      (void *)agnocast_sub_get(args.id, proc);
	if (IS_ERR(ep)) {
		agnocast_proc_put(proc);
		return PTR_ERR(ep);
	}
	mutex_lock(&agnocast_lock);
	if (is_pub) {
		struct agnocast_pub *pub = ep;

		/* A concurrent remove of the same id may have won. */
		if (xa_load(&agnocast_pub_ids, pub->id) == pub)
			agnocast_pub_remove(pub);
		else
			err = -ENOENT;
		agnocast_pub_put(pub);
	} else {
		struct agnocast_sub *sub = ep;

		if (xa_load(&agnocast_sub_ids, sub->id) == sub)
			agnocast_sub_remove(sub);
		else
			err = -ENOENT;
		agnocast_sub_put(sub);
	}
	mutex_unlock(&agnocast_lock);
	agnocast_proc_put(proc);
	return err;
}

long agnocast_remove_publisher(void __user *arg)
{
	return agnocast_remove_endpoint(arg, true);
}

long agnocast_remove_subscriber(void __user *arg)
{
	return agnocast_remove_endpoint(arg, false);
}

long agnocast_publish(void __user *arg)
{
	struct agnocast_publish_args args;
	struct agnocast_publish_args __user *uargs = arg;
	struct agnocast_msg *entry, *oldest, *tmp;
	struct agnocast_topic *topic;
	struct agnocast_proc *proc;
	struct agnocast_pub *pub;
	struct agnocast_sub *sub;
	u64 __user *out;
	unsigned int n, i = 0;
	LIST_HEAD(list);
	u64 size;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved || args.reclaimed_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	pub = agnocast_pub_get(args.publisher_id, proc);
	if (IS_ERR(pub)) {
		agnocast_proc_put(proc);
		return PTR_ERR(pub);
	}
	size = agnocast_pool_size(proc);
	if (args.addr < proc->pool_addr || args.len > size ||
	    args.addr - proc->pool_addr > size - args.len) {
		err = -ERANGE;
		goto out;
	}
	entry = kzalloc(sizeof(*entry), GFP_KERNEL);
	if (!entry) {
		err = -ENOMEM;
		goto out;
	}
	kref_get(&proc->ref);
	atomic_inc(&agnocast_nr_entries);
	entry->proc = proc;
	entry->addr = args.addr;
	entry->len = args.len;
	entry->pub_id = pub->id;
	entry->transient_local = pub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL;
	entry->retained = true;

	topic = pub->topic;
	mutex_lock(&topic->lock);
	if (pub->removed) {
		mutex_unlock(&topic->lock);
		agnocast_entry_free(entry);
		err = -ENOENT;
		goto out;
	}
	entry->seq = ++topic->last_seq;
	entry->timestamp_ns = ktime_get_ns();
	list_add_tail(&entry->topic_node, &topic->entries);
	topic->nr_entries++;
	list_add_tail(&entry->pub_node, &pub->retained);
	if (++pub->nr_retained > pub->qos.depth) {
		oldest = list_first_entry(&pub->retained, struct agnocast_msg,
					  pub_node);
		agnocast_entry_unretain(topic, pub, oldest);
	}
	list_for_each_entry(sub, &topic->subs, topic_node)
		agnocast_sub_set_pending(sub, true);
	args.seq = entry->seq;
	mutex_unlock(&topic->lock);

	if (put_user(args.seq, &uargs->seq)) {
		err = -EFAULT;
		goto out;
	}
	out = u64_to_user_ptr(args.reclaimed);
	n = agnocast_reclaim_pop(proc, &list, args.reclaimed_cap);
	list_for_each_entry(entry, &list, pub_node) {
		if (put_user(entry->addr, out + i)) {
			err = -EFAULT;
			break;
		}
		i++;
	}
	if (!err && put_user(n, &uargs->nr_reclaimed))
		err = -EFAULT;
	if (err) {
		agnocast_reclaim_unpop(proc, &list, n);
	} else {
		list_for_each_entry_safe(entry, tmp, &list, pub_node)
			agnocast_entry_free(entry);
	}
out:
	agnocast_pub_put(pub);
	agnocast_proc_put(proc);
	return err;
}

static void agnocast_entry_export(const struct agnocast_msg *entry,
				  struct agnocast_entry *out)
{
	out->seq = entry->seq;
	out->addr = entry->addr;
	out->len = entry->len;
	out->timestamp_ns = entry->timestamp_ns;
	out->pid = pid_vnr(entry->proc->tgid);
	out->publisher_id = entry->pub_id;
}

/* Entries one RECEIVE delivers without allocating. */
#define AGNOCAST_DELIVERY_SMALL	8

/* What one RECEIVE or TAKE handed out, to undo it if copy-out fails. */
struct agnocast_delivery {
	struct agnocast_msg *entries[AGNOCAST_DELIVERY_SMALL];
	struct agnocast_msg **all;
	unsigned int n;
	u64 old_cursor, new_cursor;
};

/*
 * The window RECEIVE (take_newest false) or TAKE (true) delivers from: the
 * newest qos.depth (TAKE: 1) visible entries past the cursor. Returns its
 * size and sets *first to its oldest entry; topic->lock held.
 */
static unsigned int agnocast_window(struct agnocast_sub *sub, bool take_newest,
				    struct agnocast_msg **first)
{
	unsigned int window = 0, want = take_newest ? 1 : sub->qos.depth;
	struct agnocast_msg *entry;

	*first = NULL;
	list_for_each_entry_reverse(entry, &sub->topic->entries, topic_node) {
		if (entry->seq <= sub->cursor)
			break;
		if (!agnocast_entry_visible(sub, entry))
			continue;
		*first = entry;
		if (++window == want)
			break;
	}
	return window;
}

/*
 * Choose what RECEIVE or TAKE delivers, mark it held and move the cursor;
 * topic->lock held. Returns how many entries were exported to out (at most
 * cap), or a negative errno.
 */
static int agnocast_deliver(struct agnocast_sub *sub, unsigned int cap,
			    bool take_newest, struct agnocast_delivery *d,
			    struct agnocast_entry *out)
{
	struct agnocast_topic *topic = sub->topic;
	struct agnocast_msg *entry, *first;
	unsigned int window;

	if (sub->nr_held >= AGNOCAST_HOLD_MAX)
		return -ENOBUFS;
	window = agnocast_window(sub, take_newest, &first);
	if (!window)
		return -EAGAIN;
	cap = min3(cap, window, AGNOCAST_HOLD_MAX - sub->nr_held);
	d->old_cursor = sub->cursor;
	d->n = 0;
	entry = first;
	list_for_each_entry_from(entry, &topic->entries, topic_node) {
		if (d->n == cap)
			break;
		if (!agnocast_entry_visible(sub, entry))
			continue;
		entry->holders |= BIT_ULL(sub->slot);
		sub->nr_held++;
		d->all[d->n] = entry;
		agnocast_entry_export(entry, &out[d->n]);
		d->n++;
		sub->cursor = entry->seq;
	}
	/* The whole window went out: nothing older than it is due any more. */
	if (d->n == window)
		sub->cursor = topic->last_seq;
	d->new_cursor = sub->cursor;
	agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
	return d->n;
}

/* Copy-out failed: give the references back, make the entries pending. */
static void agnocast_sub_undo(struct agnocast_sub *sub,
			      struct agnocast_delivery *d)
{
	struct agnocast_topic *topic = sub->topic;
	unsigned int i;

	mutex_lock(&topic->lock);
	if (!sub->removed) {
		for (i = 0; i < d->n; i++)
			agnocast_entry_unhold(topic, sub, d->all[i]);
		if (sub->cursor == d->new_cursor)
			sub->cursor = d->old_cursor;
		agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
	}
	mutex_unlock(&topic->lock);
}

static long agnocast_receive_common(u32 sub_id, unsigned int cap,
				    bool take_newest,
				    struct agnocast_entry __user *uout,
				    u32 __user *unr)
{
	struct agnocast_entry small[AGNOCAST_DELIVERY_SMALL], *out = small;
	struct agnocast_delivery d;
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	struct agnocast_msg *first;
	bool removed;
	long ret;

	d.all = d.entries;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	sub = agnocast_sub_get(sub_id, proc);
	if (IS_ERR(sub)) {
		agnocast_proc_put(proc);
		return PTR_ERR(sub);
	}
	cap = min(cap, sub->qos.depth);
	if (cap > ARRAY_SIZE(small)) {
		/*
		 * Size the buffers by what is there to deliver, not by cap: the
		 * allocator zeroes what it hands out (init_on_alloc), and one
		 * message per wake-up is the common case. Entries published
		 * between this look and the delivery stay pending.
		 */
		mutex_lock(&sub->topic->lock);
		removed = sub->removed;
		if (!removed)
			cap = min(cap, agnocast_window(sub, take_newest, &first));
		mutex_unlock(&sub->topic->lock);
		if (removed || !cap) {
			ret = removed ? -ENOENT : -EAGAIN;
			goto out;
		}
	}
	if (cap > ARRAY_SIZE(small)) {
		out = kmalloc_array(cap, sizeof(*out), GFP_KERNEL);
		d.all = kmalloc_array(cap, sizeof(*d.all), GFP_KERNEL);
		if (!out || !d.all) {
			ret = -ENOMEM;
			goto out;
		}
	}
	mutex_lock(&sub->topic->lock);
	ret = sub->removed ? -ENOENT :
	      agnocast_deliver(sub, cap, take_newest, &d, out);
	mutex_unlock(&sub->topic->lock);
	if (ret > 0 &&
	    (copy_to_user(uout, out, ret * sizeof(*out)) ||
	     (unr && put_user((u32)ret, unr)))) {
		agnocast_sub_undo(sub, &d);
		ret = -EFAULT;
	}
out:
	if (out != small)
		kfree(out);
	if (d.all != d.entries)
		kfree(d.all);
	agnocast_sub_put(sub);
	agnocast_proc_put(proc);
	return ret < 0 ? ret : 0;
}

long agnocast_receive(void __user *arg)
{
	struct agnocast_receive_args args;
	struct agnocast_receive_args __user *uargs = arg;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved || args.entries_cap == 0 ||
	    args.entries_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	return agnocast_receive_common(args.subscriber_id, args.entries_cap,
				       false, u64_to_user_ptr(args.entries),
				       &uargs->nr_entries);
}

long agnocast_take(void __user *arg)
{
	struct agnocast_take_args args;
	struct agnocast_take_args __user *uargs = arg;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	return agnocast_receive_common(args.subscriber_id, 1, true,
				       &uargs->entry, NULL);
}

long agnocast_release(void __user *arg)
{
	struct agnocast_release_args args;
	struct agnocast_msg *entry;
	struct agnocast_topic *topic;
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	long err = -ENOENT;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	sub = agnocast_sub_get(args.subscriber_id, proc);
	if (IS_ERR(sub)) {
		agnocast_proc_put(proc);
		return PTR_ERR(sub);
	}
	topic = sub->topic;
	mutex_lock(&topic->lock);
	if (!sub->removed) {
		list_for_each_entry(entry, &topic->entries, topic_node) {
			if (entry->seq < args.seq)
				continue;
			if (entry->seq == args.seq &&
			    (entry->holders & BIT_ULL(sub->slot))) {
				agnocast_entry_unhold(topic, sub, entry);
				err = 0;
			}
			break;
		}
	}
	mutex_unlock(&topic->lock);
	agnocast_sub_put(sub);
	agnocast_proc_put(proc);
	return err;
}
