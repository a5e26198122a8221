// SPDX-License-Identifier: Apache-2.0
/*
 * hh-hello: the smallest program under the hook. Allocates, checks what it
 * allocated, prints "hello joined <0|1> size <n> max <n> owns <0|1>" and
 * exits 0. Run by the configuration and fallback tests.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hh.h"

int main(void)
{
	struct agnocast_heap_info info;
	char *p = malloc(1000), *q;
	int joined;

	ENSURE(p, "malloc(1000)");
	memset(p, 'x', 999);
	p[999] = 0;
	q = strdup(p);
	ENSURE(q && !strcmp(p, q), "strdup");
	hh_load();
	joined = hh.info(&info) == 0;
	printf("hello joined %d size %llu max %llu owns %d\n", joined,
	       (unsigned long long)info.size, (unsigned long long)info.max,
	       hh.owns(p));
	free(q);
	free(p);
	return 0;
}
