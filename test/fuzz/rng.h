/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic random streams. Every process and thread of a run draws
 * from its own stream, named by a 64-bit stream id derived from its
 * parent's (stream_child): the run's seed and the stream id give the same
 * sequence of choices every time.
 */
#ifndef FUZZ_RNG_H
#define FUZZ_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];	/* xoshiro256** state */
};

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The stream id of the n-th child stream of stream sid. */
static inline uint64_t stream_child(uint64_t sid, uint64_t n)
{
	return mix64(sid * 0x9e3779b97f4a7c15ULL + n + 1);
}

void rng_init(struct rng *r, uint64_t seed, uint64_t sid);
uint64_t rng_u64(struct rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint32_t rng_below(struct rng *r, uint32_t n);
/* True with probability pct / 100. */
int rng_pct(struct rng *r, unsigned int pct);
/* A "small-biased" value: mostly tiny, sometimes up to max. */
uint32_t rng_small(struct rng *r, uint32_t max);

#endif
