// SPDX-License-Identifier: Apache-2.0
/*
 * The heaphook guest suite's own part (suite.h): its options and their
 * defaults, the hook's stats line, smaps, the status file's process lines.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agnocast.h"
#include "suite.h"

const char *g_srcdir;
const char *g_node = "/usr/bin/node";
const char *g_python = "/usr/bin/python3";

TAP_OPTION("--so", g_preload, "libagnocast_heaphook.so (default: next to this binary's build)")
TAP_OPTION("--bindir", g_bindir, "where the hh-* programs are (default: this binary's directory)")
TAP_OPTION("--srcdir", g_srcdir, "test/heaphook/guest, for the scripts")
TAP_OPTION("--node", g_node, "node, not a wrapper")
TAP_OPTION("--python", g_python, "python3, not a wrapper")

/* Defaults relative to this binary: ROOT/build/test/heaphook/. */
static int init(void)
{
	static char exe[PATH_MAX], sodef[PATH_MAX + 64], srcdef[PATH_MAX + 64];
	char *so_real;

	if (readlink("/proc/self/exe", exe, sizeof(exe) - 1) < 0) {
		perror("/proc/self/exe");
		return 2;
	}
	dirname(exe);
	if (!g_bindir)
		g_bindir = exe;
	snprintf(sodef, sizeof(sodef), "%s/../../heaphook/libagnocast_heaphook.so", g_bindir);
	snprintf(srcdef, sizeof(srcdef), "%s/../../../test/heaphook/guest", g_bindir);
	if (!g_preload)
		g_preload = sodef;
	if (!g_srcdir)
		g_srcdir = srcdef;
	so_real = realpath(g_preload, NULL);
	if (!so_real) {
		printf("not ok 1 - the heaphook library exists\n# %s: %s\n1..1\n", g_preload, strerror(errno));
		return 1;
	}
	g_preload = so_real;
	printf("# heaphook %s, programs in %s\n", g_preload, g_bindir);
	return 0;
}

__attribute__((constructor)) static void heaphook_suite(void)
{
	tap_suite(&(struct tap_suite){
		.name = "the heaphook guest suite",
		.timeout_s = 600,	/* TCG is slow: node starts in ~5 s */
		.init = init,
	});
}

/* ---- stats, smaps, status ---------------------------------------------------- */

static int kv_get(const char *line, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += kl) {
		if ((p == line || p[-1] == ' ') && p[kl] == ' ') {
			char *end;

			*out = strtoull(p + kl + 1, &end, 10);
			return end != p + kl + 1;
		}
	}
	return 0;
}

void parse_stats(const char *err, struct hook_stats *st)
{
	static const char tag[] = "agnocast heaphook: pool ";
	const char *line = NULL;
	char buf[512];

	memset(st, 0, sizeof(*st));
	for (const char *p = err; (p = strstr(p, tag)); p++)
		if (p == err || p[-1] == '\n')
			line = p;
	if (!line)
		return;
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(line, "\n"), line);
	st->found = kv_get(buf, "pool", &st->pool) && kv_get(buf, "glibc", &st->glibc);
	kv_get(buf, "grows", &st->grows);
	kv_get(buf, "pool-size", &st->pool_size);
	if (!kv_get(buf, "joined", &st->joined))
		st->joined = 1;
}

struct hook_stats require_stats(struct program *c)
{
	struct hook_stats st;

	reap(c);
	parse_stats(c->err_text, &st);
	CHECK(st.found, "%s printed no stats line (AGNOCAST_HEAPHOOK_STATS=1)", c->name);
	CHECK(st.joined, "%s: the hook says it did not join", c->name);
	note("%s: pool %llu glibc %llu grows %llu pool-size %llu", c->name,
	     (unsigned long long)st.pool, (unsigned long long)st.glibc,
	     (unsigned long long)st.grows, (unsigned long long)st.pool_size);
	return st;
}

void pool_map(pid_t pid, pid_t owner, struct pool_map *pm)
{
	char path[64], want[64], line[1024];
	int in = 0;
	FILE *f;

	memset(pm, 0, sizeof(*pm));
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	snprintf(want, sizeof(want), "/dev/shm/agnocast@%d", owner);
	f = fopen(path, "re");
	CHECK(f, "%s: %m", path);
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char perms[8];
		int n = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &s, &e, perms, &n) == 3 && n) {
			char *name = line + n;

			name[strcspn(name, "\n")] = 0;
			in = !strcmp(name, want) ||
			     (!strncmp(name, want, strlen(want)) &&
			      !strcmp(name + strlen(want), " (deleted)"));
			if (in) {
				if (!pm->vmas++) {
					pm->start = s;
					snprintf(pm->perms, sizeof(pm->perms), "%s", perms);
				}
				if (s < pm->start)
					pm->start = s;
				if (e > pm->end)
					pm->end = e;
			}
			continue;
		}
		if (in) {
			unsigned long kb;

			if (sscanf(line, "Rss: %lu kB", &kb) == 1)
				pm->rss_kb += kb;
			else if (sscanf(line, "Size: %lu kB", &kb) == 1)
				pm->size_kb += kb;
		}
	}
	fclose(f);
}

static ssize_t read_status(char *buf, size_t len)
{
	ssize_t n = 0, r;
	int fd = open(AGNOCAST_STATUS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n < (ssize_t)len - 1 && (r = read(fd, buf + n, len - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return n;
}

int status_process(pid_t pid, char *line, size_t len)
{
	static char buf[65536];
	char want[48];
	const char *p;

	snprintf(want, sizeof(want), "process pid %d ", pid);
	if (read_status(buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, want, strlen(want))) {
			snprintf(line, len, "%.*s", (int)strcspn(p, "\n"), p);
			return 0;
		}
	return -1;
}

