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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libagnocast.h"
#include "util.h"

static void publish(const char *topic, unsigned int count, const char *text)
{
	struct agnocast_publisher *pub;
	char buf[256];
	unsigned int i;

	demo_ok(agnocast_publisher_create(topic, &(struct agnocast_qos){ count, 0 }, &pub), topic);
	for (i = 1; i <= count; i++) {
		int len = snprintf(buf, sizeof(buf), "%s %u", text, i);
		char *msg = agnocast_alloc((size_t)len);
		uint64_t seq;

		if (!msg)
			demo_die("%s", agnocast_last_error());
		memcpy(msg, buf, (size_t)len);
		demo_ok(agnocast_publish(pub, msg, (size_t)len, &seq), "publishing");
		printf("published %llu 0x%llx\n", (unsigned long long)seq, (unsigned long long)demo_addr(msg));
	}
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

static void print_text(const struct agnocast_entry *e, void *ctx)
{
	(void)ctx;
	printf("msg %llu 0x%llx %.*s\n", (unsigned long long)e->seq,
	       (unsigned long long)e->addr, (int)e->len, (const char *)agnocast_entry_data(e));
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "pub") && strcmp(argv[1], "sub")) ||
	    (!strcmp(argv[1], "pub") && argc < 5)) {
		fprintf(stderr, "usage: peer pub TOPIC COUNT TEXT | peer sub TOPIC COUNT\n");
		return 2;
	}
	demo_name("peer");
	demo_join(1 << 20, 1);
	if (!strcmp(argv[1], "pub"))
		publish(argv[2], (unsigned int)atoi(argv[3]), argv[4]);
	else
		demo_subscribe_each(argv[2], (unsigned int)atoi(argv[3]), print_text, NULL);
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}
