/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor: keeps a number of participant processes running (each
 * started from its own random stream, index after index), SIGKILLs them
 * at random times, lowers module parameters for a while and puts them
 * back, turns slab fault injection on for part of the run where the
 * kernel has it, and at the end kills and reaps everything and checks
 * that nothing is left. Writes the TAP report.
 */
#ifndef FUZZ_SUPER_H
#define FUZZ_SUPER_H

#include <stdint.h>

struct opts {
	unsigned int seconds;
	const char *tap;
	uint64_t seed;
	int verbose;
	unsigned int workers;
};

/* Run the whole thing; returns the exit status (0: every check held). */
int supervise(const struct opts *o);

/* Text of what went wrong outside the participants (supervisor checks). */
struct report {
	char crashes[4096];	/* participants that ended unexpectedly */
	char leftovers[4096];	/* state left after everything was reaped */
	char setup[512];	/* why the run could not start */
	uint64_t initial[6], final[6];
	uint64_t elapsed_ns;
	int inject;		/* injectors the kernel has (knobs.h) */
};

void tap_write(const struct opts *o, const struct report *rep);

/* After everything was reaped: totals, /dev/shm, /dev/mqueue (endcheck.c). */
void end_checks(struct report *rep);

/* Append printf text to a report buffer. */
__attribute__((format(printf, 3, 4)))
void note_to(char *buf, size_t len, const char *fmt, ...);

#endif
