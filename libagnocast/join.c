// SPDX-License-Identifier: Apache-2.0
/*
 * Joining and leaving: the process's state (struct lib_state), the stages
 * of a join (a join that failed half-way is finished by the next call),
 * and the pool's geometry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "internal.h"

struct lib_state lib = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.pool_fd = -1,
	.events_fd = -1,
	.queue_fd = -1,
	.endpoints = { .next = &lib.endpoints, .prev = &lib.endpoints },
};

/*
 * No pid check: a task that shares our memory without being of our
 * thread group (clone(CLONE_VM)) is the module's to refuse (EPERM), and a
 * forked child is marked by the atfork handler.
 */
int lib_acting(const char *op)
{
	if (atomic_load_explicit(&lib.joined, memory_order_acquire))
		return 0;
	if (lib.forked)
		return lib_fail(ESRCH, op,
				"this process is a forked child of a joined process, which makes it a new, unjoined process: call agnocast_join() in it (or exec)");
	return lib_fail(ESRCH, op, "this process has not joined: call agnocast_join() first");
}

bool lib_has_pool(void)
{
	return atomic_load_explicit(&lib.joined, memory_order_acquire) || lib.forked;
}

bool lib_own_range(uint64_t p, uint64_t len)
{
	uint64_t size = atomic_load(&lib.size);

	return lib_has_pool() && p >= lib.addr && len <= size && p - lib.addr <= size - len;
}

/*
 * ADD_PROCESS said the process had joined: by this library earlier (a
 * half-made join is finished by its stages, not here), or by hand. A
 * registration nobody attached a pool to yet is finished; one with a pool
 * is someone else's.
 */
static int adopt_existing(void)
{
	struct agnocast_map_pool_args m = { .pool = { .pid = getpid() } };
	int r = lib_ioctl(AGNOCAST_MAP_POOL_CMD, &m);

	if (r == -ENXIO)
		return 0;
	return lib_fail(EBUSY, "AGNOCAST_ADD_PROCESS_CMD",
			"this process joined agnocast and attached a pool outside this library (raw ioctls, or a library copy that does not share its state): join through libagnocast only");
}

/* ADD_PROCESS; the geometry into lib. */
static int add_process(uint64_t size, uint64_t max)
{
	struct agnocast_add_process_args a = { .pool_size = size, .pool_max = max };
	int r = lib_ioctl(AGNOCAST_ADD_PROCESS_CMD, &a);

	if (r < 0)
		return lib_ioctl_fail(-r, "AGNOCAST_ADD_PROCESS_CMD", "joining agnocast failed");
	if ((a.flags & AGNOCAST_JOIN_EXISTING) && (r = adopt_existing()))
		return r;
	lib.addr = a.pool_addr;
	lib.max = a.pool_max;
	atomic_store(&lib.size, a.pool_size);
	return 0;
}

/* The events descriptor, the fork handlers, and the heap's allocator now. */
static int finish(void)
{
	int r = lib.heap ? pool_allocator_init() : 0;

	if (r == 0)
		r = events_open();
	if (r < 0)
		return r;
	fork_register();
	return 0;
}

/* The stages of a join, from wherever an earlier call stopped. lib.lock held. */
static int join_locked(uint64_t size, uint64_t max)
{
	int r;

	if (lib.stage == STAGE_NONE) {
		r = add_process(size, max);
		if (r)
			return r;
		lib.stage = STAGE_ADDED;
	}
	if (lib.stage == STAGE_ADDED) {
		r = pool_create_attach();
		if (r)
			return r;
		lib.stage = STAGE_ATTACHED;
	}
	r = finish();
	if (r)
		return r;
	lib.stage = STAGE_READY;
	lib.pid = getpid();
	atomic_store_explicit(&lib.joined, true, memory_order_release);
	return 0;
}

/* A forked child that joins on its own leaves its parent's state behind. */
static int forget_parent(void)
{
	if (lib.heap)
		return lib_fail(EBUSY, "agnocast_join",
				"this process is a forked child of a process whose heap is its agnocast pool (the heaphook): its heap is a private copy of its parent's pool, so it cannot join; exec a program to join");
	pool_drop_copy();
	lib.forked = false;
	lib.stage = STAGE_NONE;
	atomic_store(&lib.joined, false);
	return 0;
}

static int join_common(uint64_t size, uint64_t max, bool heap, uint32_t flags)
{
	int r = 0;

	pthread_mutex_lock(&lib.lock);
	if (lib.forked)
		r = forget_parent();
	else if (lib.stage == STAGE_READY && lib.pid != getpid())
		r = lib_fail(EPERM, "agnocast_join",
			     "this task shares its memory with the process that joined without being one of its threads (clone(CLONE_VM), or vfork before exec): join from a fork() child or after exec");
	if (r == 0 && lib.stage == STAGE_READY)
		r = 1;
	else if (r == 0) {
		r = lib_device();
		if (r >= 0) {
			lib.heap = heap;
			lib.opts = flags;
			r = join_locked(size, max);
		}
	}
	pthread_mutex_unlock(&lib.lock);
	return r;
}

int lib_join(const struct agnocast_join_opts *opts)
{
	uint64_t size = opts ? opts->pool_size : 0, max = opts ? opts->pool_max : 0;
	int r = 0;

	/* Joined already: the sizes are ignored, whatever they are. */
	if (atomic_load_explicit(&lib.joined, memory_order_acquire))
		return join_common(0, 0, false, 0);
	if (opts && opts->dev_fd >= 0)
		lib_device_borrow(opts->dev_fd);
	if (!size)
		r = lib_env_size(&size);
	if (r == 0 && !max)
		r = lib_env_max(size, &max);
	if (r)
		return r;
	if (max < size)
		return lib_fail(EINVAL, "agnocast_join", "pool_max (%llu) is below pool_size (%llu): raise pool_max",
				(unsigned long long)max, (unsigned long long)size);
	return join_common(size, max, false, opts ? opts->flags : 0);
}

int lib_join_heap(uint64_t size, uint64_t max)
{
	return join_common(size, max, true, 0);
}

int lib_leave(void)
{
	int r = lib_acting("agnocast_leave");

	if (r)
		return r;
	endpoints_remove_all();
	peers_unmap_all();
	pthread_mutex_lock(&lib.lock);
	discovery_close();
	pthread_mutex_unlock(&lib.lock);
	return 0;
}

int lib_pool_info(struct agnocast_pool *out)
{
	int r = lib_acting("agnocast_pool_info");

	if (r)
		return r;
	out->pid = lib.pid;
	out->dev_fd = lib_device();
	out->pool_fd = lib.pool_fd;
	out->flags = lib.heap ? AGNOCAST_POOL_IS_HEAP : 0;
	out->addr = lib.addr;
	out->size = pool_size_now();
	out->max = lib.max;
	return 0;
}

unsigned long lib_grows(void)
{
	return atomic_load_explicit(&lib.grows, memory_order_relaxed);
}
