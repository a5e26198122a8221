// SPDX-License-Identifier: Apache-2.0
/* Pool sizes: the size syntax and the environment's AGNOCAST_MEMPOOL_*. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define DEFAULT_SIZE	(64ULL << 20)
#define DEFAULT_MAX_MIN	(1ULL << 30)

int lib_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;

	if (!s || !*s)
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s | 0x20) {
	case 'k': mul = 1ULL << 10; s++; break;
	case 'm': mul = 1ULL << 20; s++; break;
	case 'g': mul = 1ULL << 30; s++; break;
	case 't': mul = 1ULL << 40; s++; break;
	default: break;
	}
	if (mul > 1 && (*s | 0x20) == 'i')
		s++;
	if ((*s | 0x20) == 'b')
		s++;
	if (*s || (v && mul > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mul;
	return 0;
}

/* The variable's size, dflt when it is not set, or -EINVAL naming it. */
static int env_size(const char *name, uint64_t dflt, uint64_t *out)
{
	const char *s = getenv(name);

	if (!s) {
		*out = dflt;
		return 0;
	}
	if (lib_parse_size(s, out) || *out == 0 || *out > AGNOCAST_POOL_SIZE_MAX)
		return lib_fail(EINVAL, name,
				"%s=\"%s\" is not a size between 1 and %lluG (bytes, or with a K, M or G suffix; rounded up to %llu bytes): fix or unset it",
				name, s, AGNOCAST_POOL_SIZE_MAX >> 30, AGNOCAST_POOL_UNIT);
	return 0;
}

/* AGNOCAST_MEMPOOL_MAX, else 16 x size (at least 1G, at most the largest pool). */
int lib_env_max(uint64_t size, uint64_t *max)
{
	uint64_t dflt = size > DEFAULT_MAX_MIN / 16 ? size * 16 : DEFAULT_MAX_MIN;
	int r;

	if (dflt > AGNOCAST_POOL_SIZE_MAX)
		dflt = AGNOCAST_POOL_SIZE_MAX;
	if (dflt < size)
		dflt = size;
	r = env_size("AGNOCAST_MEMPOOL_MAX", dflt, max);
	if (r)
		return r;
	if (*max < size)
		return lib_fail(EINVAL, "AGNOCAST_MEMPOOL_MAX",
				"AGNOCAST_MEMPOOL_MAX (%llu) is below the pool size (%llu): raise it or unset it",
				(unsigned long long)*max, (unsigned long long)size);
	return 0;
}

int lib_env_size(uint64_t *size)
{
	return env_size("AGNOCAST_MEMPOOL_SIZE", DEFAULT_SIZE, size);
}

int lib_env_sizes(uint64_t *size, uint64_t *max)
{
	uint64_t s;
	int r = lib_env_size(&s);

	if (r == 0)
		r = lib_env_max(s, max);
	if (r == 0)
		*size = s;
	return r;
}
