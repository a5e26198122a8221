// SPDX-License-Identifier: Apache-2.0
/*
 * The demo's subscriber: receives DEMO_TOPIC, checks every message where it
 * lies (no copy), measures one-way latency, releases, acknowledges on
 * DEMO_ACK_TOPIC, and prints a table per message size. See demo.h.
 *   subscriber [--name NAME] [--ready FILE] [--no-queue] [--timeout SECONDS]
 * Exit status 0 only if every message arrived, in order, intact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"
#include "libagnocast.h"
#include "util.h"

#define POOL_SIZE	(1u << 20)	/* only acks go in our own pool */
#define SIZES_MAX	32
#define ERRORS_SHOWN	10

struct size_stats {
	uint64_t len, count, t_first_pub, t_last_recv;
	uint64_t *lat_ns;
	size_t cap;
};

static struct agnocast_pool pool;
static struct agnocast_publisher *ack_pub;
static struct size_stats sizes[SIZES_MAX];
static unsigned int nr_sizes, errors;
static uint64_t expected = 1, received;

#define ERROR(...)							\
	do {								\
		if (errors++ < ERRORS_SHOWN)				\
			demo_say("VERIFY FAILED: " __VA_ARGS__);	\
	} while (0)

static void send_ack(uint64_t index)
{
	struct demo_ack *k = agnocast_alloc(sizeof(*k));

	if (!k)
		demo_die("no room for an ack in our pool: %s", agnocast_last_error());
	k->magic = DEMO_ACK_MAGIC;
	k->pid = pool.pid;
	k->index = index;
	demo_ok(agnocast_publish(ack_pub, k, sizeof(*k), NULL), "publishing an ack");
}

static struct size_stats *stats_for(uint64_t len)
{
	struct size_stats *s;
	unsigned int i;

	for (i = 0; i < nr_sizes; i++)
		if (sizes[i].len == len)
			return &sizes[i];
	if (nr_sizes == SIZES_MAX)
		demo_die("more than %d message sizes", SIZES_MAX);
	s = &sizes[nr_sizes++];
	s->len = len;
	return s;
}

static void record(struct size_stats *s, const struct demo_msg *m,
		   uint64_t t_recv)
{
	if (s->count == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->lat_ns = realloc(s->lat_ns, s->cap * sizeof(*s->lat_ns));
		if (!s->lat_ns)
			demo_die("out of memory");
	}
	if (!s->count)
		s->t_first_pub = m->t_pub_ns;
	s->lat_ns[s->count++] = t_recv - m->t_pub_ns;
	s->t_last_recv = t_recv;
}

/*
 * Our view of the publisher's pool is read-only: we cannot make it
 * writable, and a write kills the writer. Shown on a throwaway child.
 */
static void show_read_only(uint64_t addr)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = demo_ptr(addr & ~(uint64_t)(page - 1));
	struct rlimit no_core = { 0, 0 };
	int mp_errno = 0, status;
	pid_t child;

	if (mprotect(p, (size_t)page, PROT_READ | PROT_WRITE) == 0)
		ERROR("mprotect(PROT_WRITE) on the publisher's pool succeeded");
	else
		mp_errno = errno;
	fflush(stdout);
	child = fork();
	if (child < 0)
		demo_die("fork: %s", strerror(errno));
	if (child == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		*(volatile char *)demo_ptr(addr) = 0;
		_exit(0);
	}
	if (waitpid(child, &status, 0) != child)
		demo_die("waitpid: %s", strerror(errno));
	if (mp_errno && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		demo_say("read-only: mprotect(PROT_WRITE) on the publisher's pool fails (%s); "
			"a forked child that wrote at 0x%llx was killed by SIGSEGV; we carry on",
			strerrorname_np(mp_errno), (unsigned long long)addr);
	else
		ERROR("a forked child that wrote at 0x%llx ended with status 0x%x, not SIGSEGV",
		      (unsigned long long)addr, status);
}

static void show_zero_copy(const struct agnocast_entry *e,
			   const struct demo_msg *m)
{
	uint64_t last = e->addr + e->len - 1;
	uint64_t pf = demo_pfn(e->addr), pl = demo_pfn(last);
	char sz[32], pages[192];

	demo_fmt_size(sz, sizeof(sz), e->len);
	if (m->loan_addr != e->addr) {
		ERROR("%s message %llu: publisher wrote at 0x%llx, we read at 0x%llx",
		      sz, (unsigned long long)m->index,
		      (unsigned long long)m->loan_addr, (unsigned long long)e->addr);
		return;
	}
	if (pf && pl && m->pfn_first && m->pfn_last) {
		if (pf != m->pfn_first || pl != m->pfn_last) {
			ERROR("%s message %llu: physical frames differ (publisher 0x%llx..0x%llx, us 0x%llx..0x%llx)",
			      sz, (unsigned long long)m->index,
			      (unsigned long long)m->pfn_first,
			      (unsigned long long)m->pfn_last,
			      (unsigned long long)pf, (unsigned long long)pl);
			return;
		}
		if (pf == pl)
			snprintf(pages, sizeof(pages),
				 "same address, same physical pages: PFN 0x%llx in both processes",
				 (unsigned long long)pf);
		else
			snprintf(pages, sizeof(pages),
				 "same address, same physical pages: PFN 0x%llx (first byte) and 0x%llx (last byte) in both processes",
				 (unsigned long long)pf, (unsigned long long)pl);
	} else {
		snprintf(pages, sizeof(pages),
			 "same address; physical pages not compared: /proc/self/pagemap shows frames to root only");
	}
	demo_say("zero-copy %7s: publisher wrote at 0x%llx, subscriber read at 0x%llx (%s)",
		sz, (unsigned long long)m->loan_addr,
		(unsigned long long)e->addr, pages);
}

/* Check one entry where it lies; returns 1 for the END message. */
static int check(const struct agnocast_entry *e, uint64_t t_recv)
{
	const struct demo_msg *m = agnocast_entry_data(e);
	const uint8_t *bytes = agnocast_entry_data(e);

	if (e->len < sizeof(*m) || m->magic != DEMO_MSG_MAGIC) {
		ERROR("seq %llu at 0x%llx (%llu bytes) is not a demo message",
		      (unsigned long long)e->seq, (unsigned long long)e->addr,
		      (unsigned long long)e->len);
		return 0;
	}
	if (m->index != expected)
		ERROR("expected message %llu, got %llu: %llu missing",
		      (unsigned long long)expected, (unsigned long long)m->index,
		      (unsigned long long)(m->index - expected));
	expected = m->index + 1;
	if (m->len != e->len)
		ERROR("message %llu says %llu bytes, the entry %llu",
		      (unsigned long long)m->index, (unsigned long long)m->len,
		      (unsigned long long)e->len);
	if (m->flags & DEMO_END) {
		if (m->index != received + 1)
			ERROR("END says %llu messages were sent, %llu arrived",
			      (unsigned long long)(m->index - 1),
			      (unsigned long long)received);
		show_read_only(e->addr);	/* after the measurements */
		return 1;
	}
	if (e->len > sizeof(*m) &&
	    (bytes[sizeof(*m)] != demo_fill(m->index) ||
	     bytes[e->len - 1] != demo_fill_last(m->index)))
		ERROR("message %llu: first byte 0x%02x, last byte 0x%02x, expected 0x%02x, 0x%02x",
		      (unsigned long long)m->index, bytes[sizeof(*m)],
		      bytes[e->len - 1], demo_fill(m->index),
		      demo_fill_last(m->index));
	received++;
	record(stats_for(e->len), m, t_recv);
	if (m->flags & DEMO_PROOF)
		show_zero_copy(e, m);
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a1 = *(const uint64_t *)x, b1 = *(const uint64_t *)y;

	return a1 < b1 ? -1 : a1 > b1;
}

static double pct_us(const struct size_stats *s, double q)
{
	size_t rank = (size_t)(q * (double)s->count + 0.999999);

	if (rank < 1)
		rank = 1;
	return (double)s->lat_ns[rank - 1] / 1e3;
}

static void report(void)
{
	unsigned int i;
	char sz[32];

	demo_say("%llu messages and END received; %s", (unsigned long long)received,
		errors ? "SOME FAILED VERIFICATION (above)" :
			 "none missing, every one verified in place (header, first and last byte)");
	printf("    %9s %7s %10s %10s %11s %11s\n", "size", "count", "p50 µs",
	       "p99 µs", "msg/s", "MB/s");
	for (i = 0; i < nr_sizes; i++) {
		struct size_stats *s = &sizes[i];
		double secs = (double)(s->t_last_recv - s->t_first_pub) / 1e9;
		double rate = secs > 0 ? (double)s->count / secs : 0;

		qsort(s->lat_ns, s->count, sizeof(*s->lat_ns), cmp_u64);
		printf("    %9s %7llu %10.1f %10.1f %11.0f %11.1f\n",
		       demo_fmt_size(sz, sizeof(sz), s->len),
		       (unsigned long long)s->count, pct_us(s, 0.50),
		       pct_us(s, 0.99), rate, rate * (double)s->len / 1e6);
	}
	printf("    (MB/s: message bytes delivered per second; the publisher writes only the\n"
	       "    header and the first and last byte, the rest of a message is never touched)\n");
}

/* Stay until the publisher has read our last ack and gone. */
static void wait_publisher_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;

	if (pidfd < 0)
		return;		/* gone already */
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		demo_die("the publisher is still there %d s after END", timeout_ms / 1000);
	close(pidfd);
}

static void usage(void)
{
	fprintf(stderr, "usage: subscriber [--name NAME] [--ready FILE] [--no-queue] [--timeout SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "ready", required_argument, NULL, 'r' },
		{ "no-queue", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 }
	};
	struct agnocast_entry e[DEMO_SUB_DEPTH];
	const char *name = "subscriber", *ready = NULL;
	int with_queue = 1, timeout_ms = 60000, c, fd, done = 0;
	int pub_pidfd = -1;	/* the publisher's, once we know it */
	pid_t publisher = 0;
	struct agnocast_subscriber *sub;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'r': ready = optarg; break;
		case 'q': with_queue = 0; break;
		case 't': timeout_ms = atoi(optarg) * 1000; break;
		default: usage();
		}
	}
	if (optind != argc || timeout_ms <= 0)
		usage();
	/* We wait for the publisher's exit instead (demo.h). */
	signal(DEMO_DONE_SIGNAL, SIG_IGN);

	demo_name(name);
	pool = demo_join(POOL_SIZE, with_queue);
	demo_say("pid %d, joined: own pool 0x%llx (acks only)%s", (int)pool.pid,
		 (unsigned long long)pool.addr,
		 with_queue ? ", discovery queue /new_publisher@<pid> made when subscribing" :
			      ", no discovery queue (publishers are found by their entries' addresses)");
	demo_ok(agnocast_subscriber_create(DEMO_TOPIC, &(struct agnocast_qos){ DEMO_SUB_DEPTH, 0 }, &sub),
		"subscribing to " DEMO_TOPIC);
	fd = agnocast_subscriber_fd(sub);
	demo_new_pools("listed by ADD_SUBSCRIBER(" DEMO_TOPIC ")");
	demo_ok(agnocast_publisher_create(DEMO_ACK_TOPIC, &(struct agnocast_qos){ 1, AGNOCAST_QOS_TRANSIENT_LOCAL },
					  &ack_pub), "creating the ack publisher");
	send_ack(0);
	demo_say("subscribed to %s, said hello on %s; waiting (poll)", DEMO_TOPIC,
		DEMO_ACK_TOPIC);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fputs("ready\n", f) < 0 || fclose(f))
			demo_die("cannot write %s", ready);
	}

	while (!done) {
		struct pollfd p[3] = { { .fd = fd, .events = POLLIN },
				       { .fd = pub_pidfd, .events = POLLIN },
				       { .fd = agnocast_events_fd(), .events = POLLIN } };
		unsigned int n, i;
		uint64_t t_recv;
		int r = poll(p, 3, timeout_ms);	/* negative fds are skipped */

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			demo_die("poll: %s", strerror(errno));
		if (r == 0)
			demo_die("nothing for %d s (received %llu messages)",
				timeout_ms / 1000, (unsigned long long)received);
		if (p[0].revents & (POLLHUP | POLLERR))
			demo_die("our subscriber fd reported POLLHUP/POLLERR");
		if (p[2].revents & POLLIN) {
			demo_ok(agnocast_handle_events(), "handling announcements");
			demo_new_pools("announced on our /new_publisher@<pid>");
		}
		if (p[0].revents & POLLIN) {
			n = (unsigned int)demo_ok(agnocast_receive(sub, e, DEMO_SUB_DEPTH), "receiving");
			t_recv = demo_now_ns();
			if (n)
				demo_new_pools("learnt from a received entry's address");
			for (i = 0; i < n; i++) {
				done |= check(&e[i], t_recv);
				demo_ok(agnocast_release(sub, &e[i]), "releasing");
			}
			if (n)
				send_ack(expected - 1);
			if (n && e[0].pid != publisher) {
				if (pub_pidfd >= 0)
					demo_die("a second publisher (process %d) on %s",
						e[0].pid, DEMO_TOPIC);
				publisher = e[0].pid;
				pub_pidfd = demo_pidfd(publisher);
			}
		}
		if (!done && (p[1].revents & POLLIN))
			demo_die("publisher %d exited before END (we received %llu messages)",
				(int)publisher, (unsigned long long)received);
	}
	wait_publisher_exit(pub_pidfd, timeout_ms);
	report();
	demo_ok(agnocast_leave(), "leaving");
	return errors ? 1 : 0;
}
