// SPDX-License-Identifier: Apache-2.0
/*
 * bridge_sub TOPIC COUNT: a C subscriber (libagnocast) for the bridge tests. Prints
 * "ready", then for each of COUNT messages
 *     msg INDEX SIZE HASH ok|bad PID
 * where HASH is the hash of test/guest/content.mjs over the payload and
 * ok means the message's header (magic, size, hash) agrees with its bytes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libagnocast.h"
#include "util.h"

#define MAGIC 0x424e4741u
#define HEADER 24

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void mix(uint32_t *h1, uint32_t *h2, uint32_t w)
{
	*h1 = (*h1 ^ w) * 0x01000193u;
	*h2 = (*h2 ^ w) * 0x5bd1e995u;
	*h2 ^= *h2 >> 15;
}

static void check(const struct agnocast_entry *e, void *ctx)
{
	const unsigned char *p = agnocast_entry_data(e);
	uint32_t h1 = 0x811c9dc5u, h2 = 0x9747b28cu, w;
	uint64_t n = e->len, i, words;
	int ok;

	(void)ctx;
	if (n < HEADER) {
		printf("msg -1 %llu - bad %d\n", (unsigned long long)n, (int)e->pid);
		return;
	}
	words = (n - HEADER) / 4;
	for (i = 0; i < words; i++) {
		memcpy(&w, p + HEADER + 4 * i, 4);	/* little-endian host */
		mix(&h1, &h2, w);
	}
	if ((n - HEADER) & 3) {
		w = 0;
		for (i = 0; i < ((n - HEADER) & 3); i++)
			w |= (uint32_t)p[HEADER + 4 * words + i] << (8 * i);
		mix(&h1, &h2, w);
	}
	ok = le32(p) == MAGIC && le32(p + 8) == n && le32(p + 12) == h1 && le32(p + 16) == h2;
	printf("msg %u %llu %08x%08x %s %d\n", le32(p + 4), (unsigned long long)n, h1, h2,
	       ok ? "ok" : "bad", (int)e->pid);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bridge_sub TOPIC COUNT\n");
		return 2;
	}
	demo_name("bridge_sub");
	demo_join(1 << 20, 1);
	demo_subscribe_each(argv[1], (unsigned int)atoi(argv[2]), check, NULL);
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}
