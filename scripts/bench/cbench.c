/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agnocast C->C latency bench, on libagnocast.
 *   cbench sub             subscribes to /agnocast_bench/c_data, acks each
 *                          message on /agnocast_bench/c_ack with its latency
 *   cbench pub SIZE:COUNT,...
 *                          publishes lock-step (next one after the ack) and
 *                          prints one line per message: "SIZE LATENCY_NS"
 *                          then "rate SIZE MSGS_PER_S" per size.
 * Latency = subscriber CLOCK_MONOTONIC after RECEIVE - the timestamp the
 * publisher wrote into the message right before PUBLISH.
 * The sub prints "ready" once subscribed (the pub must start after that).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libagnocast.h"
#include "util.h"

#define DATA "/agnocast_bench/c_data"
#define ACK  "/agnocast_bench/c_ack"

struct hdr { uint64_t seq, t_pub_ns; };
struct ack { uint64_t seq, lat_ns; };

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

static int run_sub(void)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	struct agnocast_entry e[64];
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
			if (seq == UINT64_MAX) {
				/* Stay until the publisher read that ack and left. */
				int gone = demo_pidfd(publisher);	/* -1: gone already */

				if (gone >= 0)
					wait_fd(gone);
				demo_ok(agnocast_leave(), "leaving");
				return 0;
			}
		}
	}
}

/* Waits for the ack of seq; returns its latency. */
static uint64_t wait_ack(struct agnocast_subscriber *sub, int fd, uint64_t seq)
{
	struct agnocast_entry e[64];

	for (;;) {
		unsigned int n, i;
		int got = 0;
		uint64_t lat = 0;

		n = (unsigned int)demo_ok(agnocast_receive(sub, e, 64), "receiving acks");
		for (i = 0; i < n; i++) {
			const struct ack *k = agnocast_entry_data(&e[i]);
			if (k->seq == seq) {
				got = 1;
				lat = k->lat_ns;
			}
			demo_ok(agnocast_release(sub, &e[i]), "releasing an ack");
		}
		if (got)
			return lat;
		wait_fd(fd);
	}
}

static int run_pub(char *spec)
{
	struct agnocast_subscriber *sub;
	struct agnocast_publisher *pub;
	uint64_t seq = 0;
	char *tok, *save = NULL;
	int fd;

	demo_name("cbench-pub");
	demo_join(256u << 20, 0);
	demo_ok(agnocast_subscriber_create(ACK, &(struct agnocast_qos){ 64, AGNOCAST_QOS_TRANSIENT_LOCAL }, &sub), ACK);
	fd = agnocast_subscriber_fd(sub);
	demo_ok(agnocast_publisher_create(DATA, &(struct agnocast_qos){ 1, 0 }, &pub), DATA);
	wait_ack(sub, fd, 0);	/* the subscriber's hello */
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
		for (i = 0; i < count; i++) {
			struct hdr *h = alloc(len);
			uint64_t lat;

			h->seq = ++seq;
			h->t_pub_ns = demo_now_ns();
			demo_ok(agnocast_publish(pub, h, len, NULL), "publishing");
			lat = wait_ack(sub, fd, seq);
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
	wait_ack(sub, fd, UINT64_MAX);	/* leaving earlier would withdraw it unread */
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "sub"))
		return run_sub();
	if (argc == 3 && !strcmp(argv[1], "pub"))
		return run_pub(argv[2]);
	fprintf(stderr, "usage: cbench sub | cbench pub SIZE:COUNT,...\n");
	return 2;
}
