// SPDX-License-Identifier: Apache-2.0
/*
 * peer: the smallest C publisher or subscriber, sharing a topic with the
 * TypeScript library (the interop tests in test/guest use it).
 *
 *   peer pub TOPIC COUNT TEXT  publish "TEXT 1" .. "TEXT COUNT" (history
 *                              depth COUNT), print "published SEQ 0xADDR"
 *                              for each, then stay until stdin closes so a
 *                              late reader still finds them
 *   peer sub TOPIC COUNT       print "ready", then "msg SEQ 0xADDR TEXT" for
 *                              each of COUNT messages as they arrive
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agn.h"

static void publish(struct agn *a, const char *topic, unsigned int count, const char *text)
{
	struct agn_ring ring;
	uint32_t pub = agn_add_publisher(a, topic, count, 0);
	char buf[256];
	unsigned int i;

	agn_ring_init(&ring, a->pool_addr, a->pool_size);
	for (i = 1; i <= count; i++) {
		int len = snprintf(buf, sizeof(buf), "%s %u", text, i);
		uint64_t addr = agn_ring_alloc(&ring, (uint64_t)len, 8);
		uint64_t seq;

		memcpy(agn_ptr(addr), buf, (size_t)len);
		seq = agn_publish(a, pub, addr, (uint64_t)len, &ring);
		printf("published %llu 0x%llx\n", (unsigned long long)seq, (unsigned long long)addr);
	}
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

static void print_text(const struct agnocast_entry *e, void *ctx)
{
	(void)ctx;
	printf("msg %llu 0x%llx %.*s\n", (unsigned long long)e->seq,
	       (unsigned long long)e->addr, (int)e->len, (const char *)agn_ptr(e->addr));
}

int main(int argc, char **argv)
{
	struct agn a;

	if (argc < 4 || (strcmp(argv[1], "pub") && strcmp(argv[1], "sub")) ||
	    (!strcmp(argv[1], "pub") && argc < 5)) {
		fprintf(stderr, "usage: peer pub TOPIC COUNT TEXT | peer sub TOPIC COUNT\n");
		return 2;
	}
	agn_join(&a, "peer", 1 << 20, 0, 0);
	if (!strcmp(argv[1], "pub"))
		publish(&a, argv[2], (unsigned int)atoi(argv[3]), argv[4]);
	else
		agn_subscribe_each(&a, argv[2], (unsigned int)atoi(argv[3]), print_text, NULL);
	agn_leave(&a);
	return 0;
}
