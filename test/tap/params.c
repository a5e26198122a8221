// SPDX-License-Identifier: Apache-2.0
/* The module's parameters: read, set, and put back after each test. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "params.h"

#define DIR "/sys/module/agnocast/parameters/"

static const char *const writable[] = {
	"max_procs_per_user", "max_window_per_user", "max_endpoints_per_process",
	"max_entries_per_process", "max_mappings_per_process",
	"status_entries_max",
};
#define NPARAMS (sizeof(writable) / sizeof(writable[0]))

static unsigned long long saved[NPARAMS];
static int have_saved;

static int param_read(const char *name, unsigned long long *v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int param_write(const char *name, unsigned long long v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), DIR "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fprintf(f, "%llu\n", v) > 0;
	ok = (fclose(f) == 0) && ok;
	return ok ? 0 : -1;
}

unsigned long long param_get_at(const char *f, int l, const char *name)
{
	unsigned long long v;

	if (param_read(name, &v))
		fail_at(f, l, "cannot read module parameter %s: %s", name,
			errname(errno));
	return v;
}

void param_set_at(const char *f, int l, const char *name, unsigned long long v)
{
	if (param_write(name, v))
		fail_at(f, l, "cannot set module parameter %s to %llu: %s", name,
			v, errname(errno));
}

void params_snapshot(void)
{
	size_t i;

	for (i = 0; i < NPARAMS; i++)
		if (param_read(writable[i], &saved[i]))
			return;		/* module not loaded: nothing to keep */
	have_saved = 1;
}

void params_restore(void)
{
	size_t i;

	if (!have_saved) {
		params_snapshot();
		return;
	}
	for (i = 0; i < NPARAMS; i++)
		param_write(writable[i], saved[i]);
}
