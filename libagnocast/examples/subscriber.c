// SPDX-License-Identifier: Apache-2.0
/* Prints the next 5 messages on /example/hello, read where the publisher wrote them. */
#include <poll.h>
#include <stdio.h>

#include "libagnocast.h"

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, agnocast_last_error());
	return 1;
}

int main(void)
{
	struct agnocast_subscriber *sub;
	struct agnocast_entry e[8];
	int got = 0, n;

	if (agnocast_join(NULL) < 0)
		return fail("join");
	if (agnocast_subscriber_create("/example/hello", NULL, &sub) < 0)
		return fail("subscriber");
	printf("ready\n");
	fflush(stdout);
	while (got < 5) {
		struct pollfd p = { .fd = agnocast_subscriber_fd(sub), .events = POLLIN };

		poll(&p, 1, -1);
		if ((n = agnocast_receive(sub, e, 8)) < 0)	/* maps the publisher's pool */
			return fail("receive");
		for (int i = 0; i < n; i++, got++) {
			printf("%.*s from %d at 0x%llx\n", (int)e[i].len, (const char *)agnocast_entry_data(&e[i]),
			       e[i].pid, (unsigned long long)e[i].addr);
			agnocast_release(sub, &e[i]);	/* the publisher may reuse it now */
		}
		fflush(stdout);
	}
	return agnocast_leave() < 0 ? fail("leave") : 0;
}
