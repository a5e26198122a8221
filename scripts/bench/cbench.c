/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agnocast C->C latency bench, on libagnocast.
 *   cbench sub [WARMUP]    subscribes to /agnocast_bench/c_data, acks each
 *                          message on /agnocast_bench/c_ack with its latency;
 *                          at the end prints "cpu NS MESSAGES": the CPU time
 *                          it spent from its first message of seq > WARMUP
 *                          (default 0) to the end's, over the MESSAGES that
 *                          came after that one
 *   cbench pub SIZE:COUNT,... [SUBSCRIBERS]
 *                          publishes lock-step (next one after the acks of
 *                          all SUBSCRIBERS `cbench sub`s, default 1) and
 *                          prints one line per message: "SIZE LATENCY_NS"
 *                          (the largest of the acks: the last subscriber's)
 *                          then "rate SIZE MSGS_PER_S" per size, and at
 *                          the end "cpu NS MESSAGES": its CPU time from the
 *                          last SIZE:COUNT's first publish to the end's
 *                          acks, over that COUNT.
 *   cbench sustained-sub WARMUP
 *                          the sustained row's subscriber: keep-last, depth
 *                          64, on /agnocast_bench/c_sus_data; every
 *                          SUS_REPORT messages of the stream (its position
 *                          that far past the last report's), on message
 *                          WARMUP and on the end it reports its progress on
 *                          /agnocast_bench/c_sus_ack; counts only messages
 *                          past WARMUP
 *   cbench sustained-pub SIZE SECONDS WINDOW DEPTH WARMUP
 *                          publishes SIZE-byte messages (publisher depth
 *                          DEPTH: a keep-last subscriber gets only retained
 *                          entries) without waiting for acks, at most WINDOW
 *                          ahead of the subscriber's last report: WARMUP
 *                          uncounted ones (until reported received), then
 *                          for SECONDS, then the end; prints
 *                          "sustained SIZE WINDOW SECS PUBLISHED RECEIVED
 *                          DROPPED PUB_CPU_NS SUB_CPU_NS" (SECS: first
 *                          publish to the end's report; DROPPED: the
 *                          subscriber's seq gaps; the CPU times: the
 *                          publisher's over SECS, the subscriber's from its
 *                          first counted message to the end).
 *   cbench costs N         what single operations cost here, each timed
 *                          over N calls: a system call (getppid), glibc's
 *                          malloc + free of 4 KiB and, when /dev/agnocast
 *                          is there, agnocast_alloc + agnocast_free of 4 KiB
 *                          and agnocast_alloc + agnocast_publish of 4 KiB
 *                          on a topic of depth 1 with no subscriber (the
 *                          library takes back the block the module hands
 *                          back); prints "cost NAME NS_PER_CALL" lines
 *                          (scripts/bench/costs.mjs sets them beside
 *                          Node's).
 * Latency = subscriber CLOCK_MONOTONIC after RECEIVE - the timestamp the
 * publisher wrote into the message right before PUBLISH.
 * The subs print "ready" once subscribed (the pub must start after that).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "libagnocast.h"
#include "util.h"

#define DATA "/agnocast_bench/c_data"
#define ACK  "/agnocast_bench/c_ack"
#define SUS_DATA "/agnocast_bench/c_sus_data"
#define SUS_ACK  "/agnocast_bench/c_sus_ack"
#define SUS_REPORT 16	/* the subscriber reports every SUS_REPORT messages */

struct hdr { uint64_t seq, t_pub_ns; };
struct ack { uint64_t seq, lat_ns; };
/* The sustained subscriber's report: the bench seq of the last message it
 * received, how many it received, the module seq gaps it saw, and (on the
 * end) its CPU time from its first counted message. */
struct report { uint64_t pos, received, dropped, cpu_ns; };

static void wait_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	for (;;) {
		r = poll(&p, 1, 60000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			demo_die("poll: %s", r ? strerror(errno) : "timeout (60 s)");
		return;
	}
}

/* CPU time this process has used (all its threads), in ns. */
static uint64_t cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *alloc(uint64_t len)
{
	void *p;

	while (!(p = agnocast_memalign(64, len)))
		if (!demo_ok(agnocast_reclaim(), "reclaiming"))
			demo_die("pool has no room for %llu bytes: %s", (unsigned long long)len,
				 agnocast_last_error());
	return p;
}

/* Publish one ack (seq, lat) on pub. */
static void ack(struct agnocast_publisher *pub, uint64_t seq, uint64_t lat)
{
	struct ack *k = alloc(sizeof(*k));

	*k = (struct ack){ seq, lat };
	demo_ok(agnocast_publish(pub, k, sizeof(*k), NULL), "publishing an ack");
}

static int run_sub(uint64_t warmup)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e[64];
	uint64_t cpu0 = 0, msgs = 0;
	int fd;

	demo_name("cbench-sub");
	demo_join(4u << 20, 0);
	demo_ok(agnocast_subscriber_create(DATA, &(struct agnocast_qos){ 64, 0 }, &sub), DATA);
	fd = agnocast_subscriber_fd(sub);
	demo_ok(agnocast_publisher_create(ACK, &(struct agnocast_qos){ 1, AGNOCAST_QOS_TRANSIENT_LOCAL }, &pub), ACK);
	ack(pub, 0, 0);	/* hello: seq 0 */
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		unsigned int n, i;
		uint64_t now;

		wait_fd(fd);
		n = (unsigned int)demo_ok(agnocast_receive(sub, e, 64), "receiving");
		now = demo_now_ns();
		for (i = 0; i < n; i++) {
			const struct hdr *h = agnocast_entry_data(&e[i]);
			uint64_t seq = h->seq, lat = now - h->t_pub_ns;
			pid_t publisher = e[i].pid;

			demo_ok(agnocast_release(sub, &e[i]), "releasing");
			ack(pub, seq, lat);
			if (cpu0)
				msgs++;
			else if (seq > warmup)
				cpu0 = cpu_ns();
			if (seq == UINT64_MAX) {
				/* Stay until the publisher read that ack and left. */
				int gone = demo_pidfd(publisher);	/* -1: gone already */

				printf("cpu %llu %llu\n", (unsigned long long)(cpu_ns() - cpu0),
				       (unsigned long long)msgs);
				fflush(stdout);

				if (gone >= 0)
					wait_fd(gone);
				demo_ok(agnocast_leave(), "leaving");
				return 0;
			}
		}
	}
}

/* Waits for the acks of seq from all `subs` subscribers; returns the largest latency. */
static uint64_t wait_acks(struct agnocast_subscriber *sub, int fd, uint64_t seq,
			  unsigned int subs)
{
	struct agnocast_entry e[64];
	unsigned int got = 0;
	uint64_t lat = 0;

	for (;;) {
		unsigned int n, i;

		n = (unsigned int)demo_ok(agnocast_receive(sub, e, 64), "receiving acks");
		for (i = 0; i < n; i++) {
			const struct ack *k = agnocast_entry_data(&e[i]);

			if (k->seq == seq) {
				got++;
				if (k->lat_ns > lat)
					lat = k->lat_ns;
			}
			demo_ok(agnocast_release(sub, &e[i]), "releasing an ack");
		}
		if (got >= subs)
			return lat;
		wait_fd(fd);
	}
}

static int run_pub(char *spec, unsigned int subs)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	uint64_t seq = 0;
	char *tok, *save = NULL;
	uint64_t cpu0 = 0, last = 0;
	int fd;

	demo_name("cbench-pub");
	demo_join(256u << 20, 0);
	demo_ok(agnocast_subscriber_create(ACK, &(struct agnocast_qos){ 64, AGNOCAST_QOS_TRANSIENT_LOCAL }, &sub), ACK);
	fd = agnocast_subscriber_fd(sub);
	demo_ok(agnocast_publisher_create(DATA, &(struct agnocast_qos){ 1, 0 }, &pub), DATA);
	wait_acks(sub, fd, 0, subs);	/* the subscribers' hellos */
	for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		uint64_t len, count, i, t0;

		if (!colon)
			demo_die("bad SIZE:COUNT '%s'", tok);
		*colon = 0;
		len = strtoull(tok, NULL, 10);
		count = strtoull(colon + 1, NULL, 10);
		if (len < sizeof(struct hdr) || !count)
			demo_die("bad SIZE:COUNT");
		t0 = demo_now_ns();
		cpu0 = cpu_ns();
		last = count;
		for (i = 0; i < count; i++) {
			struct hdr *h = alloc(len);
			uint64_t lat;

			h->seq = ++seq;
			h->t_pub_ns = demo_now_ns();
			demo_ok(agnocast_publish(pub, h, len, NULL), "publishing");
			lat = wait_acks(sub, fd, seq, subs);
			printf("%llu %llu\n", (unsigned long long)len, (unsigned long long)lat);
		}
		printf("rate %llu %.1f\n", (unsigned long long)len,
		       (double)count * 1e9 / (double)(demo_now_ns() - t0));
		fflush(stdout);
	}
	{	/* the end */
		struct hdr *h = alloc(sizeof(*h));

		*h = (struct hdr){ UINT64_MAX, demo_now_ns() };
		demo_ok(agnocast_publish(pub, h, sizeof(*h), NULL), "publishing the end");
	}
	wait_acks(sub, fd, UINT64_MAX, subs);	/* leaving earlier would withdraw it unread */
	printf("cpu %llu %llu\n", (unsigned long long)(cpu_ns() - cpu0), (unsigned long long)last);
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}

/* ---- sustained: windowed, not lock-step ----------------------------------- */

static void report(struct agnocast_publisher *pub, uint64_t pos, uint64_t received,
		   uint64_t dropped, uint64_t cpu)
{
	struct report *r = alloc(sizeof(*r));

	*r = (struct report){ pos, received, dropped, cpu };
	demo_ok(agnocast_publish(pub, r, sizeof(*r), NULL), "publishing a report");
}

static int run_sustained_sub(const char *warmup_s)
{
	uint64_t warmup = strtoull(warmup_s, NULL, 10);
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e[2][64];	/* this batch, and the previous one to release */
	uint64_t received = 0, dropped = 0, last_seq = 0, reported = 0, cpu0 = 0;
	unsigned int n = 0, k = 0;
	int fd;

	demo_name("cbench-sustained-sub");
	demo_join(4u << 20, 0);
	/* keep-last (not reliable), depth 64 */
	demo_ok(agnocast_subscriber_create(SUS_DATA, &(struct agnocast_qos){ 64, 0 }, &sub), SUS_DATA);
	fd = agnocast_subscriber_fd(sub);
	demo_ok(agnocast_publisher_create(SUS_ACK, &(struct agnocast_qos){ 1, AGNOCAST_QOS_TRANSIENT_LOCAL },
					  &pub), SUS_ACK);
	report(pub, 0, 0, 0, 0);	/* hello */
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		unsigned int i;

		/* release the previous batch and receive the next in one RECEIVE */
		n = (unsigned int)demo_ok(agnocast_receive_release(sub, e[k], n, e[k ^ 1], 64), "receiving");
		k ^= 1;
		if (!n) {
			wait_fd(fd);
			continue;
		}
		for (i = 0; i < n; i++) {
			const struct hdr *h = agnocast_entry_data(&e[k][i]);
			uint64_t seq = h->seq;

			if (last_seq && e[k][i].seq > last_seq + 1 && seq > warmup)
				dropped += e[k][i].seq - last_seq - 1;
			if (e[k][i].seq > last_seq)
				last_seq = e[k][i].seq;
			if (seq == UINT64_MAX) {
				pid_t publisher = e[k][i].pid;
				int gone;

				demo_ok(agnocast_receive_release(sub, e[k], n, NULL, 0), "releasing");
				report(pub, seq, received, dropped, cpu0 ? cpu_ns() - cpu0 : 0);
				/* Stay until the publisher read that report and left. */
				gone = demo_pidfd(publisher);	/* -1: gone already */
				if (gone >= 0)
					wait_fd(gone);
				demo_ok(agnocast_leave(), "leaving");
				return 0;
			}
			if (seq > warmup && !received++)
				cpu0 = cpu_ns();
			if (seq - reported >= SUS_REPORT || seq == warmup) {
				report(pub, seq, received, dropped, 0);
				reported = seq;
			}
		}
	}
}

/*
 * Drains the reports: *last gets the newest (the largest pos). With block,
 * waits for at least one first.
 */
static void read_reports(struct agnocast_subscriber *sub, int fd, int block, struct report *last)
{
	struct agnocast_entry e[64];
	unsigned int n, i;

	for (;;) {
		n = (unsigned int)demo_ok(agnocast_receive(sub, e, 64), "receiving reports");
		for (i = 0; i < n; i++) {
			const struct report *r = agnocast_entry_data(&e[i]);

			if (r->pos >= last->pos)
				*last = *r;
			demo_ok(agnocast_release(sub, &e[i]), "releasing a report");
		}
		if (n || !block)
			return;
		wait_fd(fd);
	}
}

/*
 * Publishes the next message (++*seq) of LEN bytes, first waiting for
 * reports while WINDOW messages are ahead of the last one: the sustained
 * row's only wait.
 */
static void publish_windowed(struct agnocast_publisher *pub, struct agnocast_subscriber *sub,
			     int fd, uint64_t len, uint64_t window, uint64_t *seq,
			     struct report *last)
{
	struct hdr *h;

	while (*seq - last->pos >= window)
		read_reports(sub, fd, 1, last);
	h = alloc(len);
	h->seq = ++*seq;
	h->t_pub_ns = demo_now_ns();
	demo_ok(agnocast_publish(pub, h, len, NULL), "publishing");
}

static int run_sustained_pub(const char *size_s, const char *secs_s, const char *window_s,
			     const char *depth_s, const char *warmup_s)
{
	uint64_t warmup = strtoull(warmup_s, NULL, 10);
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct report last = { 0, 0, 0, 0 };
	uint64_t len = demo_parse_size(size_s), window = strtoull(window_s, NULL, 10);
	unsigned long depth = strtoul(depth_s, NULL, 10);
	uint64_t seq = 0, t0, until, cpu0;
	double secs = strtod(secs_s, NULL);
	int fd;

	if (len < sizeof(struct hdr) || !window || !(secs > 0) || !depth || depth > AGNOCAST_DEPTH_MAX)
		demo_die("bad SIZE SECONDS WINDOW DEPTH");
	demo_name("cbench-sustained-pub");
	demo_join(256u << 20, 0);
	demo_ok(agnocast_subscriber_create(SUS_ACK, &(struct agnocast_qos){ 64, AGNOCAST_QOS_TRANSIENT_LOCAL },
					   &sub), SUS_ACK);
	fd = agnocast_subscriber_fd(sub);
	demo_ok(agnocast_publisher_create(SUS_DATA, &(struct agnocast_qos){ (uint32_t)depth, 0 }, &pub),
		SUS_DATA);
	read_reports(sub, fd, 1, &last);	/* the subscriber's hello */
	while (seq < warmup)	/* uncounted, the same way */
		publish_windowed(pub, sub, fd, len, window, &seq, &last);
	while (last.pos < warmup)	/* all of it received */
		read_reports(sub, fd, 1, &last);
	t0 = demo_now_ns();
	cpu0 = cpu_ns();
	until = t0 + (uint64_t)(secs * 1e9);
	while (demo_now_ns() < until)
		publish_windowed(pub, sub, fd, len, window, &seq, &last);
	while (seq - last.pos >= window)	/* the end, within the window too */
		read_reports(sub, fd, 1, &last);
	{
		struct hdr *h = alloc(sizeof(*h));

		*h = (struct hdr){ UINT64_MAX, demo_now_ns() };
		demo_ok(agnocast_publish(pub, h, sizeof(*h), NULL), "publishing the end");
	}
	while (last.pos != UINT64_MAX)	/* leaving earlier would withdraw it unread */
		read_reports(sub, fd, 1, &last);
	printf("sustained %llu %llu %.6f %llu %llu %llu %llu %llu\n", (unsigned long long)len,
	       (unsigned long long)window, (double)(demo_now_ns() - t0) / 1e9,
	       (unsigned long long)(seq - warmup), (unsigned long long)last.received,
	       (unsigned long long)last.dropped, (unsigned long long)(cpu_ns() - cpu0),
	       (unsigned long long)last.cpu_ns);
	fflush(stdout);
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}

/* ns per call of f over n calls, after n / 10 uncounted ones. */
static double per_call(void (*f)(void), long n)
{
	uint64_t t0;
	long i;

	for (i = 0; i < n / 10; i++)
		f();
	t0 = demo_now_ns();
	for (i = 0; i < n; i++)
		f();
	return (double)(demo_now_ns() - t0) / (double)n;
}

static volatile uintptr_t sink;
#define COST_TOPIC "/agnocast_bench/c_cost"

static void cost_syscall(void)
{
	sink += (uintptr_t)syscall(SYS_getppid);
}

static void cost_malloc(void)
{
	void *p = malloc(4096);

	sink += (uintptr_t)p;
	free(p);
}

static void cost_pool_alloc(void)
{
	void *p = agnocast_alloc(4096);

	sink += (uintptr_t)p;
	agnocast_free(p);
}

static struct agnocast_publisher *cost_pub;

static void cost_publish(void)
{
	demo_ok(agnocast_publish(cost_pub, alloc(4096), 4096, NULL), "publishing");
}

static int run_costs(const char *n_s)
{
	long n = strtol(n_s, NULL, 10);

	if (n <= 0) {
		fprintf(stderr, "cbench costs: N must be a positive count, not '%s'\n", n_s);
		return 2;
	}
	printf("cost syscall %.0f\n", per_call(cost_syscall, n));
	printf("cost malloc_free_4k %.0f\n", per_call(cost_malloc, n));
	if (access("/dev/agnocast", F_OK) == 0) {
		demo_ok(agnocast_join(NULL), "joining");
		printf("cost pool_alloc_free_4k %.0f\n", per_call(cost_pool_alloc, n));
		demo_ok(agnocast_publisher_create(COST_TOPIC, &(struct agnocast_qos){ 1, 0 }, &cost_pub),
			COST_TOPIC);
		printf("cost alloc_publish_4k %.0f\n", per_call(cost_publish, n));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "sub"))
		return run_sub(argc == 3 ? strtoull(argv[2], NULL, 10) : 0);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "pub")) {
		unsigned long subs = argc == 4 ? strtoul(argv[3], NULL, 10) : 1;

		if (!subs || subs > 64)
			demo_die("SUBSCRIBERS must be 1 to 64, not '%s'", argv[3]);
		return run_pub(argv[2], (unsigned int)subs);
	}
	if (argc == 3 && !strcmp(argv[1], "sustained-sub"))
		return run_sustained_sub(argv[2]);
	if (argc == 7 && !strcmp(argv[1], "sustained-pub"))
		return run_sustained_pub(argv[2], argv[3], argv[4], argv[5], argv[6]);
	if (argc == 3 && !strcmp(argv[1], "costs"))
		return run_costs(argv[2]);
	fprintf(stderr, "usage: cbench sub | cbench pub SIZE:COUNT,... [SUBSCRIBERS] | cbench sustained-sub WARMUP |\n"
		"       cbench sustained-pub SIZE SECONDS WINDOW DEPTH WARMUP | cbench costs N\n");
	return 2;
}
