// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: a process is gone.
 *
 * Called once per joined process from the mmu notifier's release, when the
 * last user of its mm is gone: after exit, exec, SIGKILL or a crash alike,
 * with no mmap_lock held and no thread of the process left to race with.
 */
#include "agnocast_internal.h"

void agnocast_proc_exited(struct agnocast_proc *proc)
{
	struct agnocast_pub *pub, *ptmp;
	struct agnocast_sub *sub, *stmp;

	mutex_lock(&agnocast_lock);
	agnocast_proc_unhash(proc);
	proc->joined = false;
	/*
	 * Its publishers' retained history goes; entries that subscribers
	 * still hold stay readable, and keep the pool (and its address
	 * range) alive until released.
	 */
	list_for_each_entry_safe(pub, ptmp, &proc->pubs, proc_node)
		agnocast_pub_remove(pub);
	list_for_each_entry_safe(sub, stmp, &proc->subs, proc_node)
		agnocast_sub_remove(sub);
	agnocast_mapping_drop_all(proc);
	mutex_unlock(&agnocast_lock);

	agnocast_reclaim_drain(proc);
	agnocast_proc_put(proc);	/* the joined reference */
}
