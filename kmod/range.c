// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: the shared address window.
 *
 * Every pool gets a slot of [AGNOCAST_POOL_BASE, AGNOCAST_POOL_LIMIT):
 * pool_max rounded up to AGNOCAST_POOL_ALIGN, first fit from the base, and
 * clear of the joining process's own mappings. agnocast_procs lists the
 * procs whose slot is reserved, sorted by address; it holds no reference.
 *
 * A slot is reserved from ADD_PROCESS until the process is gone and no
 * process of the owner's user declares (MAP_POOL) that it maps the pool.
 * Declarations of other users do not keep it: one user can neither pin
 * another's slot nor spend another's budget. Each user may reserve at most
 * max_window_per_user bytes in at most max_procs_per_user slots, so no user
 * exhausts the window for the others.
 *
 * ADD_PROCESS checks the candidate slot against the caller's mappings
 * without agnocast_lock: the slot is reserved first (state RESERVING,
 * invisible to lookups), then checked under the caller's mmap_lock, and
 * given back to try past the mapping in the way. Each step is short, so a
 * caller with many mappings costs others nothing but its own time.
 */
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/version.h>

#include "agnocast_internal.h"

LIST_HEAD(agnocast_procs);		/* agnocast_lock */
unsigned int agnocast_nr_procs;		/* live and exited, agnocast_lock */

/* Would one more slot of len bytes exceed the user's budget? agnocast_lock. */
static bool agnocast_user_over(kuid_t uid, u64 len)
{
	struct agnocast_proc *p;
	unsigned int n = 0;
	u64 bytes = len;

	list_for_each_entry(p, &agnocast_procs, addr_node) {
		if (!uid_eq(p->uid, uid))
			continue;
		n++;
		bytes += p->slot_len;
	}
	return n >= READ_ONCE(agnocast_max_procs_per_user) ||
	       bytes > READ_ONCE(agnocast_max_window_per_user);
}

/*
 * Insert proc at the first gap at or above from that holds its slot;
 * agnocast_lock held.
 */
static int agnocast_range_insert(struct agnocast_proc *proc, u64 from)
{
	struct list_head *pos = &agnocast_procs;
	struct agnocast_proc *p;
	u64 addr = from;

	if (agnocast_user_over(proc->uid, proc->slot_len))
		return -EDQUOT;
	list_for_each_entry(p, &agnocast_procs, addr_node) {
		if (p->pool_addr >= addr && p->pool_addr - addr >= proc->slot_len) {
			pos = &p->addr_node;
			break;
		}
		addr = max(addr, p->pool_addr + p->slot_len);
	}
	if (addr > AGNOCAST_POOL_LIMIT ||
	    AGNOCAST_POOL_LIMIT - addr < proc->slot_len)
		return -ENOSPC;
	proc->pool_addr = addr;
	list_add_tail(&proc->addr_node, pos);
	return 0;
}

/*
 * The end of the caller's first mapping that overlaps proc's slot, or 0
 * when the slot is clear of them all.
 */
static int agnocast_range_blocked(struct agnocast_proc *proc, u64 *end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma_intersection(mm, proc->pool_addr,
				    proc->pool_addr + proc->slot_len);
	*end = vma ? vma->vm_end : 0;
	mmap_read_unlock(mm);
	return 0;
}

/* Reserve a slot for a joining process (state RESERVING). */
int agnocast_range_reserve(struct agnocast_proc *proc)
{
	u64 from = AGNOCAST_POOL_BASE, end;
	int err;

	for (;;) {
		mutex_lock(&agnocast_lock);
		err = agnocast_range_insert(proc, from);
		mutex_unlock(&agnocast_lock);
		if (err)
			return err;
		err = agnocast_range_blocked(proc, &end);
		if (!err && !end)
			return 0;
		agnocast_range_unreserve(proc);
		if (err)
			return err;
		if (fatal_signal_pending(current))
			return -EINTR;
		from = round_up(end, AGNOCAST_POOL_ALIGN);
		cond_resched();
	}
}

/* Give back a slot that was never committed. */
void agnocast_range_unreserve(struct agnocast_proc *proc)
{
	mutex_lock(&agnocast_lock);
	list_del_init(&proc->addr_node);
	mutex_unlock(&agnocast_lock);
}

/* The join succeeded: the slot belongs to a live process. agnocast_lock. */
void agnocast_range_commit(struct agnocast_proc *proc)
{
	proc->state = AGNOCAST_LIVE;
	WRITE_ONCE(agnocast_nr_procs, agnocast_nr_procs + 1);
}

/*
 * Release the slot of a process that is gone once its own user no longer
 * maps it; agnocast_lock held. The pool file goes with it: mappers that
 * are still there keep the memory through their own mappings.
 */
void agnocast_range_maybe_release(struct agnocast_proc *proc)
{
	struct file *file;

	if (proc->state != AGNOCAST_EXITED || proc->nr_pins)
		return;
	list_del_init(&proc->addr_node);
	WRITE_ONCE(agnocast_nr_procs, agnocast_nr_procs - 1);
	proc->state = AGNOCAST_RELEASED;
	file = proc->pool_file;
	WRITE_ONCE(proc->pool_file, NULL);
	if (file)
		fput(file);	/* deferred: safe under the lock */
}

/* Whether addr is inside p's slot. */
bool agnocast_slot_covers(const struct agnocast_proc *p, u64 addr)
{
	return addr >= p->pool_addr && addr - p->pool_addr < p->pool_max;
}

/*
 * The pool named by pid (> 0, in the caller's pid namespace), by any
 * address inside its slot (pid 0), or by both (pid > 0 and addr != 0: that
 * pid's pool, if its slot covers addr): a live or exited process whose
 * slot is reserved. A pid names the process that has it now, else an
 * exited owner that had it. Its reference count is not zero (the joined
 * reference, or a pinning mapping's). agnocast_lock held.
 */
struct agnocast_proc *agnocast_pool_find(pid_t pid, u64 addr)
{
	struct agnocast_proc *p, *found = NULL;
	struct pid *now = NULL;

	if (pid) {
		rcu_read_lock();
		now = find_vpid(pid);
		rcu_read_unlock();	/* only compared, never dereferenced */
	}
	list_for_each_entry(p, &agnocast_procs, addr_node) {
		if (p->state == AGNOCAST_RESERVING)
			continue;
		if (!pid) {
			if (agnocast_slot_covers(p, addr))
				return p;
			continue;
		}
		if (addr && !agnocast_slot_covers(p, addr))
			continue;
		if (p->tgid == now)
			return p;
		if (p->state == AGNOCAST_EXITED && !found && pid_vnr(p->tgid) == pid)
			found = p;
	}
	return found;
}

static void agnocast_vfs_unlink(struct file *file, struct inode *dir,
				struct dentry *dentry)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vfs_unlink(file_mnt_idmap(file), dir, dentry, NULL);
#else
	vfs_unlink(file_mnt_user_ns(file), dir, dentry, NULL);
#endif
}

/*
 * Remove the pool's name: the dentry the attached file has now
 * ("/agnocast@<pid>", or wherever the owner renamed it), unless it was
 * unlinked already (then a later process with the same pid may have created
 * its own under that name: that one is left alone), as the process that
 * attached it. Called with no lock of ours held, in the context of
 * whoever dropped the owner's mm; nobody else waits for it.
 */
void agnocast_pool_unlink(struct file *file, const struct cred *cred)
{
	struct dentry *dentry = file->f_path.dentry;
	const struct cred *old;
	struct dentry *parent;
	struct inode *dir;

	if (mnt_want_write(file->f_path.mnt))
		return;
	old = override_creds(cred);
	/*
	 * Our own reference, as a lookup would give: with only the file's,
	 * d_delete() would turn the dentry negative under the open file.
	 */
	dget(dentry);
	parent = dget_parent(dentry);
	dir = d_inode(parent);
	inode_lock_nested(dir, I_MUTEX_PARENT);
	if (dentry->d_parent == parent && !d_unhashed(dentry) &&
	    d_inode(dentry) == file_inode(file))
		agnocast_vfs_unlink(file, dir, dentry);
	inode_unlock(dir);
	dput(parent);
	dput(dentry);
	revert_creds(old);
	mnt_drop_write(file->f_path.mnt);
}
