// SPDX-License-Identifier: Apache-2.0
/* libagnocast's guest suite: its options, order and shared helpers (lt.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lt.h"

const char *g_lib_so;

/* Discovery queues that existed before the suite (other suites' leftovers). */
static char queues_before[64][256];
static int nr_queues_before;

int lt_queue_was_there(const char *name)
{
	for (int i = 0; i < nr_queues_before; i++)
		if (!strcmp(queues_before[i], name))
			return 1;
	return 0;
}

static void snapshot_queues(void)
{
	DIR *d = opendir("/dev/mqueue");
	struct dirent *de;

	while (d && (de = readdir(d)) && nr_queues_before < 64)
		if (!strncmp(de->d_name, "new_publisher@", 14))
			snprintf(queues_before[nr_queues_before++], sizeof(queues_before[0]), "%s",
				 de->d_name);
	if (d)
		closedir(d);
}

TAP_OPTION("--lib", g_lib_so, "build/libagnocast/libagnocast.so (a second copy of the library)")

static const char *const file_order[] = {
	"join", "memory", "publish", "subscribe", "pools", "discovery", "fork",
	"introspect", "copies", NULL,
};

static int init(void)
{
	static char exe[PATH_MAX], so[PATH_MAX + 64];

	snapshot_queues();
	if (!g_lib_so && readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0) {
		snprintf(so, sizeof(so), "%s/../../libagnocast/libagnocast.so", dirname(exe));
		g_lib_so = so;
	}
	return 0;
}

__attribute__((constructor)) static void lt_suite(void)
{
	tap_suite(&(struct tap_suite){
		.name = "libagnocast's guest suite",
		.timeout_s = 300,
		.name_with_file = 1,
		.file_order = file_order,
		.init = init,
	});
}

int lib_ok_at(const char *f, int l, const char *what, int r)
{
	if (r < 0)
		fail_at(f, l, "%s returned %d (%s): %s", what, r, errname(-r), agnocast_last_error());
	return r;
}

void lib_err_at(const char *f, int l, const char *what, int r, int err, const char *says)
{
	const char *msg = agnocast_last_error();

	if (r != -err)
		fail_at(f, l, "%s returned %d (%s), expected -%s; the library says: %s", what, r,
			r < 0 ? errname(-r) : "success", errname(err), msg);
	if (!strstr(msg, says))
		fail_at(f, l, "%s: the message does not say \"%s\": %s", what, says, msg);
	note("%s: %s", what, msg);
}

struct agnocast_pool lt_join_at(const char *f, int l, uint64_t size, uint64_t max)
{
	struct agnocast_join_opts o = { .pool_size = size, .pool_max = max ? max : size, .dev_fd = -1 };
	struct agnocast_pool p;
	int r = agnocast_join(&o);

	if (r != 0)
		fail_at(f, l, "agnocast_join(%llu, %llu) returned %d: %s", (unsigned long long)size,
			(unsigned long long)max, r, r < 0 ? agnocast_last_error() : "joined already");
	if (agnocast_pool_info(&p))
		fail_at(f, l, "agnocast_pool_info: %s", agnocast_last_error());
	return p;
}

void *lt_text_at(const char *f, int l, const char *text)
{
	size_t n = strlen(text) + 1;
	char *p = agnocast_alloc(n);

	if (!p)
		fail_at(f, l, "agnocast_alloc(%zu): %s", n, agnocast_last_error());
	memcpy(p, text, n);
	return p;
}

static short do_poll(int fd, short events, int timeout)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, timeout);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		FAIL("poll(%d): %s", fd, errname(errno));
	return r ? p.revents : 0;
}

short lt_poll(int fd, short events)
{
	return do_poll(fd, events, SYNC_TIMEOUT_MS);
}

short lt_poll_now(int fd, short events)
{
	return do_poll(fd, events, 0);
}

const char *lt_maps_line(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	char path[64], line[512];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		FAIL("%s: %s", path, errname(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && addr >= s && addr < e) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, len, "%s", line);
			break;
		}
	}
	fclose(f);
	return buf;
}

struct agnocast_totals lt_totals_at(const char *f, int l)
{
	struct agnocast_totals t;

	if (agnocast_totals(&t))
		fail_at(f, l, "agnocast_totals: %s", agnocast_last_error());
	return t;
}

int lt_mapped(struct agnocast_pool_info *out, int cap)
{
	return LIB_OK(agnocast_mapped_pools(out, (uint32_t)cap));
}
