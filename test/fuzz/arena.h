/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a thread puts ioctl arguments and output arrays. An argument
 * struct goes
 *   normal    in a read-write page;
 *   ro        in a page filled and then mprotect'ed PROT_READ: the module
 *             reads it fine and every copy-out fails (the undo paths);
 *   straddle  across the end of a read-write page into an unmapped one
 *             (a hole left in the arena): it cannot be read whole;
 *   null / kernel  at address 0 or at a kernel address.
 * An output array is normal, ro (a read-only page), straddle (it runs
 * into the unmapped page), null, kernel, or self (overlapping the
 * argument struct itself).
 */
#ifndef FUZZ_ARENA_H
#define FUZZ_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

struct rng;

enum arg_mode { ARG_NORMAL, ARG_RO, ARG_STRADDLE, ARG_NULL, ARG_KERNEL, NARGMODE };
enum arr_mode { ARR_NORMAL, ARR_RO, ARR_STRADDLE, ARR_NULL, ARR_KERNEL, ARR_SELF,
		NARRMODE };

extern const char *const arg_mode_names[NARGMODE];
extern const char *const arr_mode_names[NARRMODE];

#define ARENA_RW_BYTES (32 * 4096)

struct arena {
	uint8_t *base;
	uint8_t *rw;		/* output arrays */
	uint8_t *args;		/* one page for the argument struct */
	uint8_t *ro;		/* always read-only, for output arrays */
	uint8_t *edge;		/* read-write page right before guard */
	uint8_t *guard;		/* unmapped */
	void *placed;		/* where the last struct went */
	int mode;
};

int arena_init(struct arena *a);
void arena_free(struct arena *a);
/* The hole after edge is still unmapped (checked before each use). */
int arena_guard_ok(struct arena *a);

/*
 * Put len bytes of src where mode says; returns the pointer to pass to
 * the ioctl. After the call, arg_done() (makes the page writable again)
 * and, for ARG_NORMAL only, the results are at the returned pointer.
 */
void *arg_place(struct arena *a, struct rng *r, int mode, const void *src,
		size_t len);
void arg_done(struct arena *a);

/*
 * An output array of cap elements of elt bytes: sets *uptr to the user
 * pointer to give the module and returns where the results are for
 * ARR_NORMAL (NULL otherwise). A normal array has ARENA_RW_BYTES: valid
 * capacities must fit (larger ones are for calls the module refuses).
 */
void *arr_get(struct arena *a, struct rng *r, int mode, size_t elt,
	      uint32_t cap, __u64 *uptr);

/* Pick a mode: mostly normal, sometimes each of the others. */
int pick_arg_mode(struct rng *r, unsigned int odd_pct);
int pick_arr_mode(struct rng *r, unsigned int odd_pct);

#endif
