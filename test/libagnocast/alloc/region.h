/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region.h - a growable region for host tests: reserve max bytes of
 * PROT_NONE address space, make a prefix usable, grow it with mprotect()
 * the way the heaphook grows its pool by ftruncate()ing the shm file.
 */
#ifndef AGNOCAST_TEST_REGION_H
#define AGNOCAST_TEST_REGION_H

#include <stddef.h>
#include <sys/mman.h>

#include "../../../libagnocast/pool_alloc.h"

struct region {
	char *base;
	size_t size;		/* usable prefix */
	size_t max;
	size_t limit;		/* grow refuses new_size > limit (0: none) */
	int refuse;		/* grow always fails */
	int calls;		/* grow calls, failed ones included */
	int bad_calls;		/* calls with a new_size breaking the contract */
};

static int region_grow(void *ctx, size_t new_size)
{
	struct region *r = ctx;

	r->calls++;
	if (new_size <= r->size || new_size > r->max ||
	    (new_size % POOL_GROW_UNIT && new_size != r->max)) {
		r->bad_calls++;
		return -1;
	}
	if (r->refuse || (r->limit && new_size > r->limit))
		return -1;
	if (mprotect(r->base, new_size, PROT_READ | PROT_WRITE))
		return -1;
	r->size = new_size;
	return 0;
}

static int region_open(struct region *r, size_t size, size_t max)
{
	void *p = mmap(NULL, max, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	*r = (struct region){ .base = p, .size = size, .max = max };
	return mprotect(p, size, PROT_READ | PROT_WRITE);
}

static void region_close(struct region *r)
{
	munmap(r->base, r->max);
	r->base = NULL;
}

#endif /* AGNOCAST_TEST_REGION_H */
