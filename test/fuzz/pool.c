// SPDX-License-Identifier: Apache-2.0
/*
 * The well-behaved client steps (see pool.h), by libagnocast: joining and
 * mapping other pools are the library's; this file names the step that
 * failed the way the fuzzer's reports do.
 */
#define _GNU_SOURCE
#include <string.h>

#include "libagnocast.h"
#include "pool.h"

/* The failing step, from the operation the library names; returns r. */
static int failed(int r, const char **step)
{
	static const struct { const char *op, *step; } steps[] = {
		{ "AGNOCAST_ADD_PROCESS_CMD", "ADD_PROCESS" },
		{ "agnocast_join", "ADD_PROCESS" },	/* the arguments, as ADD_PROCESS reads them */
		{ "open " AGNOCAST_DEVICE_PATH, "ADD_PROCESS" },
		{ "AGNOCAST_ATTACH_POOL_CMD", "ATTACH_POOL" },
		{ "AGNOCAST_MAP_POOL_CMD", "MAP_POOL" },
		{ "agnocast_map_pool", "MAP_POOL" },
	};
	const char *op = agnocast_last_error_op();
	size_t i;

	if (step) {
		*step = op;	/* "shm_open", "ftruncate", "mmap", ... */
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			if (!strcmp(op, steps[i].op))
				*step = steps[i].step;
	}
	return r;
}

int fz_join(int dev, uint64_t size, uint64_t max, struct fz_pool *pool,
	    const char **step)
{
	/* max 0 is the size to the module: say so to the library. */
	struct agnocast_join_opts o = { .pool_size = size, .pool_max = max ? max : size,
					.dev_fd = dev, .flags = AGNOCAST_OPT_NO_DISCOVERY };
	struct agnocast_pool p;
	int joined = agnocast_join(&o), r;

	if (joined < 0)
		return failed(joined, step);
	if ((r = agnocast_pool_info(&p)) < 0)
		return failed(r, step);
	pool->shm_fd = p.pool_fd;
	pool->addr = p.addr;
	pool->size = p.size;
	pool->max = p.max;
	pool->flags = joined == 1 ? AGNOCAST_JOIN_EXISTING : 0;
	return 0;
}

int fz_map_pool(int dev, pid_t pid, uint64_t addr,
		struct agnocast_pool_info *info, const char **step)
{
	int r;

	(void)dev;	/* the library's: the module knows the process, not the file */
	r = agnocast_map_pool(pid, addr, info);
	return r < 0 ? failed(r, step) : 0;
}

int fz_unmap_pool(int dev, const struct agnocast_pool_info *info)
{
	(void)dev;
	return agnocast_unmap_pool(info->addr);
}
