/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Argument generators: topic names, QoS, capacities and ids, each
 * mostly valid and sometimes invalid in exactly one way, and saying which
 * error the header then requires (0 when valid).
 */
#ifndef FUZZ_GEN_H
#define FUZZ_GEN_H

#include "proc.h"

enum tkind {
	TN_SHARED,	/* fz/0 .. fz/NTOPICS-1: processes meet there */
	TN_PRIVATE,	/* fzp/<pid>/<thread>/<n>: nobody else uses it */
	TN_LONGEST,	/* 255 bytes, valid */
	TN_HIGH,	/* bytes >= 0x80, valid */
	TN_TRAILING,	/* a shared name, then junk after its NUL: valid */
	TN_EMPTY,	/* EINVAL */
	TN_BADBYTE,	/* a space, control byte or 0x7f: EINVAL */
	TN_NONUL,	/* 256 bytes without NUL: ENAMETOOLONG */
	NTKIND
};

/* Fill a topic field; returns the error its name requires (0: valid). */
int gen_topic(struct tctx *t, char *field, int kind);
/* Mostly shared names; odd_pct of the time anything else. */
int pick_tkind(struct tctx *t, unsigned int odd_pct);

/* QoS of a publisher (sub 0) or subscriber: valid unless bad; 0 or EINVAL. */
int gen_qos(struct tctx *t, struct agnocast_qos *q, int sub, int bad);

/* A capacity: mostly 0..max, sometimes above AGNOCAST_ARRAY_MAX (*bad). */
uint32_t gen_cap(struct tctx *t, uint32_t max, unsigned int bad_pct, int *bad);

/* A reserved field: mostly 0, sometimes not (*bad set). */
uint32_t gen_reserved(struct tctx *t, unsigned int bad_pct, int *bad);

/* An id that is nobody's: 0, huge, or past anything allocated. */
uint32_t garbage_id(struct tctx *t);

#endif
