/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The well-behaved client steps the fuzzer needs: join (with a real pool)
 * and mapping another process's pool, made by libagnocast (pool.c only
 * names the failing step). The pool is written by hand at addresses the
 * fuzzer chooses: the library's allocator is never used (it would take the
 * pool over).
 */
#ifndef FUZZ_POOL_H
#define FUZZ_POOL_H

#include <stdint.h>
#include <sys/types.h>

#include "agnocast.h"

struct fz_pool {
	int shm_fd;		/* read-write descriptor of /agnocast@<pid> */
	uint64_t addr, size, max;
	uint32_t flags;		/* AGNOCAST_JOIN_* of ADD_PROCESS */
};

/*
 * agnocast_join() with dev as the library's device, max 0 meaning the
 * size: ADD_PROCESS, "/agnocast@<pid>" created 0444, sized, mapped
 * MAP_SHARED at pool_addr for pool_max, ATTACH_POOL. Returns 0 or -errno;
 * *step says which step failed ("ADD_PROCESS", "mmap", ...). A failure
 * after ADD_PROCESS leaves the caller joined but unattached, with no name
 * (the next call finishes the join). flags: AGNOCAST_JOIN_EXISTING when
 * the process had joined through the library already.
 */
int fz_join(int dev, uint64_t size, uint64_t max, struct fz_pool *pool,
	    const char **step);

/*
 * agnocast_map_pool(): MAP_POOL (by pid, or by address with pid 0), the
 * returned read-only descriptor mapped PROT_READ at pool.addr for
 * pool.max, once (a pool mapped already is not declared again). Returns 0
 * or -errno; on success *info is the pool and it is mapped (for one's own
 * pool nothing is mapped: info->pid is ours). fz_unmap_pool():
 * agnocast_unmap_pool().
 */
int fz_map_pool(int dev, pid_t pid, uint64_t addr,
		struct agnocast_pool_info *info, const char **step);

/* munmap the pool's range and UNMAP_POOL it (by pid when > 0). */
int fz_unmap_pool(int dev, const struct agnocast_pool_info *info);

#endif
