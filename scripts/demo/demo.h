/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The demo's protocol, shared by publisher.c and subscriber.c, and by the
 * TypeScript side, publisher.mjs and subscriber.mjs (demo.mjs holds these
 * constants and layouts for them). Any publisher works with any mix of
 * subscribers.
 *
 * Topic DEMO_TOPIC carries the data. Every message starts with struct
 * demo_msg; its first byte after the header is demo_fill(index) and its
 * last byte demo_fill_last(index). Indexes run 1, 2, 3... with no gap; the
 * last message has DEMO_END set (index = messages before it + 1).
 *
 * Topic DEMO_ACK_TOPIC carries struct demo_ack from each subscriber process
 * back to the publisher: first a hello (index 0) once it subscribed to
 * DEMO_TOPIC, then, after each RECEIVE, the highest index it released.
 * Acks are transient-local (depth 1) so a publisher that starts later still
 * sees the hello. The publisher waits for the hello of every subscriber it
 * expects before its first message, and keeps at most `window` messages
 * unacknowledged (its history depth is `window` too), so nothing is dropped
 * from under a subscriber.
 *
 * The end: a process that leaves takes its unread entries with it, so a
 * subscriber must not leave before the publisher read its ack of END. Once
 * it has read every subscriber's, the publisher sends each subscriber
 * process DEMO_DONE_SIGNAL; a signal, unlike an entry, still arrives after
 * its sender exited. subscriber.mjs waits for it (Node cannot wait for
 * another process's exit without polling). subscriber.c ignores it and
 * waits for the publisher's exit on a pidfd instead, which also tells it
 * when the publisher died before END.
 */
#ifndef DEMO_H
#define DEMO_H

#include <signal.h>
#include <stdint.h>

#define DEMO_TOPIC		"/agnocast_demo/data"
#define DEMO_ACK_TOPIC		"/agnocast_demo/ack"
#define DEMO_SUB_DEPTH		64	/* the subscribers' RECEIVE window */
#define DEMO_WINDOW_MAX		DEMO_SUB_DEPTH

#define DEMO_MSG_MAGIC		0x61676e6fu	/* "agno" */
#define DEMO_ACK_MAGIC		0x61636b21u	/* "ack!" */

#define DEMO_END		(1u << 0)	/* the last message */
#define DEMO_PROOF		(1u << 1)	/* print the zero-copy line */

#define DEMO_DONE_SIGNAL	SIGUSR2	/* "I read your ack of END" (SIGUSR1 is Node's debugger) */

struct demo_msg {
	uint32_t magic;
	uint32_t flags;		/* DEMO_* */
	uint64_t index;		/* 1, 2, 3 ... */
	uint64_t len;		/* the whole message, header included */
	uint64_t t_pub_ns;	/* CLOCK_MONOTONIC right before PUBLISH */
	uint64_t loan_addr;	/* where the publisher wrote this message */
	uint64_t pfn_first;	/* DEMO_PROOF: the publisher's physical frames */
	uint64_t pfn_last;	/* of the first and last byte (0: unknown) */
};

struct demo_ack {
	uint32_t magic;
	int32_t pid;		/* the subscriber process */
	uint64_t index;		/* 0: hello; else highest index released */
};

static inline uint8_t demo_fill(uint64_t index)
{
	return (uint8_t)(index * 37 + 11);
}

static inline uint8_t demo_fill_last(uint64_t index)
{
	return (uint8_t)(demo_fill(index) ^ 0xffu);
}

#endif
