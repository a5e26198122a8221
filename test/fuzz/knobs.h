/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's knobs: the module's parameters (lowered for a while
 * behind the generation counter the probes read) and the kernel's fault
 * injection (failslab, fail_usercopy) where the kernel has it.
 */
#ifndef FUZZ_KNOBS_H
#define FUZZ_KNOBS_H

#include <stdint.h>

#include "shared.h"

/* Injectors, as bits of S->inject. */
#define INJ_SLAB 1	/* /sys/kernel/debug/failslab: ENOMEM */
#define INJ_USERCOPY 2	/* /sys/kernel/debug/fail_usercopy: EFAULT */

int read_file(const char *path, char *buf, size_t len);
int write_file(const char *path, const char *val);

/* Read every parameter into S->param_default and S->param_val. */
int params_load(void);
/* Set one (the generation is odd while it changes). */
void param_set(enum param p, uint64_t v);
/* Put every parameter back to its value at the start. */
void params_restore(void);

/* Which injectors the kernel has (mounting debugfs if needed); saves them. */
int inject_detect(void);
/* Turn injectors on (task-filtered, probability pct) and publish the mask. */
void inject_start(int mask, unsigned int pct);
/* Turn them off and put their settings back. */
void inject_stop(void);

#endif
