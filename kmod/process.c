// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: joined processes, their address ranges and pools.
 *
 * A process is identified by its mm: threads share it, fork and exec give a
 * new one. Joining registers an mmu notifier on the mm, whose release
 * callback tells us, exactly once, that the process is gone however it died.
 *
 * Address ranges are handed out first-fit from AGNOCAST_POOL_BASE in slots of
 * pool_max rounded up to AGNOCAST_POOL_ALIGN. A slot stays taken while its
 * proc struct lives: while the process is joined, while an entry of its pool
 * is alive, and while any process declares (MAP_POOL) that it maps it.
 */
#include <linux/anon_inodes.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "agnocast_internal.h"

LIST_HEAD(agnocast_procs);		/* agnocast_lock */
unsigned int agnocast_nr_procs;		/* agnocast_lock */
unsigned int agnocast_nr_mappings;	/* agnocast_lock */

/* Joined processes by mm, for the ioctl fast path. */
static DEFINE_HASHTABLE(agnocast_mm_hash, 6);
static DEFINE_SPINLOCK(agnocast_mm_lock);

struct agnocast_proc *agnocast_proc_current(void)
{
	struct mm_struct *mm = current->mm;
	struct agnocast_proc *proc;

	spin_lock(&agnocast_mm_lock);
	hash_for_each_possible(agnocast_mm_hash, proc, mm_node, (unsigned long)mm) {
		if (proc->mm == mm) {
			kref_get(&proc->ref);
			spin_unlock(&agnocast_mm_lock);
			return proc;
		}
	}
	spin_unlock(&agnocast_mm_lock);
	return NULL;
}

static void agnocast_proc_release(struct kref *ref)
{
	struct agnocast_proc *proc = container_of(ref, struct agnocast_proc, ref);

	queue_work(agnocast_wq, &proc->free_work);
}

void agnocast_proc_put(struct agnocast_proc *proc)
{
	kref_put(&proc->ref, agnocast_proc_release);
}

/*
 * Remove "/agnocast@<pid>" if the name still refers to our pool (the owner
 * may have unlinked it, and a later process with the same pid may have
 * created its own under that name).
 */
static void agnocast_pool_unlink(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;
	struct dentry *parent;
	struct inode *dir;

	if (mnt_want_write(file->f_path.mnt))
		return;
	/*
	 * Our own reference, as a lookup would give: with only the file's,
	 * d_delete() would turn the dentry negative under the open file.
	 */
	dget(dentry);
	parent = dget_parent(dentry);
	dir = d_inode(parent);
	inode_lock_nested(dir, I_MUTEX_PARENT);
	if (dentry->d_parent == parent && !d_unhashed(dentry) &&
	    d_inode(dentry) == file_inode(file)) {
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
		vfs_unlink(file_mnt_idmap(file), dir, dentry, NULL);
#else
		vfs_unlink(file_mnt_user_ns(file), dir, dentry, NULL);
#endif
	}
	inode_unlock(dir);
	dput(parent);
	dput(dentry);
	mnt_drop_write(file->f_path.mnt);
}

static void agnocast_proc_free(struct work_struct *work)
{
	struct agnocast_proc *proc =
		container_of(work, struct agnocast_proc, free_work);

	mutex_lock(&agnocast_lock);
	list_del(&proc->addr_node);
	agnocast_nr_procs--;
	mutex_unlock(&agnocast_lock);
	if (proc->pool_file) {
		agnocast_pool_unlink(proc->pool_file);
		fput(proc->pool_file);
	}
	put_pid(proc->tgid);
	kfree(proc);
	/* Safe: module exit destroys agnocast_wq, waiting for this work. */
	module_put(THIS_MODULE);
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
	struct agnocast_mm_watch *watch = kzalloc(sizeof(*watch), GFP_KERNEL);

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

/*
 * Can len bytes go at *addr or above, below end, clear of every mapping the
 * caller has (a runtime may have reserved address space up here: V8 picks
 * random addresses below 64 TiB)? Moves *addr past the mappings in the way.
 * The caller's mmap_lock held.
 */
static bool agnocast_fits(struct mm_struct *mm, u64 *addr, u64 end, u64 len)
{
	struct vm_area_struct *vma;

	while (*addr <= end && end - *addr >= len) {
		vma = find_vma_intersection(mm, *addr, *addr + len);
		if (!vma)
			return true;
		*addr = round_up((u64)vma->vm_end, AGNOCAST_POOL_ALIGN);
	}
	return false;
}

/*
 * First fit from the base among the other pools' ranges, clear of the
 * caller's own mappings; agnocast_lock held (mmap_lock nests inside it).
 */
static int agnocast_assign_range(struct agnocast_proc *proc)
{
	struct list_head *pos = &agnocast_procs;
	struct mm_struct *mm = current->mm;
	struct agnocast_proc *p;
	u64 addr = AGNOCAST_POOL_BASE;
	bool found = false;

	mmap_read_lock(mm);
	list_for_each_entry(p, &agnocast_procs, addr_node) {
		if (agnocast_fits(mm, &addr, p->pool_addr, proc->slot_len)) {
			pos = &p->addr_node;
			found = true;
			break;
		}
		addr = max(addr, p->pool_addr + p->slot_len);
	}
	if (!found)
		found = agnocast_fits(mm, &addr, AGNOCAST_POOL_LIMIT, proc->slot_len);
	mmap_read_unlock(mm);
	if (!found)
		return -ENOSPC;
	proc->pool_addr = addr;
	list_add_tail(&proc->addr_node, pos);
	agnocast_nr_procs++;
	return 0;
}

static void agnocast_add_process_reply(const struct agnocast_proc *proc,
				       struct agnocast_add_process_args *args)
{
	args->pool_size = agnocast_pool_size(proc);
	args->pool_max = proc->pool_max;
	args->pool_addr = proc->pool_addr;
}

/* Under agnocast_lock: create the proc and tie it to the caller's mm. */
static struct agnocast_proc *agnocast_join(u64 size, u64 max)
{
	struct agnocast_proc *proc;
	struct mmu_notifier *mn;
	int err;

	proc = kzalloc(sizeof(*proc), GFP_KERNEL);
	if (!proc)
		return ERR_PTR(-ENOMEM);
	kref_init(&proc->ref);		/* the joined reference */
	INIT_LIST_HEAD(&proc->pubs);
	INIT_LIST_HEAD(&proc->subs);
	INIT_LIST_HEAD(&proc->mappings);
	INIT_LIST_HEAD(&proc->reclaimable);
	spin_lock_init(&proc->reclaim_lock);
	INIT_WORK(&proc->free_work, agnocast_proc_free);
	proc->mm = current->mm;
	proc->pool_max = max;
	proc->slot_len = round_up(max, AGNOCAST_POOL_ALIGN);
	err = agnocast_assign_range(proc);
	if (err) {
		kfree(proc);
		return ERR_PTR(err);
	}
	mn = mmu_notifier_get(&agnocast_mn_ops, current->mm);
	if (!IS_ERR(mn) && WARN_ON(container_of(mn, struct agnocast_mm_watch, mn)->proc)) {
		/* Cannot happen: the mm's proc would be in the hash. */
		mmu_notifier_put(mn);
		mn = ERR_PTR(-EBUSY);
	}
	if (IS_ERR(mn)) {
		list_del(&proc->addr_node);
		agnocast_nr_procs--;
		kfree(proc);
		return ERR_CAST(mn);
	}
	/* From here on the free work owns the cleanup. */
	__module_get(THIS_MODULE);
	proc->tgid = get_pid(task_tgid(current));
	proc->watch = container_of(mn, struct agnocast_mm_watch, mn);
	proc->watch->proc = proc;
	proc->joined = true;
	spin_lock(&agnocast_mm_lock);
	hash_add(agnocast_mm_hash, &proc->mm_node, (unsigned long)proc->mm);
	spin_unlock(&agnocast_mm_lock);
	return proc;
}

long agnocast_add_process(void __user *arg)
{
	struct agnocast_add_process_args args;
	struct agnocast_proc *proc;
	long err = 0;
	u64 size, max;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.reserved)
		return -EINVAL;
	args.flags = 0;
	size = args.pool_size;
	max = args.pool_max ? args.pool_max : size;
	if (size == 0 || max < size)
		return -EINVAL;
	if (max > AGNOCAST_POOL_SIZE_MAX)
		return -E2BIG;
	size = roundup(size, AGNOCAST_POOL_UNIT);
	max = roundup(max, AGNOCAST_POOL_UNIT);

	mutex_lock(&agnocast_lock);
	proc = agnocast_proc_current();
	if (proc) {
		args.flags = AGNOCAST_JOIN_EXISTING;
		agnocast_add_process_reply(proc, &args);
		agnocast_proc_put(proc);
	} else {
		proc = agnocast_join(size, max);
		if (IS_ERR(proc)) {
			err = PTR_ERR(proc);
		} else {
			agnocast_add_process_reply(proc, &args);
			args.pool_size = size;	/* nothing attached yet */
		}
	}
	mutex_unlock(&agnocast_lock);
	if (err)
		return err;
	/*
	 * A caller that cannot read its answer stays joined: joining again
	 * returns the same pool, and the mm release cleans up in any case.
	 */
	return copy_to_user(arg, &args, sizeof(args)) ? -EFAULT : 0;
}

/* The file must be the caller's "/agnocast@<pid>" on tmpfs, opened rw. */
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
	if (!proc)
		return -ESRCH;
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

/* The pool of the process numbered pid (the live one first); agnocast_lock. */
static struct agnocast_proc *agnocast_proc_by_pid(pid_t pid)
{
	struct agnocast_proc *proc, *found = NULL;

	list_for_each_entry(proc, &agnocast_procs, addr_node) {
		if (pid_vnr(proc->tgid) != pid)
			continue;
		if (proc->joined)
			return proc;
		if (!found && proc->pool_file)
			found = proc;
	}
	return found;
}

static struct agnocast_mapping *
agnocast_mapping_find(struct agnocast_proc *mapper, struct agnocast_proc *owner)
{
	struct agnocast_mapping *map;

	list_for_each_entry(map, &mapper->mappings, node)
		if (map->owner == owner)
			return map;
	return NULL;
}

static void agnocast_mapping_free(struct agnocast_mapping *map)
{
	list_del(&map->node);
	map->owner->nr_mappers--;
	agnocast_nr_mappings--;
	agnocast_proc_put(map->owner);
	kfree(map);
}

/* Drop every mapping a process declared; agnocast_lock held. */
void agnocast_mapping_drop_all(struct agnocast_proc *proc)
{
	struct agnocast_mapping *map, *tmp;

	list_for_each_entry_safe(map, tmp, &proc->mappings, node)
		agnocast_mapping_free(map);
}

long agnocast_map_pool(void __user *arg, bool map)
{
	struct agnocast_map_pool_args args;
	struct agnocast_mapping *m, *fresh = NULL;
	struct agnocast_proc *proc, *owner;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.pool.reserved || args.pool.pid <= 0)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	if (map) {
		fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
		if (!fresh) {
			agnocast_proc_put(proc);
			return -ENOMEM;
		}
	}

	mutex_lock(&agnocast_lock);
	owner = agnocast_proc_by_pid(args.pool.pid);
	if (!owner) {
		err = -ENOENT;
		goto out_unlock;
	}
	if (!owner->pool_file) {
		err = -ENXIO;
		goto out_unlock;
	}
	agnocast_pool_info(owner, &args.pool);
	if (owner == proc)
		goto out_unlock;
	m = agnocast_mapping_find(proc, owner);
	if (!map) {
		if (!m)
			err = -EINVAL;
		else if (--m->count == 0)
			agnocast_mapping_free(m);
		goto out_unlock;
	}
	if (!m) {
		m = fresh;
		fresh = NULL;
		kref_get(&owner->ref);
		m->owner = owner;
		list_add_tail(&m->node, &proc->mappings);
		owner->nr_mappers++;
		agnocast_nr_mappings++;
	}
	m->count++;
out_unlock:
	mutex_unlock(&agnocast_lock);
	kfree(fresh);
	agnocast_proc_put(proc);
	if (err)
		return err;
	/* A MAP_POOL whose answer is lost stays declared; UNMAP_POOL undoes. */
	return copy_to_user(arg, &args, sizeof(args)) ? -EFAULT : 0;
}

/*
 * An entry of proc's pool became reclaimable: queue it for the owner, or
 * free it if the owner is gone. Any context that may sleep is fine; called
 * under a topic lock.
 */
void agnocast_reclaim_queue(struct agnocast_msg *entry)
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

void agnocast_entry_free(struct agnocast_msg *entry)
{
	atomic_dec(&agnocast_nr_entries);
	agnocast_proc_put(entry->proc);
	kfree(entry);
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
	list_for_each_entry_safe(entry, tmp, &list, pub_node)
		agnocast_entry_free(entry);
}

/* Move up to max reclaimable entries, oldest first, onto out. */
unsigned int agnocast_reclaim_pop(struct agnocast_proc *proc,
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

/* Give popped entries back, in front, when they could not be handed out. */
void agnocast_reclaim_unpop(struct agnocast_proc *proc,
			    struct list_head *list, unsigned int n)
{
	spin_lock(&proc->reclaim_lock);
	list_splice(list, &proc->reclaimable);
	proc->nr_reclaimable += n;
	spin_unlock(&proc->reclaim_lock);
}

long agnocast_reclaim(void __user *arg)
{
	struct agnocast_reclaim_args __user *uargs = arg;
	struct agnocast_reclaim_args args;
	struct agnocast_msg *entry, *tmp;
	struct agnocast_proc *proc;
	unsigned int n, i = 0;
	LIST_HEAD(list);
	u64 __user *out;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.addrs_cap == 0 || args.addrs_cap > AGNOCAST_ARRAY_MAX)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (!proc)
		return -ESRCH;
	out = u64_to_user_ptr(args.addrs);
	n = agnocast_reclaim_pop(proc, &list, args.addrs_cap);
	list_for_each_entry(entry, &list, pub_node) {
		if (put_user(entry->addr, out + i)) {
			err = -EFAULT;
			break;
		}
		i++;
	}
	if (!err && put_user(n, &uargs->nr_addrs))
		err = -EFAULT;
	if (err) {
		agnocast_reclaim_unpop(proc, &list, n);
	} else {
		list_for_each_entry_safe(entry, tmp, &list, pub_node)
			agnocast_entry_free(entry);
	}
	agnocast_proc_put(proc);
	return err;
}

/* The process is gone: no ioctl will find it by its mm any more. */
void agnocast_proc_unhash(struct agnocast_proc *proc)
{
	spin_lock(&agnocast_mm_lock);
	hash_del(&proc->mm_node);
	spin_unlock(&agnocast_mm_lock);
}

void agnocast_process_exit(void)
{
	WARN_ON(!list_empty(&agnocast_procs));
}
