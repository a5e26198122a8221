// SPDX-License-Identifier: Apache-2.0
/* Publishes "hello 1" .. "hello 5" on /example/hello, then stays until stdin closes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libagnocast.h"

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, agnocast_last_error());
	return 1;
}

int main(void)
{
	struct agnocast_publisher *pub;
	char text[32];

	if (agnocast_join(NULL) < 0)
		return fail("join");
	if (agnocast_publisher_create("/example/hello", &(struct agnocast_qos){ .depth = 5 }, &pub) < 0)
		return fail("publisher");
	for (int i = 1; i <= 5; i++) {
		size_t len = (size_t)snprintf(text, sizeof(text), "hello %d", i);
		char *msg = agnocast_alloc(len);	/* pool memory: no copy after this */
		uint64_t seq;

		if (!msg)
			return fail("alloc");
		memcpy(msg, text, len);
		if (agnocast_publish(pub, msg, len, &seq) < 0)
			return fail("publish");
		printf("published %llu %p\n", (unsigned long long)seq, (void *)msg);
	}
	fflush(stdout);
	while (read(STDIN_FILENO, text, sizeof(text)) > 0)	/* leaving withdraws the history */
		;
	return agnocast_publisher_destroy(pub) < 0 ? fail("destroy") : 0;
}
