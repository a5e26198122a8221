// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: MAP_POOL / UNMAP_POOL, who maps whose pool.
 *
 * MAP_POOL hands the caller a new read-only descriptor of the very file the
 * owner attached (opened from the module's own reference, never looked up
 * by name) and records a declaration (struct agnocast_mapping) on the
 * caller. A declaration by a process of the owner's user pins the owner's
 * slot (range.c) after the owner is gone.
 *
 * Commit last: the owner is looked up and referenced, the descriptor
 * opened and the answer copied out first; the declaration is recorded and
 * the descriptor installed only then, after re-checking under the lock
 * that the owner's slot is still reserved and the bounds still hold.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

unsigned int agnocast_nr_mappings;	/* agnocast_lock */

static struct agnocast_mapping *
agnocast_mapping_find(struct agnocast_proc *mapper, struct agnocast_proc *owner)
{
	struct agnocast_mapping *map;

	list_for_each_entry(map, &mapper->mappings, node)
		if (map->owner == owner)
			return map;
	return NULL;
}

/* Drop a declaration; agnocast_lock held. */
static void agnocast_mapping_free(struct agnocast_proc *mapper,
				  struct agnocast_mapping *map)
{
	struct agnocast_proc *owner = map->owner;

	list_del(&map->node);
	mapper->nr_mappings--;
	owner->nr_mappers--;
	agnocast_nr_mappings--;
	if (map->pins) {
		owner->nr_pins--;
		agnocast_range_maybe_release(owner);
	}
	kfree(map);
	agnocast_proc_put(owner);
}

/* Drop every declaration of a process that is gone; agnocast_lock held. */
void agnocast_mapping_drop_all(struct agnocast_proc *mapper)
{
	struct agnocast_mapping *map, *tmp;

	list_for_each_entry_safe(map, tmp, &mapper->mappings, node) {
		agnocast_mapping_free(mapper, map);
		cond_resched();
	}
}

/* May mapper declare one more MAP_POOL of owner? agnocast_lock held. */
static long agnocast_mapping_room(struct agnocast_proc *mapper,
				  struct agnocast_proc *owner)
{
	struct agnocast_mapping *map = agnocast_mapping_find(mapper, owner);

	if (map)
		return map->count < AGNOCAST_MAP_COUNT_MAX ? 0 : -EDQUOT;
	return mapper->nr_mappings < READ_ONCE(agnocast_max_mappings_per_process) ?
	       0 : -EDQUOT;
}

/*
 * Record one MAP_POOL, consuming the owner reference the caller holds
 * (kept by a new declaration, dropped for an existing one); agnocast_lock
 * held.
 */
static void agnocast_mapping_add(struct agnocast_proc *mapper,
				 struct agnocast_proc *owner,
				 struct agnocast_mapping **fresh)
{
	struct agnocast_mapping *map = agnocast_mapping_find(mapper, owner);

	if (map) {
		map->count++;
		agnocast_proc_put(owner);
		return;
	}
	map = *fresh;
	*fresh = NULL;
	map->owner = owner;
	map->count = 1;
	map->pins = uid_eq(mapper->uid, owner->uid);
	list_add_tail(&map->node, &mapper->mappings);
	mapper->nr_mappings++;
	owner->nr_mappers++;
	owner->nr_pins += map->pins;
	agnocast_nr_mappings++;
}

static bool agnocast_pool_key_ok(s32 pid, u32 reserved)
{
	return pid >= 0 && !reserved;
}

/*
 * Look up the pool to map, with a reference, its geometry and its file;
 * agnocast_lock held.
 */
static long agnocast_map_lookup(struct agnocast_proc *proc,
				struct agnocast_map_pool_args *args,
				struct agnocast_proc **owner, struct file **file)
{
	struct agnocast_proc *o = agnocast_pool_find(args->pool.pid,
						     args->pool.addr);

	if (!o)
		return -ENOENT;
	if (!o->pool_file)
		return -ENXIO;
	agnocast_pool_info(o, &args->pool);
	if (o == proc)
		return 0;
	if (agnocast_mapping_room(proc, o))
		return -EDQUOT;
	kref_get(&o->ref);
	*owner = o;
	*file = get_file(o->pool_file);
	return 0;
}

/* Open a read-only descriptor of the pool file into an unused fd. */
static struct file *agnocast_map_open(struct file *pool, int *fd)
{
	struct file *ro;

	*fd = get_unused_fd_flags(O_CLOEXEC);
	if (*fd < 0)
		return ERR_PTR(*fd);
	ro = dentry_open(&pool->f_path, O_RDONLY | O_LARGEFILE, current_cred());
	if (IS_ERR(ro))
		put_unused_fd(*fd);
	return ro;
}

/* Declare the mapping unless the owner's slot went or a bound was hit. */
static long agnocast_map_commit(struct agnocast_proc *proc,
				struct agnocast_proc *owner,
				struct agnocast_mapping **fresh)
{
	long err;

	mutex_lock(&agnocast_lock);
	if (owner->state != AGNOCAST_LIVE && owner->state != AGNOCAST_EXITED)
		err = -ENOENT;
	else
		err = agnocast_mapping_room(proc, owner);
	if (!err)
		agnocast_mapping_add(proc, owner, fresh);
	mutex_unlock(&agnocast_lock);
	return err;
}

long agnocast_map_pool(void __user *arg)
{
	struct agnocast_map_pool_args args;
	struct agnocast_mapping *fresh;
	struct agnocast_proc *proc, *owner = NULL;
	struct file *pool = NULL, *ro = NULL;
	long err;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_pool_key_ok(args.pool.pid, args.pool.reserved) ||
	    args.reserved)
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh) {
		err = -ENOMEM;
		goto out;
	}
	mutex_lock(&agnocast_lock);
	err = agnocast_map_lookup(proc, &args, &owner, &pool);
	mutex_unlock(&agnocast_lock);
	args.fd = -1;
	if (err || !owner)
		goto out_copy;
	ro = agnocast_map_open(pool, &args.fd);
	fput(pool);
	if (IS_ERR(ro)) {
		err = PTR_ERR(ro);
		goto out_owner;
	}
out_copy:
	if (!err && copy_to_user(arg, &args, sizeof(args)))
		err = -EFAULT;
	if (!err && owner)
		err = agnocast_map_commit(proc, owner, &fresh);
	if (!err && owner) {
		fd_install(args.fd, ro);
		goto out;
	}
	if (!IS_ERR_OR_NULL(ro)) {
		fput(ro);
		put_unused_fd(args.fd);
	}
out_owner:
	if (owner && err)
		agnocast_proc_put(owner);
out:
	kfree(fresh);
	agnocast_proc_put(proc);
	return err;
}

/*
 * The caller's declaration of the pool named by pid, address or both (as
 * agnocast_pool_find() names pools): of a pool whose slot is still reserved
 * first, then of one already released (a declaration of another user's
 * pool outlives the slot, and a new pool may have that slot by now: only
 * pid and address together tell the two apart).
 */
static struct agnocast_mapping *
agnocast_mapping_by_key(struct agnocast_proc *mapper, s32 pid, u64 addr)
{
	struct agnocast_mapping *map, *released = NULL;
	struct agnocast_proc *o;

	list_for_each_entry(map, &mapper->mappings, node) {
		o = map->owner;
		if ((pid && pid_vnr(o->tgid) != pid) ||
		    ((addr || !pid) && !agnocast_slot_covers(o, addr)))
			continue;
		if (o->state != AGNOCAST_RELEASED)
			return map;
		released = released ?: map;
	}
	return released;
}

long agnocast_unmap_pool(void __user *arg)
{
	struct agnocast_unmap_pool_args args;
	struct agnocast_mapping *map;
	struct agnocast_proc *proc;
	long err = 0;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (!agnocast_pool_key_ok(args.pid, args.reserved))
		return -EINVAL;
	proc = agnocast_proc_current();
	if (IS_ERR(proc))
		return PTR_ERR(proc);
	mutex_lock(&agnocast_lock);
	map = agnocast_mapping_by_key(proc, args.pid, args.addr);
	if (map) {
		if (--map->count == 0)
			agnocast_mapping_free(proc, map);
	} else if (agnocast_pool_find(args.pid, args.addr)) {
		err = -EINVAL;
	} else {
		err = -ENOENT;
	}
	mutex_unlock(&agnocast_lock);
	agnocast_proc_put(proc);
	return err;
}
