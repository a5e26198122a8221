// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: a process is gone.
 *
 * Called once per joined process from the mmu notifier's release, when the
 * last user of its mm is gone: after exit, exec, SIGKILL or a crash alike,
 * with no mmap_lock held and no thread of the process left to race with.
 * Everything it registered goes; entries of its pool that subscribers hold
 * stay readable until they are released (their mappings keep the memory);
 * its slot stays reserved while processes of its user declare they map it.
 * Its pool's name is unlinked here, as the process that attached it.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sched.h>

#include "agnocast_internal.h"

/* Remove everything proc registered; agnocast_lock held. */
static void agnocast_proc_unregister(struct agnocast_proc *proc)
{
	struct agnocast_pub *pub, *ptmp;
	struct agnocast_sub *sub, *stmp;

	list_for_each_entry_safe(pub, ptmp, &proc->pubs, proc_node) {
		agnocast_pub_remove(pub);
		cond_resched();
	}
	list_for_each_entry_safe(sub, stmp, &proc->subs, proc_node) {
		agnocast_sub_remove(sub);
		cond_resched();
	}
	agnocast_mapping_drop_all(proc);
}

void agnocast_proc_exited(struct agnocast_proc *proc)
{
	struct file *name = NULL;

	mutex_lock(&agnocast_lock);
	agnocast_proc_unhash(proc);
	proc->state = AGNOCAST_EXITED;
	agnocast_proc_unregister(proc);
	if (proc->pool_file)
		name = get_file(proc->pool_file);
	agnocast_range_maybe_release(proc);
	mutex_unlock(&agnocast_lock);

	agnocast_reclaim_drain(proc);
	if (name) {
		agnocast_pool_unlink(name, proc->attach_cred);
		fput(name);
	}
	agnocast_proc_put(proc);	/* the joined reference */
}
