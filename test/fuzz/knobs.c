// SPDX-License-Identifier: Apache-2.0
/* Module parameters and fault injection (see knobs.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knobs.h"

#define PARAM_DIR "/sys/module/agnocast/parameters/"

int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int param_write(enum param p, uint64_t v)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), PARAM_DIR "%s", param_names[p]);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)v);
	return write_file(path, val);
}

void param_set(enum param p, uint64_t v)
{
	__atomic_fetch_add(&S->param_gen, 1, __ATOMIC_ACQ_REL);
	param_write(p, v);
	__atomic_store_n(&S->param_val[p], v, __ATOMIC_RELEASE);
	__atomic_fetch_add(&S->param_gen, 1, __ATOMIC_ACQ_REL);
}

int params_load(void)
{
	char path[128], val[64];
	int p;

	for (p = 0; p < NPARAM; p++) {
		snprintf(path, sizeof(path), PARAM_DIR "%s", param_names[p]);
		if (read_file(path, val, sizeof(val)))
			return -1;
		S->param_default[p] = S->param_val[p] = strtoull(val, NULL, 10);
	}
	return 0;
}

void params_restore(void)
{
	int p;

	for (p = 0; p < NPARAM; p++)
		param_set(p, S->param_default[p]);
}

/* ---- fault injection ------------------------------------------------ */

/* Attribute files; failslab has the last two as well. */
static const char *const files[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "cache-filter",
};
/* Their values while injecting (probability apart). */
static const char *const on[] = { NULL, "1", "-1", "0", "0", "Y", "N", "N" };

static struct injector {
	const char *dir;
	int bit, nfiles;
	int avail;
	char saved[8][32];
} injectors[] = {
	{ "/sys/kernel/debug/failslab/", INJ_SLAB, 8, 0, { { 0 } } },
	{ "/sys/kernel/debug/fail_usercopy/", INJ_USERCOPY, 6, 0, { { 0 } } },
};
#define NINJ (sizeof(injectors) / sizeof(injectors[0]))

static void inj_path(const struct injector *in, int f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", in->dir, files[f]);
}

static int inj_save(struct injector *in)
{
	char path[128];
	int f;

	for (f = 0; f < in->nfiles; f++) {
		inj_path(in, f, path, sizeof(path));
		if (read_file(path, in->saved[f], sizeof(in->saved[f])))
			return 0;
	}
	return 1;
}

int inject_detect(void)
{
	struct stat st;
	unsigned int i;
	int mask = 0;

	if (stat(injectors[0].dir, &st) && stat(injectors[1].dir, &st))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	for (i = 0; i < NINJ; i++) {
		injectors[i].avail = !stat(injectors[i].dir, &st) && inj_save(&injectors[i]);
		mask |= injectors[i].avail ? injectors[i].bit : 0;
	}
	return mask;
}

void inject_start(int mask, unsigned int pct)
{
	char path[128], prob[16];
	unsigned int i;
	int f;

	snprintf(prob, sizeof(prob), "%u", pct);
	for (i = 0; i < NINJ; i++) {
		struct injector *in = &injectors[i];

		if (!in->avail || !(mask & in->bit))
			continue;
		for (f = 1; f < in->nfiles; f++) {
			inj_path(in, f, path, sizeof(path));
			write_file(path, on[f]);
		}
		inj_path(in, 0, path, sizeof(path));
		write_file(path, prob);	/* last: everything else is in place */
	}
	S->inject_used = mask;
	S->inject_pct = pct;
	__atomic_store_n(&S->inject, mask, __ATOMIC_RELEASE);
}

void inject_stop(void)
{
	char path[128];
	unsigned int i;
	int f;

	__atomic_store_n(&S->inject, 0, __ATOMIC_RELEASE);
	for (i = 0; i < NINJ; i++) {
		struct injector *in = &injectors[i];

		for (f = 0; in->avail && f < in->nfiles; f++) {
			inj_path(in, f, path, sizeof(path));
			write_file(path, in->saved[f]);
		}
	}
}
