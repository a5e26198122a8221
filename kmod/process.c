// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: a joined process.
 *
 * A process is its mm together with its thread group: threads share its
 * registration, fork and exec give a new mm, and a task that shares the mm
 * but is another thread group (clone(CLONE_VM), vfork) is refused with
 * EPERM. Joining registers an mmu notifier on the mm, whose release
 * callback tells us, exactly once, that the process is gone however it
 * died.
 *
 * ADD_PROCESS: allocate the proc and the notifier, reserve a range
 * (range.c), and only then, under agnocast_lock, make the proc reachable
 * through the mm hash. A sibling thread joining at the same moment finds
 * the watch already taken and gives its own attempt back.
 */
#include <linux/compat.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

/* Joined processes by mm, for the ioctl fast path. */
static DEFINE_HASHTABLE(agnocast_mm_hash, 6);
static DEFINE_SPINLOCK(agnocast_mm_lock);

/*
 * The calling process, with a reference: ERR_PTR(-ESRCH) if it has not
 * joined, ERR_PTR(-EPERM) if the caller only shares the mm of one that did.
 */
struct agnocast_proc *agnocast_proc_current(void)
{
	struct mm_struct *mm = current->mm;
	struct agnocast_proc *proc;

	spin_lock(&agnocast_mm_lock);
	hash_for_each_possible(agnocast_mm_hash, proc, mm_node, (unsigned long)mm) {
		if (proc->mm != mm)
			continue;
		if (proc->tgid != task_tgid(current)) {
			spin_unlock(&agnocast_mm_lock);
			return ERR_PTR(-EPERM);
		}
		kref_get(&proc->ref);
		spin_unlock(&agnocast_mm_lock);
		return proc;
	}
	spin_unlock(&agnocast_mm_lock);
	return ERR_PTR(-ESRCH);
}

/* The process is gone: no ioctl will find it by its mm any more. */
void agnocast_proc_unhash(struct agnocast_proc *proc)
{
	spin_lock(&agnocast_mm_lock);
	hash_del(&proc->mm_node);
	spin_unlock(&agnocast_mm_lock);
}

/*
 * Free a proc nobody refers to. Its range is released already; no lock is
 * needed. The caller's context holds a module reference of its own (an
 * open file, or the mmu notifier's SRCU section), so dropping ours here is
 * safe.
 */
static void agnocast_proc_release(struct kref *ref)
{
	struct agnocast_proc *proc = container_of(ref, struct agnocast_proc, ref);

	WARN_ON(!list_empty(&proc->addr_node) || proc->pool_file);
	if (proc->attach_cred)
		put_cred(proc->attach_cred);
	put_pid(proc->tgid);
	kfree(proc);
	module_put(THIS_MODULE);
}

void agnocast_proc_put(struct agnocast_proc *proc)
{
	kref_put(&proc->ref, agnocast_proc_release);
}

/* Current size of the pool: what its file holds, within the reservation. */
u64 agnocast_pool_size(const struct agnocast_proc *proc)
{
	struct file *file = READ_ONCE(proc->pool_file);

	if (!file)
		return 0;
	return min_t(u64, i_size_read(file_inode(file)), proc->pool_max);
}

void agnocast_pool_info(const struct agnocast_proc *proc,
			struct agnocast_pool_info *info)
{
	memset(info, 0, sizeof(*info));
	info->pid = pid_vnr(proc->tgid);
	info->addr = proc->pool_addr;
	info->size = agnocast_pool_size(proc);
	info->max = proc->pool_max;
}

static struct mmu_notifier *agnocast_mn_alloc(struct mm_struct *mm)
{
	struct agnocast_mm_watch *watch =
		kzalloc(sizeof(*watch), GFP_KERNEL_ACCOUNT);

	return watch ? &watch->mn : ERR_PTR(-ENOMEM);
}

static void agnocast_mn_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct agnocast_mm_watch, mn));
}

/* The mm is being torn down: its last user is gone, by whatever means. */
static void agnocast_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct agnocast_mm_watch *watch =
		container_of(mn, struct agnocast_mm_watch, mn);
	struct agnocast_proc *proc;

	mutex_lock(&agnocast_lock);
	proc = watch->proc;
	watch->proc = NULL;
	mutex_unlock(&agnocast_lock);
	if (proc)
		agnocast_proc_exited(proc);
	mmu_notifier_put(mn);
}

const struct mmu_notifier_ops agnocast_mn_ops = {
	.release = agnocast_mn_release,
	.alloc_notifier = agnocast_mn_alloc,
	.free_notifier = agnocast_mn_free,
};

static struct agnocast_proc *agnocast_proc_alloc(u64 size, u64 max)
{
	struct agnocast_proc *proc;

	proc = kzalloc(sizeof(*proc), GFP_KERNEL_ACCOUNT);
	if (!proc)
		return NULL;
	kref_init(&proc->ref);		/* the joined reference */
	INIT_LIST_HEAD(&proc->addr_node);
	INIT_LIST_HEAD(&proc->pubs);
	INIT_LIST_HEAD(&proc->subs);
	INIT_LIST_HEAD(&proc->mappings);
	INIT_LIST_HEAD(&proc->reclaimable);
	spin_lock_init(&proc->reclaim_lock);
	atomic_set(&proc->nr_entries, 0);
	proc->mm = current->mm;
	proc->tgid = get_pid(task_tgid(current));
	proc->uid = current_uid();
	proc->state = AGNOCAST_RESERVING;
	proc->pool_max = max;
	proc->slot_len = round_up(max, AGNOCAST_POOL_ALIGN);
	return proc;
}

/* A join that did not happen: nothing of it is reachable. */
static void agnocast_proc_discard(struct agnocast_proc *proc)
{
	put_pid(proc->tgid);
	kfree(proc);
}

/*
 * Make proc the caller's registration, unless a sibling thread's join got
 * there first (then -EEXIST). agnocast_lock held.
 */
static int agnocast_proc_commit(struct agnocast_proc *proc,
				struct agnocast_mm_watch *watch)
{
	if (watch->proc)
		return -EEXIST;
	__module_get(THIS_MODULE);	/* given back by agnocast_proc_release */
	agnocast_range_commit(proc);
	proc->watch = watch;
	watch->proc = proc;
	spin_lock(&agnocast_mm_lock);
	hash_add(agnocast_mm_hash, &proc->mm_node, (unsigned long)proc->mm);
	spin_unlock(&agnocast_mm_lock);
	return 0;
}

/* Join the caller: 0, -EEXIST (a sibling thread joined), or an error. */
static int agnocast_join(u64 size, u64 max)
{
	struct agnocast_mm_watch *watch;
	struct agnocast_proc *proc;
	struct mmu_notifier *mn;
	int err;

	proc = agnocast_proc_alloc(size, max);
	if (!proc)
		return -ENOMEM;
	mn = mmu_notifier_get(&agnocast_mn_ops, current->mm);
	if (IS_ERR(mn)) {
		agnocast_proc_discard(proc);
		return PTR_ERR(mn);
	}
	watch = container_of(mn, struct agnocast_mm_watch, mn);
	err = agnocast_range_reserve(proc);
	if (!err) {
		mutex_lock(&agnocast_lock);
		err = agnocast_proc_commit(proc, watch);
		mutex_unlock(&agnocast_lock);
		if (err)
			agnocast_range_unreserve(proc);
	}
	if (err) {
		/* The watch stays with the registration that has it, if any. */
		mmu_notifier_put(mn);
		agnocast_proc_discard(proc);
	}
	return err;
}

/*
 * Does the caller's mm serve (or did it ever serve) another thread group:
 * a vfork child before exec, or a process that made or is a
 * clone(CLONE_VM) child? Such an mm cannot be one process's registration:
 * it would outlive the thread group that joined with it.
 */
static bool agnocast_mm_shared(void)
{
	return current->vfork_done ||
	       test_bit(MMF_MULTIPROCESS, &current->mm->flags);
}

static long agnocast_add_process_args_ok(struct agnocast_add_process_args *args,
					 u64 *size, u64 *max)
{
	if (args->reserved)
		return -EINVAL;
	*size = args->pool_size;
	*max = args->pool_max ? args->pool_max : *size;
	if (*size == 0 || *max < *size)
		return -EINVAL;
	if (*max > AGNOCAST_POOL_SIZE_MAX)
		return -E2BIG;
	*size = roundup(*size, AGNOCAST_POOL_UNIT);
	*max = roundup(*max, AGNOCAST_POOL_UNIT);
	return 0;
}

long agnocast_add_process(void __user *arg)
{
	struct agnocast_add_process_args args;
	struct agnocast_proc *proc;
	u64 size, max;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	err = agnocast_add_process_args_ok(&args, &size, &max);
	if (err)
		return err;
	if (in_compat_syscall())
		return -EOPNOTSUPP;
	args.flags = 0;
	proc = agnocast_proc_current();
	if (proc == ERR_PTR(-ESRCH) && agnocast_mm_shared()) {
		return -EPERM;
	} else if (proc == ERR_PTR(-ESRCH)) {
		err = agnocast_join(size, max);
		if (err && err != -EEXIST)
			return err;
		args.flags = err ? AGNOCAST_JOIN_EXISTING : 0;
		proc = agnocast_proc_current();
	} else if (!IS_ERR(proc)) {
		args.flags = AGNOCAST_JOIN_EXISTING;
	}
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	args.pool_size = args.flags ? agnocast_pool_size(proc) : size;
	args.pool_max = proc->pool_max;
	args.pool_addr = proc->pool_addr;
	agnocast_proc_put(proc);
	/* A caller that cannot read its answer stays joined (see header). */
	return copy_to_user(arg, &args, sizeof(args)) ? -EFAULT : 0;
}

/* The file must be the caller's "agnocast@<pid>" on tmpfs, opened rw. */
static bool agnocast_pool_file_ok(struct file *file)
{
	struct inode *inode = file_inode(file);
	char name[32];

	if (!(file->f_mode & FMODE_WRITE) || !S_ISREG(inode->i_mode) ||
	    inode->i_sb->s_magic != TMPFS_MAGIC)
		return false;
	snprintf(name, sizeof(name), "agnocast@%d", task_tgid_vnr(current));
	return strcmp(file->f_path.dentry->d_name.name, name) == 0;
}

/* ... and mapped shared, from offset 0, at the pool's address. */
static bool agnocast_pool_mapped(struct file *file, u64 addr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool ok;

	mmap_read_lock(mm);
	vma = find_vma(mm, addr);
	ok = vma && vma->vm_start == addr && vma->vm_file &&
	     file_inode(vma->vm_file) == file_inode(file) &&
	     vma->vm_pgoff == 0 && (vma->vm_flags & VM_SHARED);
	mmap_read_unlock(mm);
	return ok;
}

long agnocast_attach_pool(void __user *arg)
{
	struct agnocast_attach_pool_args args;
	struct agnocast_proc *proc;
	struct file *file;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	file = fget(args.fd);
	if (!file) {
		err = -EBADF;
		goto out_proc;
	}
	if (!agnocast_pool_file_ok(file) ||
	    !agnocast_pool_mapped(file, proc->pool_addr)) {
		err = -EINVAL;
		goto out_file;
	}
	mutex_lock(&agnocast_lock);
	if (proc->pool_file) {
		err = -EBUSY;
	} else {
		proc->attach_cred = get_current_cred();
		WRITE_ONCE(proc->pool_file, file);
		file = NULL;
	}
	mutex_unlock(&agnocast_lock);
out_file:
	if (file)
		fput(file);
out_proc:
	agnocast_proc_put(proc);
	return err;
}
