// SPDX-License-Identifier: Apache-2.0
/*
 * agnocast-fuzz: a sequence fuzzer of the agnocast module. See README.md.
 *   agnocast-fuzz --seconds N --tap FILE [--seed S] [--workers N] [--verbose]
 * (and, internally, "--helper ..." for the processes it exec's).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kids.h"
#include "super.h"

static int usage(void)
{
	fprintf(stderr, "usage: agnocast-fuzz --seconds N --tap FILE [--seed S] [--workers N] [--verbose]\n");
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i;

	o->seconds = 60;
	o->workers = 6;
	o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--verbose")) {
			o->verbose = 1;
			continue;
		}
		if (!v)
			return -1;
		if (!strcmp(a, "--seconds"))
			o->seconds = strtoul(v, NULL, 10);
		else if (!strcmp(a, "--tap"))
			o->tap = v;
		else if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--workers"))
			o->workers = strtoul(v, NULL, 10);
		else
			return -1;
		i++;
	}
	return o->seconds && o->workers && o->workers <= 32 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	if (argc > 1 && !strcmp(argv[1], "--helper"))
		return helper_main(argc, argv);
	if (parse(argc, argv, &o))
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	return supervise(&o);
}
