/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The well-behaved client steps the fuzzer needs: join (with a real pool)
 * and mapping another process's pool. Kept this narrow on purpose: once
 * the C client library (libagnocast) lands, pool.c is replaced by calls
 * to it and nothing else changes.
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
 * ADD_PROCESS, shm_open("/agnocast@<pid>", O_CREAT | O_EXCL | O_RDWR,
 * 0444) (a stale name of a dead process with our pid is unlinked first),
 * ftruncate to the pool size, mmap MAP_SHARED | MAP_FIXED_NOREPLACE at
 * pool_addr for pool_max, ATTACH_POOL. Returns 0 or -errno; *step says
 * which step failed ("ADD_PROCESS", "mmap", ...). A failure after
 * ADD_PROCESS leaves the caller joined but unattached, with no name.
 */
int fz_join(int dev, uint64_t size, uint64_t max, struct fz_pool *pool,
	    const char **step);

/*
 * MAP_POOL (by pid, or by address with pid 0), mmap the returned
 * read-only descriptor PROT_READ at pool.addr for pool.max, close it.
 * Returns 0 or -errno; on success *info is the pool and it is mapped
 * (for one's own pool nothing is mapped: info->pid is ours).
 */
int fz_map_pool(int dev, pid_t pid, uint64_t addr,
		struct agnocast_pool_info *info, const char **step);

/* munmap the pool's range and UNMAP_POOL it (by pid when > 0). */
int fz_unmap_pool(int dev, const struct agnocast_pool_info *info);

#endif
