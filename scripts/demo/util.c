// SPDX-License-Identifier: Apache-2.0
/* What the demo's C programs share besides libagnocast (see util.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define SEEN_MAX 64

static const char *prog = "demo";
static uint64_t seen[SEEN_MAX];	/* pool addresses printed already */
static unsigned int nr_seen;

void demo_name(const char *name)
{
	prog = name;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void demo_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: error: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void demo_say(const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", prog);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int demo_ok(int r, const char *what)
{
	if (r < 0)
		demo_die("%s: %s", what, agnocast_last_error());
	return r;
}

uint64_t demo_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t demo_parse_size(const char *s)
{
	uint64_t v;

	return agnocast_parse_size(s, &v) == 0 ? v : 0;
}

const char *demo_fmt_size(char *buf, size_t len, uint64_t b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB" };
	unsigned int u = 0;
	double v = (double)b;

	while (u < 3 && b >= 1024 && b % 1024 == 0) {
		b /= 1024;
		u++;
	}
	if (u == 3 || b < 1024) {
		snprintf(buf, len, "%llu %s", (unsigned long long)b, unit[u]);
		return buf;
	}
	/* Not a round number: one decimal in the largest unit that fits. */
	for (u = 0; u < 3 && v >= 1024; u++)
		v /= 1024;
	snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

/* Ended by a signal: the discovery queue goes first (nobody else removes it). */
static void on_fatal_signal(int sig)
{
	agnocast_discovery_unlink();
	signal(sig, SIG_DFL);
	raise(sig);
}

struct agnocast_pool demo_join(uint64_t pool_size, int with_queue)
{
	struct agnocast_join_opts opts = { .pool_size = pool_size, .dev_fd = -1 };
	struct agnocast_pool pool;
	const char *env = getenv("AGNOCAST_MEMPOOL_SIZE");

	if (env && *env && !(opts.pool_size = demo_parse_size(env)))
		demo_die("AGNOCAST_MEMPOOL_SIZE=%s: not a size (bytes, or with K, M, G)", env);
	opts.flags = with_queue ? 0 : AGNOCAST_OPT_NO_DISCOVERY;
	demo_ok(agnocast_join(&opts), "joining agnocast");
	signal(SIGTERM, on_fatal_signal);
	signal(SIGINT, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	demo_ok(agnocast_pool_info(&pool), "reading our pool's geometry");
	return pool;
}

static int seen_before(uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < nr_seen; i++)
		if (seen[i] == addr)
			return 1;
	if (nr_seen < SEEN_MAX)
		seen[nr_seen++] = addr;
	return 0;
}

void demo_new_pools(const char *how)
{
	struct agnocast_pool_info pools[SEEN_MAX];
	int n = demo_ok(agnocast_mapped_pools(pools, SEEN_MAX), "listing the mapped pools");
	char sz[32];

	for (int i = 0; i < n && i < SEEN_MAX; i++)
		if (!seen_before(pools[i].addr))
			demo_say("mapped process %d's pool read-only at 0x%llx (%s), %s", pools[i].pid,
				 (unsigned long long)pools[i].addr,
				 demo_fmt_size(sz, sizeof(sz), pools[i].max), how);
}

void demo_subscribe_each(const char *topic, unsigned int count,
			 void (*fn)(const struct agnocast_entry *e, void *ctx), void *ctx)
{
	struct agnocast_entry e[16];
	struct agnocast_subscriber *sub;
	struct pollfd p = { .events = POLLIN };
	unsigned int got = 0, i, n;

	demo_ok(agnocast_subscriber_create(topic, &(struct agnocast_qos){ 16, 0 }, &sub), topic);
	p.fd = agnocast_subscriber_fd(sub);
	printf("ready\n");
	fflush(stdout);
	while (got < count) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			demo_die("poll: %s", strerror(errno));
		while (got < count && (n = (unsigned int)demo_ok(agnocast_receive(sub, e, 16), "receiving")) > 0) {
			for (i = 0; i < n; i++, got++) {
				fn(&e[i], ctx);
				demo_ok(agnocast_release(sub, &e[i]), "releasing");
			}
			fflush(stdout);
		}
	}
	demo_ok(agnocast_subscriber_destroy(sub), "unsubscribing");
}

int demo_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0 && errno != ESRCH)
		demo_die("pidfd_open(%d): %s", (int)pid, strerror(errno));
	return fd;
}

uint64_t demo_pfn(uint64_t addr)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t v = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &v, sizeof(v), (off_t)(addr / (uint64_t)page * sizeof(v))) !=
	    (ssize_t)sizeof(v))
		v = 0;
	close(fd);
	/* Bit 63: present; bits 0-54: the frame (zero unless CAP_SYS_ADMIN). */
	return (v >> 63) ? (v & ((1ULL << 55) - 1)) : 0;
}
