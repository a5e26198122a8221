// SPDX-License-Identifier: Apache-2.0
/*
 * The demo's publisher: waits for its subscribers' hellos on DEMO_ACK_TOPIC,
 * then for each size writes messages into its own pool (header, first and
 * last byte; the rest is never touched) and publishes them on DEMO_TOPIC,
 * in blocks of its pool that go back to its allocator once the module hands
 * them back (libagnocast). See demo.h.
 *   publisher [--sizes 64:500,4K:500,...] [--subscribers N] [--window N]
 *             [--ready FILE] [--no-queue] [--timeout SECONDS]
 * AGNOCAST_MEMPOOL_SIZE sets the pool size (default 256M; it grows if it must).
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

#include "demo.h"
#include "libagnocast.h"
#include "util.h"

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

static struct agnocast_pool pool;
static struct agnocast_publisher *pub;
static struct agnocast_subscriber *ack_sub;
static int ack_fd, timeout_ms = 60000;
static uint64_t loans;
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
	const struct demo_ack *k = agnocast_entry_data(e);
	unsigned int i;

	if (e->len < sizeof(*k) || k->magic != DEMO_ACK_MAGIC || k->pid != e->pid)
		demo_die("seq %llu on %s from process %d is not an ack",
			(unsigned long long)e->seq, DEMO_ACK_TOPIC, e->pid);
	for (i = 0; i < nr_subs && subs[i].pid != k->pid; i++)
		;
	if (i == nr_subs) {
		if (nr_subs == SUBS_MAX)
			demo_die("more than %d subscribers", SUBS_MAX);
		subs[nr_subs++] = (struct sub_state){ k->pid, demo_pidfd(k->pid), 0 };
		demo_say("subscriber process %d said hello", (int)k->pid);
	}
	if (k->index > subs[i].acked)
		subs[i].acked = k->index;
}

/* Wait (poll) for acks or the library's events once, and take back free blocks. */
static void wait_acks(void)
{
	struct pollfd p[2 + SUBS_MAX] = { { .fd = ack_fd, .events = POLLIN },
					  { .fd = agnocast_events_fd(), .events = POLLIN } };
	struct agnocast_entry e[64];
	unsigned int n, i;
	int r;

	for (i = 0; i < nr_subs; i++)
		p[2 + i] = (struct pollfd){ .fd = subs[i].pidfd, .events = POLLIN };
	do
		r = poll(p, 2 + nr_subs, timeout_ms);	/* fd -1 is skipped */
	while (r < 0 && errno == EINTR);
	if (r < 0)
		demo_die("poll: %s", strerror(errno));
	if (r == 0) {
		for (i = 0; i < nr_subs; i++)
			if (subs[i].acked < index_)
				demo_say("subscriber %d acknowledged up to %llu of %llu",
					(int)subs[i].pid,
					(unsigned long long)subs[i].acked,
					(unsigned long long)index_);
		demo_die("no progress for %d s (%u subscribers said hello)",
			timeout_ms / 1000, nr_subs);
	}
	for (i = 0; i < nr_subs; i++)
		if (p[2 + i].revents & POLLIN)
			demo_die("subscriber %d exited (it acknowledged %llu of %llu messages)",
				(int)subs[i].pid, (unsigned long long)subs[i].acked,
				(unsigned long long)index_);
	if (p[1].revents & POLLIN) {
		demo_ok(agnocast_handle_events(), "handling announcements");
		demo_new_pools("announced on our /new_publisher@<pid> (a subscriber's ack publisher)");
	}
	while ((n = (unsigned int)demo_ok(agnocast_receive(ack_sub, e, 64), "receiving acks")) > 0) {
		demo_new_pools("learnt from a received ack's address");
		for (i = 0; i < n; i++) {
			on_ack(&e[i]);
			demo_ok(agnocast_release(ack_sub, &e[i]), "releasing an ack");
		}
	}
	demo_ok(agnocast_reclaim(), "reclaiming blocks");
}

/* A block of len bytes from the pool, once there is room for it. */
static void *loan(uint64_t len)
{
	size_t align = len >= 4096 ? 4096 : 64;
	void *p;

	while (!(p = agnocast_memalign(align, len))) {
		if (errno != ENOMEM)
			demo_die("agnocast_memalign: %s", agnocast_last_error());
		if (demo_ok(agnocast_reclaim(), "reclaiming blocks"))
			continue;
		if (min_acked() >= index_)
			demo_die("the pool (at most %llu bytes) has no room for %llu more with everything acknowledged: raise AGNOCAST_MEMPOOL_SIZE or lower --window",
				 (unsigned long long)pool.max, (unsigned long long)len);
		wait_acks();
	}
	loans++;
	return p;
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
	m = loan(len);
	addr = demo_addr(m);
	bytes = (uint8_t *)m;
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
		m->pfn_first = demo_pfn(addr);
		m->pfn_last = demo_pfn(addr + len - 1);
		run->proof_index = index_;
		run->proof_addr = addr;
		run->proof_pfn_first = m->pfn_first;
		run->proof_pfn_last = m->pfn_last;
	}
	m->t_pub_ns = demo_now_ns();
	demo_ok(agnocast_publish(pub, m, len, NULL), "publishing");
	return addr;
}

static unsigned int parse_sizes(const char *spec, struct size_run *runs)
{
	char *copy = strdup(spec), *save = NULL, *tok, *colon, *end;
	unsigned int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == SIZES_MAX)
			demo_die("--sizes: more than %d sizes", SIZES_MAX);
		colon = strchr(tok, ':');
		if (!colon)
			demo_die("--sizes: '%s' is not SIZE:COUNT", tok);
		*colon = '\0';
		runs[n].len = demo_parse_size(tok);
		runs[n].count = strtoull(colon + 1, &end, 10);
		if (runs[n].len < sizeof(struct demo_msg) || *end || !runs[n].count)
			demo_die("--sizes: bad size or count in '%s:%s' (sizes from %zu bytes)",
				tok, colon + 1, sizeof(struct demo_msg));
		n++;
	}
	free(copy);
	if (!n)
		demo_die("--sizes: empty");
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
	t = demo_now_ns();
	memcpy(dst, src, len);
	__asm__ volatile("" : : "r"(dst) : "memory");	/* keep the copy */
	t = demo_now_ns() - t;
	demo_say("for scale: one memcpy of %s takes %.2f ms on this machine "
		"(what a copying transport pays per message and per subscriber)",
		demo_fmt_size(sz, sizeof(sz), len), (double)t / 1e6);
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

	demo_name("publisher");
	pool = demo_join(POOL_SIZE, with_queue);
	for (i = 0; i < nr_runs; i++) {
		uint64_t need = (window + 2) * ((runs[i].len + 4095) & ~4095ull);

		if (need > pool.max)
			demo_die("a %s message with --window %u needs a pool of %llu bytes (at most %llu): raise AGNOCAST_MEMPOOL_SIZE",
				 demo_fmt_size(sz, sizeof(sz), runs[i].len), window,
				 (unsigned long long)need, (unsigned long long)pool.max);
		if (runs[i].len > largest)
			largest = runs[i].len;
	}
	demo_say("pid %d, joined: own pool %s at 0x%llx%s", (int)pool.pid,
		 demo_fmt_size(sz, sizeof(sz), pool.size), (unsigned long long)pool.addr,
		 with_queue ? "" : ", no discovery queue (subscribers' pools are found by their entries' addresses)");
	demo_ok(agnocast_subscriber_create(DEMO_ACK_TOPIC,
					   &(struct agnocast_qos){ AGNOCAST_DEPTH_MAX, AGNOCAST_QOS_TRANSIENT_LOCAL },
					   &ack_sub), "subscribing to " DEMO_ACK_TOPIC);
	ack_fd = agnocast_subscriber_fd(ack_sub);
	demo_new_pools("listed by ADD_SUBSCRIBER (a subscriber's ack publisher)");
	demo_ok(agnocast_publisher_create(DEMO_TOPIC, &(struct agnocast_qos){ window, 0 }, &pub),
		"creating the publisher on " DEMO_TOPIC);
	demo_say("publishing on %s (history depth %u = window); waiting for %u subscribers' hellos",
		DEMO_TOPIC, window, expect);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fputs("ready\n", f) < 0 || fclose(f))
			demo_die("cannot write %s", ready);
	}
	while (nr_subs < expect)
		wait_acks();

	t0 = demo_now_ns();
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
			demo_die("cannot signal subscriber %d that its last ack was read: %s",
				(int)subs[i].pid, strerror(errno));
		snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d",
			 i ? ", " : "", (int)subs[i].pid);
	}
	demo_say("%llu messages and END published in %.2f s, all acknowledged by subscribers %s; "
		 "signalled each (SIGUSR2) that its last ack was read",
		 (unsigned long long)total, (double)(demo_now_ns() - t0) / 1e9, pids);
	demo_say("pool blocks: %llu loaned from the pool's allocator; each went back to it when the module handed its address back",
		 (unsigned long long)loans);
	for (i = 0; i < nr_runs; i++) {
		struct size_run *r = &runs[i];

		demo_say("%9s x %-5llu message %-5llu written at 0x%llx (PFN 0x%llx .. 0x%llx)",
			demo_fmt_size(sz, sizeof(sz), r->len),
			(unsigned long long)r->count,
			(unsigned long long)r->proof_index,
			(unsigned long long)r->proof_addr,
			(unsigned long long)r->proof_pfn_first,
			(unsigned long long)r->proof_pfn_last);
	}
	copy_for_scale(largest);
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}
