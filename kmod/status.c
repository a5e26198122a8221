// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: what is registered, for people (/proc/driver/agnocast) and for
 * programs (the introspection ioctls). Both show the topics of the caller's
 * IPC namespace and the processes visible in its pid namespace.
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

static const struct ipc_namespace *agnocast_reader_ns(void)
{
	return current->nsproxy->ipc_ns;
}

static unsigned int agnocast_nr_reclaimable(struct agnocast_proc *proc)
{
	unsigned int n;

	spin_lock(&proc->reclaim_lock);
	n = proc->nr_reclaimable;
	spin_unlock(&proc->reclaim_lock);
	return n;
}

static void agnocast_show_topic(struct seq_file *m, struct agnocast_topic *topic)
{
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
		seq_printf(m, "  subscriber id %u pid %d depth %u transient-local %d held %u pending %d\n",
			   sub->id, pid_vnr(sub->proc->tgid), sub->qos.depth,
			   !!(sub->qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL),
			   sub->nr_held, READ_ONCE(sub->waiter->pending));
	list_for_each_entry(msg, &topic->entries, topic_node)
		seq_printf(m, "  entry seq %llu publisher %u pid %d addr 0x%llx len %llu refs %u retained %d\n",
			   msg->seq, msg->pub_id, pid_vnr(msg->proc->tgid),
			   msg->addr, msg->len, (unsigned int)hweight64(msg->holders),
			   msg->retained);
	mutex_unlock(&topic->lock);
}

static int agnocast_status_show(struct seq_file *m, void *v)
{
	const struct ipc_namespace *ns = agnocast_reader_ns();
	struct agnocast_topic *topic;
	struct agnocast_proc *proc;
	unsigned int bkt;

	/* Finish every exit already under way, so the counts are settled. */
	flush_workqueue(agnocast_wq);

	mutex_lock(&agnocast_lock);
	seq_printf(m, "agnocast %d.%d.%d abi %d\n", AGNOCAST_VERSION_MAJOR,
		   AGNOCAST_VERSION_MINOR, AGNOCAST_VERSION_PATCH,
		   AGNOCAST_ABI_VERSION);
	seq_printf(m, "totals processes %u topics %u publishers %u subscribers %u entries %d mappings %u\n",
		   agnocast_nr_procs, agnocast_nr_topics, agnocast_nr_pubs,
		   agnocast_nr_subs, atomic_read(&agnocast_nr_entries),
		   agnocast_nr_mappings);
	list_for_each_entry(proc, &agnocast_procs, addr_node) {
		pid_t pid = pid_vnr(proc->tgid);

		if (!pid)
			continue;
		seq_printf(m, "process pid %d addr 0x%llx size %llu max %llu state %s attached %d publishers %u subscribers %u mappers %u reclaimable %u\n",
			   pid, proc->pool_addr, agnocast_pool_size(proc),
			   proc->pool_max, proc->joined ? "live" : "exited",
			   !!proc->pool_file, proc->nr_pubs, proc->nr_subs,
			   proc->nr_mappers, agnocast_nr_reclaimable(proc));
	}
	hash_for_each(agnocast_topics, bkt, topic, node)
		if (topic->ns == ns)
			agnocast_show_topic(m, topic);
	mutex_unlock(&agnocast_lock);
	return 0;
}

int agnocast_status_init(void)
{
	return proc_create_single(AGNOCAST_PROC_NAME, 0444, NULL,
				  agnocast_status_show) ? 0 : -ENOMEM;
}

void agnocast_status_exit(void)
{
	remove_proc_entry(AGNOCAST_PROC_NAME, NULL);
}

static bool agnocast_cap_ok(u32 cap)
{
	return cap <= AGNOCAST_ARRAY_MAX;
}

long agnocast_list_topics(void __user *arg)
{
	const struct ipc_namespace *ns = agnocast_reader_ns();
	struct agnocast_list_topics_args __user *uargs = arg;
	struct agnocast_list_topics_args args;
	struct agnocast_topic_name *names;
	struct agnocast_topic *topic;
	unsigned int bkt;
	u32 total = 0;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_cap_ok(args.topics_cap))
		return -EINVAL;
	names = kvcalloc(min_t(u32, args.topics_cap, AGNOCAST_ARRAY_MAX) ?: 1,
			 sizeof(*names), GFP_KERNEL);
	if (!names)
		return -ENOMEM;
	mutex_lock(&agnocast_lock);
	hash_for_each(agnocast_topics, bkt, topic, node) {
		if (topic->ns != ns)
			continue;
		if (total < args.topics_cap)
			strscpy(names[total].name, topic->name,
				sizeof(names[total].name));
		total++;
	}
	mutex_unlock(&agnocast_lock);
	if (copy_to_user(u64_to_user_ptr(args.topics), names,
			 min(total, args.topics_cap) * sizeof(*names)) ||
	    put_user(total, &uargs->nr_topics))
		err = -EFAULT;
	kvfree(names);
	return err;
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
			sizeof(*pubs), GFP_KERNEL);
	subs = kvcalloc(min_t(u32, args.subs_cap, AGNOCAST_TOPIC_SUBS_MAX) ?: 1,
			sizeof(*subs), GFP_KERNEL);
	if (!pubs || !subs) {
		err = -ENOMEM;
		goto out;
	}
	mutex_lock(&agnocast_lock);
	topic = agnocast_topic_find(args.topic, agnocast_reader_ns());
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

long agnocast_list_processes(void __user *arg)
{
	struct agnocast_list_processes_args __user *uargs = arg;
	struct agnocast_list_processes_args args;
	struct agnocast_process_info *infos;
	struct agnocast_proc *proc;
	u32 total = 0;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_cap_ok(args.procs_cap))
		return -EINVAL;
	mutex_lock(&agnocast_lock);
	infos = kvcalloc(min(args.procs_cap, agnocast_nr_procs) ?: 1,
			 sizeof(*infos), GFP_KERNEL);
	if (!infos) {
		mutex_unlock(&agnocast_lock);
		return -ENOMEM;
	}
	list_for_each_entry(proc, &agnocast_procs, addr_node) {
		struct agnocast_process_info *info = &infos[total];

		if (!pid_vnr(proc->tgid))
			continue;
		if (total < min(args.procs_cap, agnocast_nr_procs)) {
			agnocast_pool_info(proc, &info->pool);
			info->flags = (proc->joined ? 0 : AGNOCAST_PROC_EXITED) |
				      (proc->pool_file ? AGNOCAST_PROC_ATTACHED : 0);
			info->nr_publishers = proc->nr_pubs;
			info->nr_subscribers = proc->nr_subs;
			info->nr_mappers = proc->nr_mappers;
		}
		total++;
	}
	mutex_unlock(&agnocast_lock);
	if (copy_to_user(u64_to_user_ptr(args.procs), infos,
			 min(total, args.procs_cap) * sizeof(*infos)) ||
	    put_user(total, &uargs->nr_procs))
		err = -EFAULT;
	kvfree(infos);
	return err;
}
