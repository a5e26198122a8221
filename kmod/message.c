// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: entries (published messages).
 *
 * A topic's entries form one list ordered by seq. An entry is "retained"
 * while it is among the newest qos.depth entries of its publisher, "held"
 * by the subscribers whose slot bits are set in entry->holders, and
 * "queued" for the reliable subscribers whose bits are set in
 * entry->queued (published while they were there, not received yet). When
 * it is none of these, it leaves the topic and goes to its owner's reclaim
 * queue, from which PUBLISH or RECLAIM hands its address back once.
 *
 * A reliable subscriber's queue holds at most its qos.depth entries:
 * topic->nr_full counts the full ones, and PUBLISH fails with EAGAIN while
 * it is not 0. Publishers poll the topic's wait queue for EPOLLOUT.
 *
 * A subscriber's cursor is the seq up to which entries were delivered to it
 * or skipped; everything newer is pending. Entries older than the
 * subscriber (seq <= join_seq) are visible only to a transient-local
 * subscriber, and only while a transient-local publisher retains them.
 *
 * RECEIVE and TAKE deliver under the topic lock (mark held, move the
 * cursor) and copy out after it. If the copy fails they undo by seq under
 * the lock: only entries still there and still held by the subscriber are
 * given back, and the cursor moves back only if nothing moved it since.
 * Delivered entries leave a reliable subscriber's queue only once the
 * copy-out succeeded (agnocast_delivered), so that no PUBLISH gets room an
 * undo would take back: the queue never holds more than qos.depth.
 * Nothing is remembered by pointer across the unlock.
 */
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

atomic_t agnocast_nr_entries = ATOMIC_INIT(0);
static struct kmem_cache *agnocast_msg_cache;

int agnocast_msg_cache_init(void)
{
	agnocast_msg_cache = KMEM_CACHE(agnocast_msg, SLAB_ACCOUNT);
	return agnocast_msg_cache ? 0 : -ENOMEM;
}

void agnocast_msg_cache_exit(void)
{
	kmem_cache_destroy(agnocast_msg_cache);
}

/* A new entry of proc's pool, within its owner's bound (else EDQUOT). */
static struct agnocast_msg *agnocast_entry_alloc(struct agnocast_proc *proc)
{
	struct agnocast_msg *entry;

	if (atomic_inc_return(&proc->nr_entries) >
	    READ_ONCE(agnocast_max_entries_per_process)) {
		atomic_dec(&proc->nr_entries);
		return ERR_PTR(-EDQUOT);
	}
	entry = kmem_cache_zalloc(agnocast_msg_cache, GFP_KERNEL_ACCOUNT);
	if (!entry) {
		atomic_dec(&proc->nr_entries);
		return ERR_PTR(-ENOMEM);
	}
	kref_get(&proc->ref);
	entry->proc = proc;
	atomic_inc(&agnocast_nr_entries);
	return entry;
}

static void agnocast_entry_free(struct agnocast_msg *entry)
{
	struct agnocast_proc *proc = entry->proc;

	atomic_dec(&agnocast_nr_entries);
	atomic_dec(&proc->nr_entries);
	kmem_cache_free(agnocast_msg_cache, entry);
	agnocast_proc_put(proc);
}

/*
 * An entry became reclaimable: queue it for its owner, or free it if the
 * owner is gone. Called under a topic lock.
 */
static void agnocast_reclaim_queue(struct agnocast_msg *entry)
{
	struct agnocast_proc *proc = entry->proc;

	spin_lock(&proc->reclaim_lock);
	if (!proc->exited) {
		list_add_tail(&entry->pub_node, &proc->reclaimable);
		proc->nr_reclaimable++;
		entry = NULL;
	}
	spin_unlock(&proc->reclaim_lock);
	if (entry)
		agnocast_entry_free(entry);
}

/* The owner is gone: nobody will ask for these any more. */
void agnocast_reclaim_drain(struct agnocast_proc *proc)
{
	struct agnocast_msg *entry, *tmp;
	LIST_HEAD(list);

	spin_lock(&proc->reclaim_lock);
	proc->exited = true;
	list_splice_init(&proc->reclaimable, &list);
	proc->nr_reclaimable = 0;
	spin_unlock(&proc->reclaim_lock);
	list_for_each_entry_safe(entry, tmp, &list, pub_node) {
		agnocast_entry_free(entry);
		cond_resched();
	}
}

/* Move up to max reclaimable entries, oldest first, onto out. */
static unsigned int agnocast_reclaim_pop(struct agnocast_proc *proc,
					 struct list_head *out, unsigned int max)
{
	unsigned int n = 0;

	spin_lock(&proc->reclaim_lock);
	while (n < max && !list_empty(&proc->reclaimable)) {
		list_move_tail(proc->reclaimable.next, out);
		n++;
	}
	proc->nr_reclaimable -= n;
	spin_unlock(&proc->reclaim_lock);
	return n;
}

/*
 * Hand popped entries' addresses to user space and free them; when that
 * fails, give them back in front (only this caller had them).
 */
static long agnocast_reclaim_out(struct agnocast_proc *proc, u64 __user *out,
				 u32 __user *nr, unsigned int cap)
{
	struct agnocast_msg *entry, *tmp;
	unsigned int n, i = 0;
	LIST_HEAD(list);
	long err = 0;

	n = agnocast_reclaim_pop(proc, &list, cap);
	list_for_each_entry(entry, &list, pub_node) {
		if (put_user(entry->addr, out + i++)) {
			err = -EFAULT;
			break;
		}
	}
	if (!err && put_user(n, nr))
		err = -EFAULT;
	if (err) {
		spin_lock(&proc->reclaim_lock);
		list_splice(&list, &proc->reclaimable);
		proc->nr_reclaimable += n;
		spin_unlock(&proc->reclaim_lock);
		return err;
	}
	list_for_each_entry_safe(entry, tmp, &list, pub_node)
		agnocast_entry_free(entry);
	return 0;
}

/* If the entry is neither retained, held nor queued, it leaves the topic. */
static void agnocast_entry_maybe_unlink(struct agnocast_topic *topic,
					struct agnocast_msg *entry)
{
	if (entry->retained || entry->holders || entry->queued)
		return;
	list_del(&entry->topic_node);
	topic->nr_entries--;
	agnocast_reclaim_queue(entry);
}

void agnocast_entry_unretain(struct agnocast_topic *topic,
			     struct agnocast_pub *pub,
			     struct agnocast_msg *entry)
{
	list_del_init(&entry->pub_node);
	pub->nr_retained--;
	entry->retained = false;
	agnocast_entry_maybe_unlink(topic, entry);
}

void agnocast_entry_unhold(struct agnocast_topic *topic,
			   struct agnocast_sub *sub,
			   struct agnocast_msg *entry)
{
	entry->holders &= ~BIT_ULL(sub->slot);
	sub->nr_held--;
	agnocast_entry_maybe_unlink(topic, entry);
}

static bool agnocast_sub_reliable(const struct agnocast_sub *sub)
{
	return sub->qos.flags & AGNOCAST_QOS_RELIABLE;
}

/*
 * A reliable subscriber's queue grew or shrank by one; keep nr_full, and
 * wake the publishers once no queue is full. topic->lock held.
 */
static void agnocast_queue_count(struct agnocast_sub *sub, bool add)
{
	struct agnocast_topic *topic = sub->topic;
	bool was = sub->nr_queued >= sub->qos.depth, full;

	sub->nr_queued += add ? 1 : -1;
	full = sub->nr_queued >= sub->qos.depth;
	if (was == full)
		return;
	WRITE_ONCE(topic->nr_full, topic->nr_full + (full ? 1 : -1));
	if (!topic->nr_full)
		wake_up_interruptible_poll(&topic->wq, EPOLLOUT | EPOLLWRNORM);
}

static void agnocast_queue_add(struct agnocast_sub *sub,
			       struct agnocast_msg *entry)
{
	entry->queued |= BIT_ULL(sub->slot);
	agnocast_queue_count(sub, true);
}

/* Take the entry out of sub's queue (the caller checks it was in it). */
static void agnocast_queue_del(struct agnocast_sub *sub,
			       struct agnocast_msg *entry)
{
	entry->queued &= ~BIT_ULL(sub->slot);
	agnocast_queue_count(sub, false);
	agnocast_entry_maybe_unlink(sub->topic, entry);
}

/*
 * A reliable subscriber's queue loses the entries up to its cursor that it
 * does not hold (TAKE skipped them; those it holds are being delivered, and
 * leave the queue with agnocast_delivered()); topic->lock held.
 */
static void agnocast_queue_skip(struct agnocast_sub *sub)
{
	struct agnocast_msg *entry, *tmp;
	u64 bit = BIT_ULL(sub->slot);

	list_for_each_entry_safe(entry, tmp, &sub->topic->entries, topic_node) {
		if (entry->seq > sub->cursor)
			break;
		if ((entry->queued & bit) && !(entry->holders & bit))
			agnocast_queue_del(sub, entry);
	}
}

/*
 * A subscriber leaves: drop what it holds and what is queued for it;
 * topic->lock held.
 */
void agnocast_sub_drop_entries(struct agnocast_sub *sub)
{
	struct agnocast_msg *entry, *tmp;
	u64 bit = BIT_ULL(sub->slot);
	unsigned int n = 0;

	list_for_each_entry_safe(entry, tmp, &sub->topic->entries, topic_node) {
		if (entry->holders & bit) {
			entry->holders &= ~bit;
			sub->nr_held--;
		}
		if (entry->queued & bit)
			agnocast_queue_del(sub, entry);
		else
			agnocast_entry_maybe_unlink(sub->topic, entry);
		if (++n % 1024 == 0)
			cond_resched();
	}
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
bool agnocast_sub_pending(const struct agnocast_sub *sub)
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

/*
 * How many entries the next RECEIVE would return at most: the reliable
 * subscriber's queue, or the visible entries past the cursor up to
 * qos.depth. topic->lock held.
 */
unsigned int agnocast_sub_nr_pending(const struct agnocast_sub *sub)
{
	const struct agnocast_msg *entry;
	unsigned int n = 0;

	if (agnocast_sub_reliable(sub))
		return sub->nr_queued;
	list_for_each_entry_reverse(entry, &sub->topic->entries, topic_node) {
		if (entry->seq <= sub->cursor || n == sub->qos.depth)
			break;
		n += agnocast_entry_visible(sub, entry);
	}
	return n;
}

/* topic->lock held */
void agnocast_sub_set_pending(struct agnocast_sub *sub, bool pending)
{
	if (pending == READ_ONCE(sub->pending))
		return;
	WRITE_ONCE(sub->pending, pending);
	if (pending)
		wake_up_interruptible_poll(&sub->wq, EPOLLIN | EPOLLRDNORM);
}

/* Is [addr, addr + len) inside the pool's current size? */
static bool agnocast_in_pool(const struct agnocast_proc *proc, u64 addr, u64 len)
{
	u64 size = agnocast_pool_size(proc);

	return addr >= proc->pool_addr && len <= size &&
	       addr - proc->pool_addr <= size - len;
}

/*
 * Append a new entry to the topic, unless a reliable subscriber's queue is
 * full (-EAGAIN); topic->lock held, pub linked.
 */
static long agnocast_entry_publish(struct agnocast_pub *pub,
				   struct agnocast_msg *entry)
{
	struct agnocast_topic *topic = pub->topic;
	struct agnocast_msg *oldest;
	struct agnocast_sub *sub;

	if (topic->nr_full)
		return -EAGAIN;
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
	list_for_each_entry(sub, &topic->subs, topic_node) {
		if (agnocast_sub_reliable(sub))
			agnocast_queue_add(sub, entry);
		agnocast_sub_set_pending(sub, true);
	}
	return 0;
}

long agnocast_publish(void __user *arg)
{
	struct agnocast_publish_args __user *uargs = arg;
	struct agnocast_publish_args args;
	struct agnocast_msg *entry;
	struct agnocast_proc *proc;
	struct agnocast_pub *pub;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved || args.reclaimed_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	pub = agnocast_pub_get(args.publisher_id, proc);
	if (IS_ERR(pub)) {
		err = PTR_ERR(pub);
		goto out_proc;
	}
	if (!agnocast_in_pool(proc, args.addr, args.len)) {
		err = -ERANGE;
		goto out;
	}
	entry = agnocast_entry_alloc(proc);
	if (IS_ERR(entry)) {
		err = PTR_ERR(entry);
		goto out;
	}
	entry->addr = args.addr;
	entry->len = args.len;
	entry->pub_id = pub->id;
	entry->transient_local = pub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL;
	entry->retained = true;

	mutex_lock(&pub->topic->lock);
	err = pub->linked ? agnocast_entry_publish(pub, entry) : -ENOENT;
	args.seq = entry->seq;
	mutex_unlock(&pub->topic->lock);
	if (err) {
		agnocast_entry_free(entry);
		goto out;
	}
	/* Published: from here on a failure only concerns the answer. */
	if (put_user(args.seq, &uargs->seq))
		err = -EFAULT;
	else
		err = agnocast_reclaim_out(proc, u64_to_user_ptr(args.reclaimed),
					   &uargs->nr_reclaimed,
					   args.reclaimed_cap);
out:
	agnocast_pub_put(pub);
out_proc:
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
 * topic->lock held, sub linked. Returns how many entries were exported to
 * out (at most cap) and the cursor before (*old), or a negative errno.
 */
static int agnocast_deliver(struct agnocast_sub *sub, unsigned int cap,
			    bool take_newest, struct agnocast_entry *out,
			    u64 *old)
{
	struct agnocast_topic *topic = sub->topic;
	struct agnocast_msg *entry, *first;
	unsigned int window, n = 0;

	if (sub->nr_held >= AGNOCAST_HOLD_MAX)
		return -ENOBUFS;
	window = agnocast_window(sub, take_newest, &first);
	if (!window)
		return -EAGAIN;
	cap = min3(cap, window, AGNOCAST_HOLD_MAX - sub->nr_held);
	*old = sub->cursor;
	entry = first;
	list_for_each_entry_from(entry, &topic->entries, topic_node) {
		if (n == cap)
			break;
		if (!agnocast_entry_visible(sub, entry))
			continue;
		entry->holders |= BIT_ULL(sub->slot);
		sub->nr_held++;
		agnocast_entry_export(entry, &out[n++]);
		sub->cursor = entry->seq;
	}
	/* The whole window went out: nothing older than it is due any more. */
	if (n == window)
		sub->cursor = topic->last_seq;
	if (agnocast_sub_reliable(sub))
		agnocast_queue_skip(sub);
	agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
	return n;
}

/*
 * Settle a delivery's entries out[0..n) (by seq: both lists are sorted)
 * that are still on the topic. After a failed copy-out (failed) their
 * references are given back; still queued, an entry stays on the topic
 * through that. They leave a reliable subscriber's queue unless keep_queued
 * (a failed delivery whose cursor went back: they are due again).
 * topic->lock held.
 */
static void agnocast_settle(struct agnocast_sub *sub,
			    const struct agnocast_entry *out, unsigned int n,
			    bool failed, bool keep_queued)
{
	struct agnocast_topic *topic = sub->topic;
	struct agnocast_msg *entry, *tmp;
	u64 bit = BIT_ULL(sub->slot);
	unsigned int i = 0;
	bool queued;

	list_for_each_entry_safe(entry, tmp, &topic->entries, topic_node) {
		while (i < n && out[i].seq < entry->seq)
			i++;
		if (i == n)
			break;
		if (out[i].seq != entry->seq)
			continue;
		queued = entry->queued & bit;
		if (failed && (entry->holders & bit))
			agnocast_entry_unhold(topic, sub, entry);
		if (queued && !keep_queued)
			agnocast_queue_del(sub, entry);
	}
}

/*
 * The copy-out of a delivery succeeded: its entries leave the reliable
 * subscriber's queue (held or already released by a sibling thread: the
 * cursor is past them either way). topic->lock held.
 */
static void agnocast_delivered(struct agnocast_sub *sub,
			       const struct agnocast_entry *out, unsigned int n)
{
	if (sub->linked)
		agnocast_settle(sub, out, n, false, false);
}

/*
 * The copy-out of a delivery failed: give back the references of the
 * entries still there and still held, and the cursor if nothing moved it
 * since. A reliable subscriber's queue still has those entries; if the
 * cursor moved on past them they leave it, as they will not be delivered
 * again. topic->lock held.
 */
static void agnocast_undeliver(struct agnocast_sub *sub,
			       const struct agnocast_entry *out, unsigned int n,
			       u64 old, u64 new)
{
	bool back = sub->cursor == new;

	if (!sub->linked)
		return;
	agnocast_settle(sub, out, n, true, back);
	if (back)
		sub->cursor = old;
	agnocast_sub_set_pending(sub, agnocast_sub_pending(sub));
}

/*
 * How many entries a delivery may return, at most cap: cap itself when
 * that is small, else the window there is now (so the buffer is sized by
 * what is there, not by cap). 0: nothing to deliver; < 0: an errno.
 */
static int agnocast_delivery_size(struct agnocast_sub *sub, unsigned int cap,
				  bool take_newest)
{
	struct agnocast_msg *first;
	int n;

	cap = min(cap, sub->qos.depth);
	if (cap <= AGNOCAST_DELIVERY_SMALL)
		return cap;
	mutex_lock(&sub->topic->lock);
	n = sub->linked ? min(cap, agnocast_window(sub, take_newest, &first)) :
			  -ENOENT;
	mutex_unlock(&sub->topic->lock);
	return n;
}

/* Deliver to a buffer of cap entries and copy it out; undo on failure. */
static long agnocast_deliver_out(struct agnocast_sub *sub, unsigned int cap,
				 bool take_newest, struct agnocast_entry *out,
				 struct agnocast_entry __user *uout,
				 u32 __user *unr)
{
	struct agnocast_topic *topic = sub->topic;
	u64 old = 0, new;
	long n;

	mutex_lock(&topic->lock);
	n = sub->linked ? agnocast_deliver(sub, cap, take_newest, out, &old) :
			  -ENOENT;
	new = sub->cursor;
	mutex_unlock(&topic->lock);
	if (n <= 0)
		return n;
	if (!copy_to_user(uout, out, n * sizeof(*out)) &&
	    (!unr || !put_user((u32)n, unr))) {
		if (agnocast_sub_reliable(sub)) {
			mutex_lock(&topic->lock);
			agnocast_delivered(sub, out, n);
			mutex_unlock(&topic->lock);
		}
		return 0;
	}
	mutex_lock(&topic->lock);
	agnocast_undeliver(sub, out, n, old, new);
	mutex_unlock(&topic->lock);
	return -EFAULT;
}

/* Drop sub's reference on entry seq; topic->lock held. */
static long agnocast_release_seq(struct agnocast_sub *sub, u64 seq)
{
	struct agnocast_topic *topic = sub->topic;
	struct agnocast_msg *entry;

	if (!sub->linked)
		return -ENOENT;
	list_for_each_entry(entry, &topic->entries, topic_node) {
		if (entry->seq < seq)
			continue;
		if (entry->seq != seq || !(entry->holders & BIT_ULL(sub->slot)))
			return -ENOENT;
		agnocast_entry_unhold(topic, sub, entry);
		return 0;
	}
	return -ENOENT;
}

/* What one RECEIVE or TAKE asks for. */
struct agnocast_rx {
	unsigned int cap;		/* entries wanted; 0: release only */
	bool take_newest;		/* TAKE */
	const u64 *release;		/* seqs to release first (kernel copy) */
	unsigned int nr_release;
	struct agnocast_entry __user *uout;
	u32 __user *unr;		/* RECEIVE's nr_entries, or NULL */
};

/* Release what the request lists, skipping what is not held. */
static void agnocast_release_list(struct agnocast_sub *sub,
				  const struct agnocast_rx *rx)
{
	unsigned int i;

	mutex_lock(&sub->topic->lock);
	for (i = 0; i < rx->nr_release; i++)
		agnocast_release_seq(sub, rx->release[i]);
	mutex_unlock(&sub->topic->lock);
}

static long agnocast_receive_common(u32 sub_id, const struct agnocast_rx *rx)
{
	struct agnocast_entry small[AGNOCAST_DELIVERY_SMALL], *out = small;
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	long ret;
	int n;

	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	sub = agnocast_sub_get(sub_id, proc);
	agnocast_proc_put(proc);
	if (IS_ERR(sub))
		return PTR_ERR(sub);
	if (rx->nr_release)
		agnocast_release_list(sub, rx);
	if (!rx->cap) {
		ret = put_user(0U, rx->unr) ? -EFAULT : 0;
		goto out;
	}
	n = agnocast_delivery_size(sub, rx->cap, rx->take_newest);
	if (n <= 0) {
		ret = n ? n : -EAGAIN;
		goto out;
	}
	if (n > AGNOCAST_DELIVERY_SMALL) {
		out = kmalloc_array(n, sizeof(*out), GFP_KERNEL_ACCOUNT);
		if (!out) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = agnocast_deliver_out(sub, n, rx->take_newest, out, rx->uout,
				   rx->unr);
	if (out != small)
		kfree(out);
out:
	agnocast_sub_put(sub);
	return ret;
}

long agnocast_receive(void __user *arg)
{
	struct agnocast_receive_args __user *uargs = arg;
	struct agnocast_receive_args args;
	u64 release[AGNOCAST_RELEASE_MAX];
	struct agnocast_rx rx;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.entries_cap > AGNOCAST_ARRAY_MAX ||
	    args.release_nr > AGNOCAST_RELEASE_MAX ||
	    (!args.entries_cap && !args.release_nr))
		return -EINVAL;
	if (copy_from_user(release, u64_to_user_ptr(args.release),
			   args.release_nr * sizeof(*release)))
		return -EFAULT;
	rx = (struct agnocast_rx) {
		.cap = args.entries_cap,
		.release = release,
		.nr_release = args.release_nr,
		.uout = u64_to_user_ptr(args.entries),
		.unr = &uargs->nr_entries,
	};
	return agnocast_receive_common(args.subscriber_id, &rx);
}

long agnocast_take(void __user *arg)
{
	struct agnocast_take_args __user *uargs = arg;
	struct agnocast_take_args args;
	struct agnocast_rx rx = { .cap = 1, .take_newest = true };

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	rx.uout = &uargs->entry;
	return agnocast_receive_common(args.subscriber_id, &rx);
}

long agnocast_release(void __user *arg)
{
	struct agnocast_release_args args;
	struct agnocast_proc *proc;
	struct agnocast_sub *sub;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	sub = agnocast_sub_get(args.subscriber_id, proc);
	agnocast_proc_put(proc);
	if (IS_ERR(sub))
		return PTR_ERR(sub);
	mutex_lock(&sub->topic->lock);
	err = agnocast_release_seq(sub, args.seq);
	mutex_unlock(&sub->topic->lock);
	agnocast_sub_put(sub);
	return err;
}

long agnocast_reclaim(void __user *arg)
{
	struct agnocast_reclaim_args __user *uargs = arg;
	struct agnocast_reclaim_args args;
	struct agnocast_proc *proc;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.addrs_cap == 0 || args.addrs_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	err = agnocast_reclaim_out(proc, u64_to_user_ptr(args.addrs),
				   &uargs->nr_addrs, args.addrs_cap);
	agnocast_proc_put(proc);
	return err;
}
