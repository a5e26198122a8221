// SPDX-License-Identifier: Apache-2.0
/*
 * The well-behaved client steps (see pool.h): the minimum, to be replaced
 * by libagnocast.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pool.h"

static void *u2p(uint64_t a)
{
	return (void *)(uintptr_t)a;
}

static int shm_create(char *name, size_t len)
{
	int fd;

	snprintf(name, len, "/agnocast@%d", (int)getpid());
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	if (fd < 0 && errno == EEXIST) {
		shm_unlink(name);	/* a dead process's, with our pid */
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	}
	return fd;
}

static int join_fail(const char **step, const char *what, int err)
{
	if (step)
		*step = what;
	return -err;
}

int fz_join(int dev, uint64_t size, uint64_t max, struct fz_pool *pool,
	    const char **step)
{
	struct agnocast_add_process_args a = { .pool_size = size, .pool_max = max };
	struct agnocast_attach_pool_args at = { 0 };
	char name[64];
	void *p;
	int err;

	if (ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a))
		return join_fail(step, "ADD_PROCESS", errno);
	pool->addr = a.pool_addr;
	pool->size = a.pool_size;
	pool->max = a.pool_max;
	pool->flags = a.flags;
	pool->shm_fd = shm_create(name, sizeof(name));
	if (pool->shm_fd < 0)
		return join_fail(step, "shm_open", errno);
	if (ftruncate(pool->shm_fd, pool->size)) {
		err = join_fail(step, "ftruncate", errno);
		goto out_name;
	}
	p = mmap(u2p(pool->addr), pool->max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, pool->shm_fd, 0);
	if (p != u2p(pool->addr)) {
		err = join_fail(step, "mmap", p == MAP_FAILED ? errno : EEXIST);
		if (p != MAP_FAILED)
			munmap(p, pool->max);
		goto out_name;
	}
	at.fd = pool->shm_fd;
	if (ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at)) {
		err = join_fail(step, "ATTACH_POOL", errno);
		munmap(p, pool->max);
		goto out_name;
	}
	return 0;

out_name:
	shm_unlink(name);
	close(pool->shm_fd);
	pool->shm_fd = -1;
	return err;
}

int fz_map_pool(int dev, pid_t pid, uint64_t addr,
		struct agnocast_pool_info *info, const char **step)
{
	struct agnocast_map_pool_args a;
	void *p;
	int err;

	memset(&a, 0, sizeof(a));
	a.pool.pid = pid;
	a.pool.addr = addr;
	if (ioctl(dev, AGNOCAST_MAP_POOL_CMD, &a))
		return join_fail(step, "MAP_POOL", errno);
	*info = a.pool;
	if (a.fd < 0)
		return 0;	/* our own pool */
	p = mmap(u2p(a.pool.addr), a.pool.max, PROT_READ,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, a.fd, 0);
	err = p == MAP_FAILED ? errno : 0;
	if (!err && p != u2p(a.pool.addr)) {
		munmap(p, a.pool.max);
		err = EEXIST;
	}
	close(a.fd);
	if (err) {
		struct agnocast_unmap_pool_args u = { .pid = 0, .addr = a.pool.addr };

		ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &u);
		return join_fail(step, "mmap", err);
	}
	return 0;
}

int fz_unmap_pool(int dev, const struct agnocast_pool_info *info)
{
	struct agnocast_unmap_pool_args u = { .pid = info->pid, .addr = info->addr };

	munmap(u2p(info->addr), info->max);
	if (ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &u))
		return -errno;
	return 0;
}
