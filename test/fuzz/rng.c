// SPDX-License-Identifier: Apache-2.0
/* Deterministic random streams (see rng.h). */
#include "rng.h"

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rng_init(struct rng *r, uint64_t seed, uint64_t sid)
{
	uint64_t z = seed ^ mix64(sid + 0x632be59bd9b4e019ULL);
	int i;

	for (i = 0; i < 4; i++) {
		z += 0x9e3779b97f4a7c15ULL;
		r->s[i] = mix64(z);
	}
}

uint64_t rng_u64(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(((rng_u64(r) >> 32) * n) >> 32) : 0;
}

int rng_pct(struct rng *r, unsigned int pct)
{
	return rng_below(r, 100) < pct;
}

uint32_t rng_small(struct rng *r, uint32_t max)
{
	switch (rng_below(r, 4)) {
	case 0:
	case 1:
		return rng_below(r, max < 4 ? max + 1 : 5);
	case 2:
		return rng_below(r, max < 32 ? max + 1 : 33);
	default:
		return rng_below(r, max + 1);
	}
}
