// SPDX-License-Identifier: Apache-2.0
/* Argument placement (see arena.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "rng.h"

#define PAGE 4096
#define RO_BYTES (16 * PAGE)
#define TOTAL (ARENA_RW_BYTES + PAGE + RO_BYTES + PAGE + PAGE)

const char *const arg_mode_names[NARGMODE] = {
	"normal", "ro", "straddle", "null", "kernel",
};
const char *const arr_mode_names[NARRMODE] = {
	"normal", "ro", "straddle", "null", "kernel", "self",
};

int arena_init(struct arena *a)
{
	uint8_t *p = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	a->base = p;
	a->rw = p;
	a->args = a->rw + ARENA_RW_BYTES;
	a->ro = a->args + PAGE;
	a->edge = a->ro + RO_BYTES;
	a->guard = a->edge + PAGE;
	a->placed = NULL;
	a->mode = ARG_NORMAL;
	if (mprotect(a->ro, RO_BYTES, PROT_READ) || munmap(a->guard, PAGE))
		return -errno;
	/*
	 * Touch every writable page now: a first touch from inside an ioctl
	 * would allocate in the fault path, which slab fault injection can
	 * make fail (EFAULT instead of ENOMEM).
	 */
	memset(a->rw, 0, ARENA_RW_BYTES + PAGE);
	memset(a->edge, 0, PAGE);
	return 0;
}

/* Is the page after edge still unmapped (nothing else took the hole)? */
int arena_guard_ok(struct arena *a)
{
	unsigned char v;

	return mincore(a->guard, PAGE, &v) && errno == ENOMEM;
}

void arena_free(struct arena *a)
{
	munmap(a->base, TOTAL);
}

static uint64_t kernel_ptr(struct rng *r)
{
	static const uint64_t k[] = {
		0xffff888000000000ULL, 0xffffffff81000000ULL,
		0xffffc90000000000ULL, 0x0000800000000000ULL,
	};

	return k[rng_below(r, 4)] + (rng_below(r, 4096) & ~7u);
}

void *arg_place(struct arena *a, struct rng *r, int mode, const void *src,
		size_t len)
{
	size_t k, off;

	a->mode = mode;
	switch (mode) {
	case ARG_NULL:
		return a->placed = NULL;
	case ARG_KERNEL:
		return a->placed = (void *)(uintptr_t)kernel_ptr(r);
	case ARG_STRADDLE:
		k = 1 + rng_below(r, len - 1);	/* bytes before the guard */
		memcpy(a->guard - k, src, k);
		return a->placed = a->guard - k;
	default:
		/* Mostly 8-aligned, sometimes not: the layout has no holes. */
		off = rng_pct(r, 80) ? 8 * rng_below(r, (PAGE - len) / 8)
				     : rng_below(r, PAGE - len);
		memcpy(a->args + off, src, len);
		if (mode == ARG_RO)
			mprotect(a->args, PAGE, PROT_READ);
		return a->placed = a->args + off;
	}
}

void arg_done(struct arena *a)
{
	if (a->mode == ARG_RO)
		mprotect(a->args, PAGE, PROT_READ | PROT_WRITE);
	a->mode = ARG_NORMAL;
}

void *arr_get(struct arena *a, struct rng *r, int mode, size_t elt,
	      uint32_t cap, __u64 *uptr)
{
	size_t k;

	switch (mode) {
	case ARR_RO:
		*uptr = (uintptr_t)a->ro + 8 * rng_below(r, 64);
		return NULL;
	case ARR_STRADDLE:
		if (!arena_guard_ok(a)) {
			*uptr = 0;	/* as unusable, if less interesting */
			return NULL;
		}
		k = 1 + rng_below(r, elt * (cap ? cap : 1));
		if (k > PAGE)
			k = PAGE;
		*uptr = (uintptr_t)(a->guard - k);
		return NULL;
	case ARR_NULL:
		*uptr = 0;
		return NULL;
	case ARR_KERNEL:
		*uptr = kernel_ptr(r);
		return NULL;
	case ARR_SELF:
		*uptr = (uintptr_t)a->args + 8 * rng_below(r, 64);
		return NULL;
	default:
		*uptr = (uintptr_t)a->rw;
		return a->rw;
	}
}

int pick_arg_mode(struct rng *r, unsigned int odd_pct)
{
	if (!rng_pct(r, odd_pct))
		return ARG_NORMAL;
	switch (rng_below(r, 8)) {
	case 0: case 1: case 2: case 3: return ARG_RO;
	case 4: case 5: return ARG_STRADDLE;
	case 6: return ARG_NULL;
	default: return ARG_KERNEL;
	}
}

int pick_arr_mode(struct rng *r, unsigned int odd_pct)
{
	if (!rng_pct(r, odd_pct))
		return ARR_NORMAL;
	switch (rng_below(r, 8)) {
	case 0: case 1: case 2: return ARR_RO;
	case 3: case 4: return ARR_STRADDLE;
	case 5: return ARR_NULL;
	case 6: return ARR_KERNEL;
	default: return ARR_SELF;
	}
}
