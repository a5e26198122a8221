// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: publishers and subscribers.
 *
 * Adding one follows the commit-last rule (agnocast_internal.h):
 *   1. allocate it, reserve its id (xa_alloc of NULL: lookups by id see
 *      nothing), get an unused fd and its file;
 *   2. link it to its process and topic under the locks and gather the
 *      answer (the topic's other processes);
 *   3. copy the answer out; on failure unlink it again (nobody could reach
 *      it: its id is reserved, its fd not installed, and its process
 *      cannot end while one of its threads is in this call);
 *   4. publish the id (xa_store into the reserved slot, which allocates
 *      nothing) and install the fd.
 *
 * An endpoint is its file: the file holds a reference from its creation,
 * and the file's release removes the endpoint if it is still linked.
 * Publishers poll their topic's wait queue (EPOLLOUT: no reliable queue is
 * full; EPOLLPRI: the subscribers changed), subscribers their own
 * (EPOLLIN: entries pending; EPOLLPRI: the publishers changed). A change
 * bumps topic->sub_gen or ->pub_gen; an endpoint's *_gen_seen is what it
 * last read with PUBLISHER_STATE / SUBSCRIBER_STATE.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

unsigned int agnocast_nr_pubs, agnocast_nr_subs;	/* agnocast_lock */

static DEFINE_XARRAY_ALLOC1(agnocast_pub_ids);
static DEFINE_XARRAY_ALLOC1(agnocast_sub_ids);
static u32 agnocast_pub_next, agnocast_sub_next;

static void agnocast_pub_free(struct kref *ref)
{
	struct agnocast_pub *pub = container_of(ref, struct agnocast_pub, ref);

	if (pub->topic)
		agnocast_topic_put(pub->topic);
	agnocast_proc_put(pub->proc);
	kfree(pub);
}

void agnocast_pub_put(struct agnocast_pub *pub)
{
	kref_put(&pub->ref, agnocast_pub_free);
}

static void agnocast_sub_free(struct kref *ref)
{
	struct agnocast_sub *sub = container_of(ref, struct agnocast_sub, ref);

	if (sub->topic)
		agnocast_topic_put(sub->topic);
	agnocast_proc_put(sub->proc);
	kfree(sub);
}

void agnocast_sub_put(struct agnocast_sub *sub)
{
	kref_put(&sub->ref, agnocast_sub_free);
}

/*
 * The endpoint with that id, with a reference: ENOENT if there is none
 * (or its id is still reserved), EPERM if it belongs to another process.
 * The table holds a reference until the id is erased, so the one taken
 * under its lock is never taken on a dying object.
 */
struct agnocast_pub *agnocast_pub_get(u32 id, struct agnocast_proc *proc)
{
	struct agnocast_pub *pub;

	xa_lock(&agnocast_pub_ids);
	pub = xa_load(&agnocast_pub_ids, id);
	if (pub)
		kref_get(&pub->ref);
	xa_unlock(&agnocast_pub_ids);
	if (!pub)
		return ERR_PTR(-ENOENT);
	if (pub->proc == proc)
		return pub;
	agnocast_pub_put(pub);
	return ERR_PTR(-EPERM);
}

struct agnocast_sub *agnocast_sub_get(u32 id, struct agnocast_proc *proc)
{
	struct agnocast_sub *sub;

	xa_lock(&agnocast_sub_ids);
	sub = xa_load(&agnocast_sub_ids, id);
	if (sub)
		kref_get(&sub->ref);
	xa_unlock(&agnocast_sub_ids);
	if (!sub)
		return ERR_PTR(-ENOENT);
	if (sub->proc == proc)
		return sub;
	agnocast_sub_put(sub);
	return ERR_PTR(-EPERM);
}

/* A publisher joined or left: tell the subscribers; topic->lock held. */
static void agnocast_pubs_changed(struct agnocast_topic *topic)
{
	struct agnocast_sub *sub;

	WRITE_ONCE(topic->pub_gen, topic->pub_gen + 1);
	list_for_each_entry(sub, &topic->subs, topic_node)
		wake_up_interruptible_poll(&sub->wq, EPOLLPRI);
}

/* A subscriber joined or left: tell the publishers; topic->lock held. */
static void agnocast_subs_changed(struct agnocast_topic *topic)
{
	WRITE_ONCE(topic->sub_gen, topic->sub_gen + 1);
	wake_up_interruptible_poll(&topic->wq, EPOLLPRI);
}

/* Unlink a publisher from its process and topic; agnocast_lock held. */
static void agnocast_pub_unlink(struct agnocast_pub *pub)
{
	struct agnocast_topic *topic = pub->topic;
	struct agnocast_msg *entry, *tmp;
	struct agnocast_sub *sub;

	list_del(&pub->proc_node);
	pub->proc->nr_pubs--;
	agnocast_nr_pubs--;

	mutex_lock(&topic->lock);
	list_del(&pub->topic_node);
	topic->nr_pubs--;
	WRITE_ONCE(pub->linked, false);
	list_for_each_entry_safe(entry, tmp, &pub->retained, pub_node)
		agnocast_entry_unretain(topic, pub, entry);
	/* Transient-local history may have vanished from under a cursor. */
	list_for_each_entry(sub, &topic->subs, topic_node)
		agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
	agnocast_pubs_changed(topic);
	wake_up_interruptible_poll(&topic->wq, EPOLLHUP);
	mutex_unlock(&topic->lock);
	agnocast_topic_maybe_remove(topic);
}

/*
 * Remove a linked publisher; agnocast_lock held. Entries of it that
 * subscribers hold or have queued stay readable. Its id may still be
 * reserved (a failing ADD_PUBLISHER erases that itself).
 */
void agnocast_pub_remove(struct agnocast_pub *pub)
{
	xa_cmpxchg(&agnocast_pub_ids, pub->id, pub, NULL, 0);
	agnocast_pub_unlink(pub);
	agnocast_pub_put(pub);		/* the registration */
}

/* Unlink a subscriber and drop what it holds; agnocast_lock held. */
static void agnocast_sub_unlink(struct agnocast_sub *sub)
{
	struct agnocast_topic *topic = sub->topic;

	list_del(&sub->proc_node);
	sub->proc->nr_subs--;
	agnocast_nr_subs--;

	mutex_lock(&topic->lock);
	agnocast_sub_drop_entries(sub);
	list_del(&sub->topic_node);
	topic->nr_subs--;
	topic->sub_slots &= ~BIT_ULL(sub->slot);
	sub->linked = false;
	agnocast_subs_changed(topic);
	WRITE_ONCE(sub->pending, false);
	WRITE_ONCE(sub->hup, true);
	wake_up_interruptible_poll(&sub->wq, EPOLLHUP);
	mutex_unlock(&topic->lock);
	agnocast_topic_maybe_remove(topic);
}

/*
 * Remove a linked subscriber; agnocast_lock held. Its id may still be
 * reserved (a failing ADD_SUBSCRIBER erases that itself).
 */
void agnocast_sub_remove(struct agnocast_sub *sub)
{
	xa_cmpxchg(&agnocast_sub_ids, sub->id, sub, NULL, 0);
	agnocast_sub_unlink(sub);
	agnocast_sub_put(sub);		/* the registration */
}

static __poll_t agnocast_sub_poll(struct file *file, poll_table *wait)
{
	struct agnocast_sub *sub = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &sub->wq, wait);
	if (READ_ONCE(sub->pending))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(sub->topic->pub_gen) != READ_ONCE(sub->pub_gen_seen))
		mask |= EPOLLPRI;
	if (READ_ONCE(sub->hup))
		mask |= EPOLLHUP;
	return mask;
}

/* The last copy of the descriptor is closed: the subscriber goes. */
static int agnocast_sub_file_release(struct inode *inode, struct file *file)
{
	struct agnocast_sub *sub = file->private_data;

	mutex_lock(&agnocast_lock);
	if (sub->linked)
		agnocast_sub_remove(sub);
	mutex_unlock(&agnocast_lock);
	agnocast_sub_put(sub);		/* the file's */
	return 0;
}

static const struct file_operations agnocast_sub_fops = {
	.owner = THIS_MODULE,
	.poll = agnocast_sub_poll,
	.release = agnocast_sub_file_release,
	.llseek = noop_llseek,
};

static __poll_t agnocast_pub_poll(struct file *file, poll_table *wait)
{
	struct agnocast_pub *pub = file->private_data;
	struct agnocast_topic *topic = pub->topic;
	__poll_t mask = 0;

	poll_wait(file, &topic->wq, wait);
	if (!READ_ONCE(pub->linked))
		return EPOLLHUP;
	if (!READ_ONCE(topic->nr_full))
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (READ_ONCE(topic->sub_gen) != READ_ONCE(pub->sub_gen_seen))
		mask |= EPOLLPRI;
	return mask;
}

/* The last copy of the descriptor is closed: the publisher goes. */
static int agnocast_pub_file_release(struct inode *inode, struct file *file)
{
	struct agnocast_pub *pub = file->private_data;

	mutex_lock(&agnocast_lock);
	if (pub->linked)
		agnocast_pub_remove(pub);
	mutex_unlock(&agnocast_lock);
	agnocast_pub_put(pub);		/* the file's */
	return 0;
}

static const struct file_operations agnocast_pub_fops = {
	.owner = THIS_MODULE,
	.poll = agnocast_pub_poll,
	.release = agnocast_pub_file_release,
	.llseek = noop_llseek,
};

/* Room for one more endpoint of proc? agnocast_lock held. */
static long agnocast_endpoint_room(struct agnocast_proc *proc)
{
	if (proc->state != AGNOCAST_LIVE)
		return -ESRCH;
	if (proc->nr_pubs + proc->nr_subs >=
	    READ_ONCE(agnocast_max_endpoints_per_process))
		return -EDQUOT;
	return 0;
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

/*
 * Link a new publisher to its process and topic and gather the pids to
 * announce it to; agnocast_lock held.
 */
static long agnocast_pub_link(struct agnocast_pub *pub, const char *name,
			      s32 *pids, u32 *n)
{
	struct agnocast_proc *proc = pub->proc;
	struct agnocast_topic *topic;
	long err;

	err = agnocast_endpoint_room(proc);
	if (!err && !proc->pool_file)
		err = -ENXIO;
	if (err)
		return err;
	topic = agnocast_topic_get_or_create(name);
	if (!topic)
		return -ENOMEM;
	if (topic->nr_pubs >= AGNOCAST_TOPIC_PUBS_MAX) {
		agnocast_topic_maybe_remove(topic);
		agnocast_topic_put(topic);
		return -ENOSPC;
	}
	pub->topic = topic;
	list_add_tail(&pub->proc_node, &proc->pubs);
	proc->nr_pubs++;
	agnocast_nr_pubs++;
	kref_get(&pub->ref);		/* the registration */
	mutex_lock(&topic->lock);
	list_add_tail(&pub->topic_node, &topic->pubs);
	topic->nr_pubs++;
	pub->linked = true;
	pub->sub_gen_seen = topic->sub_gen;
	agnocast_pubs_changed(topic);
	*n = agnocast_collect_sub_pids(topic, pids);
	mutex_unlock(&topic->lock);
	return 0;
}

static long agnocast_add_publisher_answer(struct agnocast_add_publisher_args *args,
					  struct agnocast_add_publisher_args __user *uargs,
					  const s32 *pids)
{
	if (copy_to_user(u64_to_user_ptr(args->sub_pids), pids,
			 min(args->nr_sub_pids, args->sub_pids_cap) * sizeof(*pids)) ||
	    put_user(args->nr_sub_pids, &uargs->nr_sub_pids) ||
	    put_user(args->publisher_id, &uargs->publisher_id) ||
	    put_user(args->fd, &uargs->fd))
		return -EFAULT;
	return 0;
}

/* A publisher not linked yet, with its file (which holds its reference). */
static struct agnocast_pub *agnocast_pub_create(struct agnocast_proc *proc,
						const struct agnocast_qos *qos,
						struct file **file)
{
	struct agnocast_pub *pub;
	int err;

	pub = kzalloc(sizeof(*pub), GFP_KERNEL_ACCOUNT);
	if (!pub)
		return ERR_PTR(-ENOMEM);
	kref_init(&pub->ref);		/* the file's */
	INIT_LIST_HEAD(&pub->retained);
	pub->qos = *qos;
	pub->proc = proc;
	err = xa_alloc_cyclic(&agnocast_pub_ids, &pub->id, NULL,
			      XA_LIMIT(1, INT_MAX), &agnocast_pub_next,
			      GFP_KERNEL_ACCOUNT);
	if (err < 0) {
		kfree(pub);
		return ERR_PTR(err);
	}
	*file = anon_inode_getfile("[agnocast-pub]", &agnocast_pub_fops, pub,
				   O_RDONLY);
	if (IS_ERR(*file)) {
		xa_erase(&agnocast_pub_ids, pub->id);
		kfree(pub);
		return ERR_CAST(*file);
	}
	return pub;
}

long agnocast_add_publisher(void __user *arg)
{
	struct agnocast_add_publisher_args args;
	struct agnocast_proc *proc;
	struct agnocast_pub *pub;
	struct file *file;
	s32 *pids;
	int name_err;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_topic_name_ok(args.topic, &name_err))
		return name_err;
	if (!agnocast_qos_ok(&args.qos, AGNOCAST_QOS_PUB_FLAGS) ||
	    args.sub_pids_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	pids = kcalloc(AGNOCAST_TOPIC_SUBS_MAX, sizeof(*pids), GFP_KERNEL_ACCOUNT);
	if (!pids) {
		agnocast_proc_put(proc);
		return -ENOMEM;
	}
	/* From here on the publisher (its file) owns the proc reference. */
	pub = agnocast_pub_create(proc, &args.qos, &file);
	if (IS_ERR(pub)) {
		agnocast_proc_put(proc);
		kfree(pids);
		return PTR_ERR(pub);
	}
	args.fd = get_unused_fd_flags(O_CLOEXEC);
	err = args.fd < 0 ? args.fd : 0;
	if (!err) {
		mutex_lock(&agnocast_lock);
		err = agnocast_pub_link(pub, args.topic, pids, &args.nr_sub_pids);
		mutex_unlock(&agnocast_lock);
	}
	args.publisher_id = pub->id;
	if (!err) {
		err = agnocast_add_publisher_answer(&args, arg, pids);
		if (err) {
			mutex_lock(&agnocast_lock);
			agnocast_pub_unlink(pub);
			mutex_unlock(&agnocast_lock);
			agnocast_pub_put(pub);	/* the registration */
		}
	}
	kfree(pids);
	if (err) {
		xa_erase(&agnocast_pub_ids, pub->id);
		if (args.fd >= 0)
			put_unused_fd(args.fd);
		fput(file);		/* its release finds it unlinked */
		return err;
	}
	/* Commit: the reserved slot exists, so the store allocates nothing. */
	WARN_ON_ONCE(xa_is_err(xa_store(&agnocast_pub_ids, pub->id, pub, 0)));
	fd_install(args.fd, file);
	return 0;
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

/* Join a subscriber to its topic; agnocast_lock and topic->lock held. */
static void agnocast_sub_join_topic(struct agnocast_topic *topic,
				    struct agnocast_sub *sub)
{
	sub->slot = __ffs64(~topic->sub_slots);
	topic->sub_slots |= BIT_ULL(sub->slot);
	list_add_tail(&sub->topic_node, &topic->subs);
	topic->nr_subs++;
	sub->linked = true;
	sub->pub_gen_seen = topic->pub_gen;
	agnocast_subs_changed(topic);
	sub->join_seq = topic->last_seq;
	sub->cursor = (sub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL) ?
		      0 : topic->last_seq;
	agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
}

/*
 * Link a new subscriber to its process and topic and gather the pools it
 * should map; agnocast_lock held. Takes the registration's reference.
 */
static long agnocast_sub_link(struct agnocast_sub *sub, const char *name,
			      struct agnocast_pool_info *pools, u32 *n)
{
	struct agnocast_proc *proc = sub->proc;
	struct agnocast_topic *topic;
	long err;

	err = agnocast_endpoint_room(proc);
	if (err)
		return err;
	topic = agnocast_topic_get_or_create(name);
	if (!topic)
		return -ENOMEM;
	if (topic->nr_subs >= AGNOCAST_TOPIC_SUBS_MAX) {
		agnocast_topic_maybe_remove(topic);
		agnocast_topic_put(topic);
		return -ENOSPC;
	}
	kref_get(&sub->ref);		/* the registration */
	sub->topic = topic;
	list_add_tail(&sub->proc_node, &proc->subs);
	proc->nr_subs++;
	agnocast_nr_subs++;
	mutex_lock(&topic->lock);
	agnocast_sub_join_topic(topic, sub);
	*n = agnocast_collect_pub_pools(topic, pools);
	mutex_unlock(&topic->lock);
	return 0;
}

static long agnocast_add_subscriber_answer(struct agnocast_add_subscriber_args *args,
					   struct agnocast_add_subscriber_args __user *uargs,
					   const struct agnocast_pool_info *pools)
{
	if (copy_to_user(u64_to_user_ptr(args->pubs), pools,
			 min(args->nr_pubs, args->pubs_cap) * sizeof(*pools)) ||
	    put_user(args->nr_pubs, &uargs->nr_pubs) ||
	    put_user(args->subscriber_id, &uargs->subscriber_id) ||
	    put_user(args->fd, &uargs->fd))
		return -EFAULT;
	return 0;
}

/* A subscriber not linked yet, with its file (which holds its reference). */
static struct agnocast_sub *agnocast_sub_create(struct agnocast_proc *proc,
						const struct agnocast_qos *qos,
						struct file **file)
{
	struct agnocast_sub *sub;
	int err;

	sub = kzalloc(sizeof(*sub), GFP_KERNEL_ACCOUNT);
	if (!sub)
		return ERR_PTR(-ENOMEM);
	kref_init(&sub->ref);		/* the file's */
	init_waitqueue_head(&sub->wq);
	sub->qos = *qos;
	sub->proc = proc;
	err = xa_alloc_cyclic(&agnocast_sub_ids, &sub->id, NULL,
			      XA_LIMIT(1, INT_MAX), &agnocast_sub_next,
			      GFP_KERNEL_ACCOUNT);
	if (err < 0) {
		kfree(sub);
		return ERR_PTR(err);
	}
	*file = anon_inode_getfile("[agnocast]", &agnocast_sub_fops, sub,
				   O_RDONLY);
	if (IS_ERR(*file)) {
		xa_erase(&agnocast_sub_ids, sub->id);
		kfree(sub);
		return ERR_CAST(*file);
	}
	return sub;
}

long agnocast_add_subscriber(void __user *arg)
{
	struct agnocast_add_subscriber_args args;
	struct agnocast_pool_info *pools;
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	struct file *file;
	int name_err;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_topic_name_ok(args.topic, &name_err))
		return name_err;
	if (!agnocast_qos_ok(&args.qos, AGNOCAST_QOS_SUB_FLAGS) ||
	    args.pubs_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	pools = kcalloc(AGNOCAST_TOPIC_PUBS_MAX, sizeof(*pools), GFP_KERNEL_ACCOUNT);
	if (!pools) {
		agnocast_proc_put(proc);
		return -ENOMEM;
	}
	/* From here on the subscriber (its file) owns the proc reference. */
	sub = agnocast_sub_create(proc, &args.qos, &file);
	if (IS_ERR(sub)) {
		agnocast_proc_put(proc);
		kfree(pools);
		return PTR_ERR(sub);
	}
	args.fd = get_unused_fd_flags(O_CLOEXEC);
	err = args.fd < 0 ? args.fd : 0;
	if (!err) {
		mutex_lock(&agnocast_lock);
		err = agnocast_sub_link(sub, args.topic, pools, &args.nr_pubs);
		mutex_unlock(&agnocast_lock);
	}
	args.subscriber_id = sub->id;
	if (!err) {
		err = agnocast_add_subscriber_answer(&args, arg, pools);
		if (err) {
			mutex_lock(&agnocast_lock);
			agnocast_sub_unlink(sub);
			mutex_unlock(&agnocast_lock);
			agnocast_sub_put(sub);	/* the registration */
		}
	}
	kfree(pools);
	if (err) {
		xa_erase(&agnocast_sub_ids, sub->id);
		if (args.fd >= 0)
			put_unused_fd(args.fd);
		fput(file);		/* its release finds it unlinked */
		return err;
	}
	/* Commit: the reserved slot exists, so the store allocates nothing. */
	WARN_ON_ONCE(xa_is_err(xa_store(&agnocast_sub_ids, sub->id, sub, 0)));
	fd_install(args.fd, file);
	return 0;
}

/* Remove an endpoint of the caller by id: REMOVE_PUBLISHER/_SUBSCRIBER. */
static long agnocast_remove_args(void __user *arg, u32 *id)
{
	struct agnocast_remove_args args;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	*id = args.id;
	return 0;
}

long agnocast_remove_publisher(void __user *arg)
{
	struct agnocast_proc *proc;
	struct agnocast_pub *pub;
	long err;
	u32 id;

	err = agnocast_remove_args(arg, &id);
	if (err)
		return err;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	pub = agnocast_pub_get(id, proc);
	agnocast_proc_put(proc);
	if (IS_ERR(pub))
		return PTR_ERR(pub);
	mutex_lock(&agnocast_lock);
	/* A concurrent remove of the same id may have won. */
	err = pub->linked ? 0 : -ENOENT;
	if (!err)
		agnocast_pub_remove(pub);
	mutex_unlock(&agnocast_lock);
	agnocast_pub_put(pub);
	return err;
}

long agnocast_remove_subscriber(void __user *arg)
{
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	long err;
	u32 id;

	err = agnocast_remove_args(arg, &id);
	if (err)
		return err;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	sub = agnocast_sub_get(id, proc);
	agnocast_proc_put(proc);
	if (IS_ERR(sub))
		return PTR_ERR(sub);
	mutex_lock(&agnocast_lock);
	err = sub->linked ? 0 : -ENOENT;
	if (!err)
		agnocast_sub_remove(sub);
	mutex_unlock(&agnocast_lock);
	agnocast_sub_put(sub);
	return err;
}

/* The state an endpoint's poll reports, read under the topic lock. */
static void agnocast_state_fill(struct agnocast_topic *topic,
				struct agnocast_endpoint_state_args *args)
{
	args->nr_publishers = topic->nr_pubs;
	args->nr_subscribers = topic->nr_subs;
	args->nr_full = topic->nr_full;
}

static long agnocast_pub_state(struct agnocast_pub *pub,
			       struct agnocast_endpoint_state_args *args,
			       void __user *arg)
{
	struct agnocast_topic *topic = pub->topic;
	u64 gen;

	mutex_lock(&topic->lock);
	agnocast_state_fill(topic, args);
	args->queued = 0;
	gen = topic->sub_gen;
	mutex_unlock(&topic->lock);
	if (copy_to_user(arg, args, sizeof(*args)))
		return -EFAULT;
	mutex_lock(&topic->lock);
	WRITE_ONCE(pub->sub_gen_seen, gen);
	mutex_unlock(&topic->lock);
	return 0;
}

static long agnocast_sub_state(struct agnocast_sub *sub,
			       struct agnocast_endpoint_state_args *args,
			       void __user *arg)
{
	struct agnocast_topic *topic = sub->topic;
	u64 gen;

	mutex_lock(&topic->lock);
	agnocast_state_fill(topic, args);
	args->queued = agnocast_sub_nr_pending(sub);
	gen = topic->pub_gen;
	mutex_unlock(&topic->lock);
	if (copy_to_user(arg, args, sizeof(*args)))
		return -EFAULT;
	mutex_lock(&topic->lock);
	WRITE_ONCE(sub->pub_gen_seen, gen);
	mutex_unlock(&topic->lock);
	return 0;
}

/* PUBLISHER_STATE / SUBSCRIBER_STATE */
long agnocast_endpoint_state(void __user *arg, bool is_pub)
{
	struct agnocast_endpoint_state_args args;
	struct agnocast_proc *proc;
	struct agnocast_pub *pub;
	struct agnocast_sub *sub;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	if (is_pub) {
		pub = agnocast_pub_get(args.id, proc);
		err = IS_ERR(pub) ? PTR_ERR(pub) : agnocast_pub_state(pub, &args, arg);
		if (!IS_ERR(pub))
			agnocast_pub_put(pub);
	} else {
		sub = agnocast_sub_get(args.id, proc);
		err = IS_ERR(sub) ? PTR_ERR(sub) : agnocast_sub_state(sub, &args, arg);
		if (!IS_ERR(sub))
			agnocast_sub_put(sub);
	}
	agnocast_proc_put(proc);
	return err;
}
