// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: topics.
 *
 * A topic is a name in an IPC namespace. It holds a reference on that
 * namespace, so the namespace cannot be freed and its address reused by a
 * new one while the topic exists: a process that registered on a topic and
 * then moved to another namespace (unshare, setns) keeps its topic in the
 * old namespace, and nobody in a new namespace can meet it.
 *
 * The table (under agnocast_lock) holds a reference on every topic in it;
 * a topic leaves the table when its last endpoint leaves.
 */
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/jhash.h>
#include <linux/nsproxy.h>
#include <linux/proc_ns.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "agnocast_internal.h"

struct hlist_head agnocast_topics[64];		/* agnocast_lock */
unsigned int agnocast_nr_topics;		/* agnocast_lock */

const struct ipc_namespace *agnocast_current_ipc_ns(void)
{
	return current->nsproxy->ipc_ns;
}

/*
 * put_ipc_ns() is not exported on every kernel; the namespace's own
 * operations reach it.
 */
static void agnocast_ipc_ns_put(struct ipc_namespace *ns)
{
#ifdef CONFIG_IPC_NS
	ns->ns.ops->put(&ns->ns);
#endif
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
	u32 bucket = agnocast_topic_hash(name, ns);

	hlist_for_each_entry(topic, &agnocast_topics[bucket], node)
		if (topic->ns == ns && strcmp(topic->name, name) == 0)
			return topic;
	return NULL;
}

/* The caller's topic of that name, with a reference; agnocast_lock held. */
struct agnocast_topic *agnocast_topic_get_or_create(const char *name)
{
	struct ipc_namespace *ns = current->nsproxy->ipc_ns;
	struct agnocast_topic *topic = agnocast_topic_find(name, ns);

	if (topic) {
		kref_get(&topic->ref);
		return topic;
	}
	topic = kzalloc(sizeof(*topic), GFP_KERNEL_ACCOUNT);
	if (!topic)
		return NULL;
	kref_init(&topic->ref);		/* the table's reference */
	kref_get(&topic->ref);		/* the caller's */
	mutex_init(&topic->lock);
	INIT_LIST_HEAD(&topic->pubs);
	INIT_LIST_HEAD(&topic->subs);
	INIT_LIST_HEAD(&topic->entries);
	init_waitqueue_head(&topic->wq);
	topic->ns = get_ipc_ns(ns);
	strscpy(topic->name, name, sizeof(topic->name));
	hlist_add_head(&topic->node,
		       &agnocast_topics[agnocast_topic_hash(name, ns)]);
	WRITE_ONCE(agnocast_nr_topics, agnocast_nr_topics + 1);
	return topic;
}

static void agnocast_topic_free(struct kref *ref)
{
	struct agnocast_topic *topic = container_of(ref, struct agnocast_topic, ref);

	WARN_ON(!list_empty(&topic->entries));
	agnocast_ipc_ns_put(topic->ns);
	mutex_destroy(&topic->lock);
	kfree(topic);
}

void agnocast_topic_put(struct agnocast_topic *topic)
{
	kref_put(&topic->ref, agnocast_topic_free);
}

/* Drop the table's reference once no endpoint is left; agnocast_lock held. */
void agnocast_topic_maybe_remove(struct agnocast_topic *topic)
{
	if (topic->nr_pubs || topic->nr_subs || hlist_unhashed(&topic->node))
		return;
	hlist_del_init(&topic->node);
	WRITE_ONCE(agnocast_nr_topics, agnocast_nr_topics - 1);
	agnocast_topic_put(topic);
}
