/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agnocast C->C latency bench, built on the demo's C client (agn.c).
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

#include "agn.h"

#define DATA "/agnocast_bench/c_data"
#define ACK  "/agnocast_bench/c_ack"

struct hdr { uint64_t seq, t_pub_ns; };
struct ack { uint64_t seq, lat_ns; };

static struct agn a;
static struct agn_ring ring;

static void wait_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	for (;;) {
		r = poll(&p, 1, 60000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			agn_die("poll: %s", r ? strerror(errno) : "timeout (60 s)");
		return;
	}
}

static uint64_t alloc(uint64_t len)
{
	uint64_t addr;

	while (!(addr = agn_ring_alloc(&ring, len, 64)))
		if (!agn_reclaim(&a, &ring))
			agn_die("pool has no room for %llu bytes", (unsigned long long)len);
	return addr;
}

static int run_sub(void)
{
	int fd;
	uint32_t sub, pub;
	struct agnocast_entry e[64];

	agn_join(&a, "cbench-sub", 4u << 20, 0, 0);
	agn_ring_init(&ring, a.pool_addr, a.pool_size);
	sub = agn_add_subscriber(&a, DATA, 64, 0, &fd);
	pub = agn_add_publisher(&a, ACK, 1, AGNOCAST_QOS_TRANSIENT_LOCAL);
	{	/* hello: seq 0 */
		uint64_t addr = alloc(sizeof(struct ack));
		*(struct ack *)agn_ptr(addr) = (struct ack){ 0, 0 };
		agn_publish(&a, pub, addr, sizeof(struct ack), &ring);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		unsigned int n, i;
		uint64_t now;

		wait_fd(fd);
		n = agn_receive(&a, sub, e, 64);
		now = agn_now_ns();
		for (i = 0; i < n; i++) {
			const struct hdr *h = agn_ptr(e[i].addr);
			uint64_t seq = h->seq, lat = now - h->t_pub_ns, addr;

			agn_release(&a, sub, e[i].seq);
			addr = alloc(sizeof(struct ack));
			*(struct ack *)agn_ptr(addr) = (struct ack){ seq, lat };
			agn_publish(&a, pub, addr, sizeof(struct ack), &ring);
			if (seq == UINT64_MAX) {
				/* Stay until the publisher read that ack and left. */
				int gone = agn_pidfd(e[i].pid);	/* -1: gone already */

				if (gone >= 0)
					wait_fd(gone);
				agn_leave(&a);
				return 0;
			}
		}
	}
}

/* Waits for the ack of seq; returns its latency. */
static uint64_t wait_ack(uint32_t sub, int fd, uint64_t seq)
{
	struct agnocast_entry e[64];

	for (;;) {
		unsigned int n, i;
		int got = 0;
		uint64_t lat = 0;

		n = agn_receive(&a, sub, e, 64);
		for (i = 0; i < n; i++) {
			const struct ack *k = agn_ptr(e[i].addr);
			if (k->seq == seq) {
				got = 1;
				lat = k->lat_ns;
			}
			agn_release(&a, sub, e[i].seq);
		}
		if (got)
			return lat;
		wait_fd(fd);
	}
}

static int run_pub(char *spec)
{
	int fd;
	uint32_t sub, pub;
	uint64_t seq = 0;
	char *tok, *save = NULL;

	agn_join(&a, "cbench-pub", 256u << 20, 0, 0);
	agn_ring_init(&ring, a.pool_addr, a.pool_size);
	sub = agn_add_subscriber(&a, ACK, 64, AGNOCAST_QOS_TRANSIENT_LOCAL, &fd);
	pub = agn_add_publisher(&a, DATA, 1, 0);
	wait_ack(sub, fd, 0);	/* the subscriber's hello */
	for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		uint64_t len, count, i, t0;

		if (!colon)
			agn_die("bad SIZE:COUNT '%s'", tok);
		*colon = 0;
		len = strtoull(tok, NULL, 10);
		count = strtoull(colon + 1, NULL, 10);
		if (len < sizeof(struct hdr) || !count)
			agn_die("bad SIZE:COUNT");
		t0 = agn_now_ns();
		for (i = 0; i < count; i++) {
			uint64_t addr = alloc(len), lat;
			struct hdr *h = agn_ptr(addr);

			h->seq = ++seq;
			h->t_pub_ns = agn_now_ns();
			agn_publish(&a, pub, addr, len, &ring);
			lat = wait_ack(sub, fd, seq);
			printf("%llu %llu\n", (unsigned long long)len, (unsigned long long)lat);
		}
		printf("rate %llu %.1f\n", (unsigned long long)len,
		       (double)count * 1e9 / (double)(agn_now_ns() - t0));
		fflush(stdout);
	}
	{	/* the end */
		uint64_t addr = alloc(sizeof(struct hdr));
		*(struct hdr *)agn_ptr(addr) = (struct hdr){ UINT64_MAX, agn_now_ns() };
		agn_publish(&a, pub, addr, sizeof(struct hdr), &ring);
	}
	wait_ack(sub, fd, UINT64_MAX);	/* leaving earlier would withdraw it unread */
	agn_leave(&a);
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
