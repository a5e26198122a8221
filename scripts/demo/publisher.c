// SPDX-License-Identifier: Apache-2.0
/*
 * The demo's publisher: waits for its subscribers' hellos on DEMO_ACK_TOPIC,
 * then for each size writes messages into its own pool (header, first and
 * last byte; the rest is never touched) and publishes them on DEMO_TOPIC,
 * reusing the blocks the module hands back. See demo.h.
 *   publisher [--sizes 64:500,4K:500,...] [--subscribers N] [--window N]
 *             [--ready FILE] [--no-queue] [--timeout SECONDS]
 * AGNOCAST_MEMPOOL_SIZE sets the pool size (default 256M).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agn.h"
#include "demo.h"

#define POOL_SIZE	(256ull << 20)
#define SIZES_MAX	32
#define SUBS_MAX	AGNOCAST_TOPIC_SUBS_MAX
#define DEFAULT_SIZES	"64:500,4K:500,64K:500,1M:200,16M:100,64M:50"

struct size_run {
	uint64_t len, count;
	uint64_t proof_index, proof_addr, proof_pfn_first, proof_pfn_last;
};

struct sub_state {
	pid_t pid;
	int pidfd;		/* readable once it exited */
	uint64_t acked;
};

static struct agn a;
static struct agn_ring ring;
static uint32_t pub, ack_sub;
static int ack_fd, timeout_ms = 60000;
static unsigned int window = 1;
static struct sub_state subs[SUBS_MAX];
static unsigned int nr_subs;
static uint64_t index_;		/* of the last message published */

static uint64_t min_acked(void)
{
	uint64_t m = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < nr_subs; i++)
		if (subs[i].acked < m)
			m = subs[i].acked;
	return nr_subs ? m : 0;
}

static void on_ack(const struct agnocast_entry *e)
{
	const struct demo_ack *k = agn_ptr(e->addr);
	unsigned int i;

	if (e->len < sizeof(*k) || k->magic != DEMO_ACK_MAGIC || k->pid != e->pid)
		agn_die("seq %llu on %s from process %d is not an ack",
			(unsigned long long)e->seq, DEMO_ACK_TOPIC, e->pid);
	for (i = 0; i < nr_subs && subs[i].pid != k->pid; i++)
		;
	if (i == nr_subs) {
		if (nr_subs == SUBS_MAX)
			agn_die("more than %d subscribers", SUBS_MAX);
		subs[nr_subs++] = (struct sub_state){ k->pid, agn_pidfd(k->pid), 0 };
		agn_say(&a, "subscriber process %d said hello", (int)k->pid);
	}
	if (k->index > subs[i].acked)
		subs[i].acked = k->index;
}

/* Wait (poll) for acks or announcements once, and take back free blocks. */
static void wait_acks(void)
{
	struct pollfd p[2 + SUBS_MAX] = { { .fd = ack_fd, .events = POLLIN },
					  { .fd = (int)a.queue, .events = POLLIN } };
	struct agnocast_entry e[64];
	unsigned int n, i;
	int r;

	for (i = 0; i < nr_subs; i++)
		p[2 + i] = (struct pollfd){ .fd = subs[i].pidfd, .events = POLLIN };
	do
		r = poll(p, 2 + nr_subs, timeout_ms);	/* fd -1 is skipped */
	while (r < 0 && errno == EINTR);
	if (r < 0)
		agn_die("poll: %s", strerror(errno));
	if (r == 0) {
		for (i = 0; i < nr_subs; i++)
			if (subs[i].acked < index_)
				agn_say(&a, "subscriber %d acknowledged up to %llu of %llu",
					(int)subs[i].pid,
					(unsigned long long)subs[i].acked,
					(unsigned long long)index_);
		agn_die("no progress for %d s (%u subscribers said hello)",
			timeout_ms / 1000, nr_subs);
	}
	for (i = 0; i < nr_subs; i++)
		if (p[2 + i].revents & POLLIN)
			agn_die("subscriber %d exited (it acknowledged %llu of %llu messages)",
				(int)subs[i].pid, (unsigned long long)subs[i].acked,
				(unsigned long long)index_);
	agn_drain_queue(&a);
	while ((n = agn_receive(&a, ack_sub, e, 64)) > 0)
		for (i = 0; i < n; i++) {
			on_ack(&e[i]);
			agn_release(&a, ack_sub, e[i].seq);
		}
	agn_reclaim(&a, &ring);
}

static uint64_t loan(uint64_t len)
{
	uint64_t align = len >= 4096 ? 4096 : 64, addr;

	while (!(addr = agn_ring_alloc(&ring, len, align))) {
		if (agn_reclaim(&a, &ring))
			continue;
		if (min_acked() >= index_)
			agn_die("the pool (%llu bytes) has no room for %llu more with everything acknowledged: raise AGNOCAST_MEMPOOL_SIZE or lower --window",
				(unsigned long long)a.pool_size,
				(unsigned long long)len);
		wait_acks();
	}
	return addr;
}

/* Publish message index_ + 1 of len bytes; returns where it was written. */
static uint64_t publish_one(uint64_t len, uint32_t flags, struct size_run *run)
{
	uint64_t addr;
	struct demo_msg *m;
	uint8_t *bytes;

	/* Never more than `window` unacknowledged: our history depth. */
	while (index_ + 1 - min_acked() > window)
		wait_acks();
	addr = loan(len);
	m = agn_ptr(addr);
	bytes = agn_ptr(addr);
	index_++;
	m->magic = DEMO_MSG_MAGIC;
	m->flags = flags;
	m->index = index_;
	m->len = len;
	m->loan_addr = addr;
	m->pfn_first = m->pfn_last = 0;
	if (len > sizeof(*m)) {
		bytes[sizeof(*m)] = demo_fill(index_);
		bytes[len - 1] = demo_fill_last(index_);
	}
	if (flags & DEMO_PROOF) {
		m->pfn_first = agn_pfn(addr);
		m->pfn_last = agn_pfn(addr + len - 1);
		run->proof_index = index_;
		run->proof_addr = addr;
		run->proof_pfn_first = m->pfn_first;
		run->proof_pfn_last = m->pfn_last;
	}
	m->t_pub_ns = agn_now_ns();
	agn_publish(&a, pub, addr, len, &ring);
	return addr;
}

static unsigned int parse_sizes(const char *spec, struct size_run *runs)
{
	char *copy = strdup(spec), *save = NULL, *tok, *colon, *end;
	unsigned int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == SIZES_MAX)
			agn_die("--sizes: more than %d sizes", SIZES_MAX);
		colon = strchr(tok, ':');
		if (!colon)
			agn_die("--sizes: '%s' is not SIZE:COUNT", tok);
		*colon = '\0';
		runs[n].len = agn_parse_size(tok);
		runs[n].count = strtoull(colon + 1, &end, 10);
		if (runs[n].len < sizeof(struct demo_msg) || *end || !runs[n].count)
			agn_die("--sizes: bad size or count in '%s:%s' (sizes from %zu bytes)",
				tok, colon + 1, sizeof(struct demo_msg));
		n++;
	}
	free(copy);
	if (!n)
		agn_die("--sizes: empty");
	return n;
}

static void copy_for_scale(uint64_t len)
{
	char *src = malloc(len), *dst = malloc(len), sz[32];
	uint64_t t;

	if (!src || !dst)
		return;
	memset(src, 1, len);
	memset(dst, 2, len);
	t = agn_now_ns();
	memcpy(dst, src, len);
	__asm__ volatile("" : : "r"(dst) : "memory");	/* keep the copy */
	t = agn_now_ns() - t;
	agn_say(&a, "for scale: one memcpy of %s takes %.2f ms on this machine "
		"(what a copying transport pays per message and per subscriber)",
		agn_fmt_size(sz, sizeof(sz), len), (double)t / 1e6);
	free(src);
	free(dst);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: publisher [--sizes SIZE:COUNT,...] [--subscribers N] [--window N]\n"
		"                 [--ready FILE] [--no-queue] [--timeout SECONDS]\n"
		"  default sizes %s\n", DEFAULT_SIZES);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "subscribers", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "ready", required_argument, NULL, 'r' },
		{ "no-queue", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 }
	};
	struct size_run runs[SIZES_MAX];
	const char *spec = DEFAULT_SIZES, *ready = NULL;
	unsigned int expect = 2, nr_runs, i;
	int with_queue = 1, c;
	uint64_t j, total = 0, largest = 0, t0;
	char sz[32], pids[SUBS_MAX * 12];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': spec = optarg; break;
		case 'n': expect = (unsigned int)atoi(optarg); break;
		case 'w': window = (unsigned int)atoi(optarg); break;
		case 'r': ready = optarg; break;
		case 'q': with_queue = 0; break;
		case 't': timeout_ms = atoi(optarg) * 1000; break;
		default: usage();
		}
	}
	if (optind != argc || !expect || expect > SUBS_MAX || timeout_ms <= 0 ||
	    window < 1 || window > DEMO_WINDOW_MAX)
		usage();
	nr_runs = parse_sizes(spec, runs);

	agn_join(&a, "publisher", POOL_SIZE, 0, with_queue);
	for (i = 0; i < nr_runs; i++) {
		uint64_t need = (window + 2) * ((runs[i].len + 4095) & ~4095ull);

		if (need > a.pool_size)
			agn_die("a %s message with --window %u needs a pool of %llu bytes (has %llu): raise AGNOCAST_MEMPOOL_SIZE",
				agn_fmt_size(sz, sizeof(sz), runs[i].len), window,
				(unsigned long long)need,
				(unsigned long long)a.pool_size);
		if (runs[i].len > largest)
			largest = runs[i].len;
	}
	agn_say(&a, "pid %d, joined: own pool %s at 0x%llx%s", (int)a.pid,
		agn_fmt_size(sz, sizeof(sz), a.pool_size),
		(unsigned long long)a.pool_addr,
		with_queue ? "" : ", no discovery queue (subscribers' pools are found by their entries' pid)");
	agn_ring_init(&ring, a.pool_addr, a.pool_size);
	ack_sub = agn_add_subscriber(&a, DEMO_ACK_TOPIC, AGNOCAST_DEPTH_MAX,
				     AGNOCAST_QOS_TRANSIENT_LOCAL, &ack_fd);
	pub = agn_add_publisher(&a, DEMO_TOPIC, window, 0);
	agn_say(&a, "publishing on %s (history depth %u = window); waiting for %u subscribers' hellos",
		DEMO_TOPIC, window, expect);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fputs("ready\n", f) < 0 || fclose(f))
			agn_die("cannot write %s", ready);
	}
	while (nr_subs < expect)
		wait_acks();

	t0 = agn_now_ns();
	for (i = 0; i < nr_runs; i++) {
		for (j = 0; j < runs[i].count; j++)
			publish_one(runs[i].len, j ? 0 : DEMO_PROOF, &runs[i]);
		total += runs[i].count;
	}
	publish_one(sizeof(struct demo_msg), DEMO_END, &runs[0]);
	while (min_acked() < index_)
		wait_acks();

	/* Every subscriber may go now: its last ack was read (demo.h). */
	pids[0] = '\0';
	for (i = 0; i < nr_subs; i++) {
		if (kill(subs[i].pid, DEMO_DONE_SIGNAL))
			agn_die("cannot signal subscriber %d that its last ack was read: %s",
				(int)subs[i].pid, strerror(errno));
		snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d",
			 i ? ", " : "", (int)subs[i].pid);
	}
	agn_say(&a, "%llu messages and END published in %.2f s, all acknowledged by subscribers %s; "
		"signalled each (SIGUSR2) that its last ack was read",
		(unsigned long long)total, (double)(agn_now_ns() - t0) / 1e9, pids);
	agn_say(&a, "pool blocks: %llu loaned, %llu handed back by PUBLISH/RECLAIM and reused",
		(unsigned long long)ring.allocs, (unsigned long long)ring.frees);
	for (i = 0; i < nr_runs; i++) {
		struct size_run *r = &runs[i];

		agn_say(&a, "%9s x %-5llu message %-5llu written at 0x%llx (PFN 0x%llx .. 0x%llx)",
			agn_fmt_size(sz, sizeof(sz), r->len),
			(unsigned long long)r->count,
			(unsigned long long)r->proof_index,
			(unsigned long long)r->proof_addr,
			(unsigned long long)r->proof_pfn_first,
			(unsigned long long)r->proof_pfn_last);
	}
	copy_for_scale(largest);
	agn_leave(&a);
	return 0;
}
