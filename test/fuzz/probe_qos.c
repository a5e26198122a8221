// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios added in ABI 3: reliable subscribers (nothing dropped, PUBLISH
 * EAGAIN while a queue is full, EPOLLOUT), endpoint events (EPOLLPRI and
 * the state ioctls that clear it), RECEIVE's release list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "probe.h"

static short revents(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
}

static int pub_fd(struct tctx *t, uint32_t id)
{
	int i;

	for (i = 0; i < MAXPUB; i++)
		if (t->p->pubs[i].live && t->p->pubs[i].id == id)
			return t->p->pubs[i].fd;
	return -1;
}

static void state(struct tctx *t, int sub, uint32_t id,
		  struct agnocast_endpoint_state_args *st)
{
	memset(st, 0, sizeof(*st));
	st->id = id;
	pcall(t, sub ? IOC_SUBSCRIBER_STATE : IOC_PUBLISHER_STATE, st, ES(0),
	      "the state of our own endpoint");
	win_hit(W_endpoint_state);
}

/*
 * PUBLISH that a full reliable queue must refuse, publishing nothing: EAGAIN,
 * or EDQUOT when this process owns max_entries_per_process entries (the
 * queue's entries count there, and sibling threads publish too; which of
 * the two refusals comes first the header leaves open). Returns the errno.
 */
static int publish_refused(struct tctx *t, uint32_t pub, const char *topic)
{
	struct agnocast_publish_args a = { .publisher_id = pub, .addr = p_scratch(t, 100) };
	struct agnocast_topic_info_args ti;
	uint64_t last;
	int e;

	p_topic_info(t, topic, &ti, NULL, 0);
	last = ti.last_seq;
	e = pcall(t, IOC_PUBLISH, &a, ES(EAGAIN) | ES(EDQUOT),
		  "PUBLISH while a reliable queue is full");
	p_topic_info(t, topic, &ti, NULL, 0);
	REQUIRE(t, ti.last_seq == last, "a PUBLISH refused with %s published seq %llu",
		e == EAGAIN ? "EAGAIN" : "EDQUOT", (unsigned long long)ti.last_seq);
	if (e == EAGAIN)
		win_hit(W_reliable_full);
	return e;
}

/* A reliable subscriber gets every entry; a full queue stops publishers. */
void s_reliable(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_endpoint_state_args st;
	struct agnocast_entry e[16];
	uint64_t seqs[8];
	uint32_t d = 1 + rng_below(&t->r, 4), pub, i, n;
	struct psub s;
	int pfd;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || p_add_sub(t, topic, d, AGNOCAST_QOS_RELIABLE, &s))
		return p_cleanup(t);
	pfd = pub_fd(t, pub);
	REQUIRE(t, revents(pfd, POLLOUT) & POLLOUT, "no queue is full, yet no POLLOUT");
	for (i = 0; i < d; i++)
		if (p_publish(t, pub, p_scratch(t, i), NULL, 0, &seqs[i], NULL))
			return p_cleanup(t);
	if (publish_refused(t, pub, topic) == EDQUOT)
		return p_cleanup(t);	/* a bound: no verdict on the rest */
	REQUIRE(t, !(revents(pfd, POLLOUT) & POLLOUT), "a queue is full, yet POLLOUT");
	state(t, 0, pub, &st);
	REQUIRE(t, st.nr_full == 1 && st.nr_subscribers == 1 && !st.queued,
		"PUBLISHER_STATE: full %u subscribers %u queued %u", st.nr_full,
		st.nr_subscribers, st.queued);
	state(t, 1, s.id, &st);
	REQUIRE(t, st.queued == d, "SUBSCRIBER_STATE queued %u, want %u", st.queued, d);
	n = p_receive(t, s.id, e, 16, ES(0), "RECEIVE of a reliable queue");
	REQUIRE(t, n == d, "a reliable subscriber of depth %u got %u entries", d, n);
	for (i = 0; i < n; i++) {
		REQUIRE(t, e[i].seq == seqs[i], "reliable entry %u: seq %llu, want %llu", i,
			(unsigned long long)e[i].seq, (unsigned long long)seqs[i]);
		p_release(t, s.id, e[i].seq);
	}
	REQUIRE(t, revents(pfd, POLLOUT) & POLLOUT, "the queue was emptied, yet no POLLOUT");
	p_publish(t, pub, p_scratch(t, 9), NULL, 0, NULL, NULL);
	p_cleanup(t);
}

/* EPOLLPRI on a change of the other side; the state ioctl clears it. */
void s_events(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_endpoint_state_args st;
	struct call c = { .ioc = IOC_PUBLISHER_STATE, .shadow = &st, .valid = 1,
			  .mode = ARG_RO, .expect = ES(EFAULT),
			  .rule = "PUBLISHER_STATE that cannot answer" };
	uint32_t pub;
	struct psub s;
	int pfd;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub)
		return p_cleanup(t);
	pfd = pub_fd(t, pub);
	REQUIRE(t, !(revents(pfd, POLLPRI) & POLLPRI), "POLLPRI before any change");
	if (p_add_sub(t, topic, 1, 0, &s))
		return p_cleanup(t);
	REQUIRE(t, revents(pfd, POLLPRI) & POLLPRI, "a subscriber came, no POLLPRI");
	REQUIRE(t, !(revents(s.fd, POLLPRI) & POLLPRI), "the subscriber's POLLPRI unprompted");
	memset(&st, 0, sizeof(st));
	st.id = pub;
	fz_call(t, &c);
	REQUIRE(t, revents(pfd, POLLPRI) & POLLPRI, "a failed PUBLISHER_STATE cleared POLLPRI");
	state(t, 0, pub, &st);
	REQUIRE(t, st.nr_subscribers == 1 && st.nr_publishers == 1,
		"PUBLISHER_STATE: %u publishers %u subscribers", st.nr_publishers,
		st.nr_subscribers);
	REQUIRE(t, !(revents(pfd, POLLPRI) & POLLPRI), "PUBLISHER_STATE left POLLPRI");
	if (!p_add_pub(t, topic, 1, 0))
		return p_cleanup(t);
	REQUIRE(t, revents(s.fd, POLLPRI) & POLLPRI, "a publisher came, no POLLPRI");
	state(t, 1, s.id, &st);
	REQUIRE(t, st.nr_publishers == 2, "SUBSCRIBER_STATE: %u publishers", st.nr_publishers);
	REQUIRE(t, !(revents(s.fd, POLLPRI) & POLLPRI), "SUBSCRIBER_STATE left POLLPRI");
	win_hit(W_epollpri);
	p_cleanup(t);
}

/* RECEIVE with a release list: what it releases, and when nothing. */
static int rr_call(struct tctx *t, uint32_t sub, const uint64_t *rel, uint32_t nr,
		   uint32_t cap, int mode, errset_t want, const char *rule)
{
	uint64_t *list = recl_buf(t);
	struct agnocast_receive_args a = { .subscriber_id = sub, .entries_cap = cap,
					   .entries = (uintptr_t)t->ar.rw,
					   .release = (uintptr_t)list, .release_nr = nr };
	struct call c = { .ioc = IOC_RECEIVE, .shadow = &a, .valid = 1, .mode = mode,
			  .expect = want, .rule = rule };

	if (rel)
		memcpy(list, rel, nr * sizeof(*rel));
	else
		a.release = 0;	/* unreadable */
	return fz_call(t, &c);
}

static void expect_held(struct tctx *t, uint32_t sub, uint64_t seq, int held)
{
	struct agnocast_release_args a = { .subscriber_id = sub, .seq = seq };

	pcall(t, IOC_RELEASE, &a, ES(held ? 0 : ENOENT),
	      held ? "RELEASE of an entry the release list did not release"
		   : "RELEASE of an entry the release list released");
}

void s_receive_release(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[8];
	uint64_t rel[3];
	uint32_t pub, n;
	int v = rng_below(&t->r, 4);
	struct psub s;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 8, 0);
	if (!pub || p_add_sub(t, topic, 8, 0, &s) ||
	    p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL) ||
	    p_publish(t, pub, p_scratch(t, 1), NULL, 0, NULL, NULL) ||
	    (n = p_receive(t, s.id, e, 8, ES(0), "RECEIVE")) != 2)
		return p_cleanup(t);
	rel[0] = e[0].seq;
	rel[1] = e[1].seq + 1000;	/* not held: skipped */
	rel[2] = 0;
	if (v == 0)
		rr_call(t, s.id, rel, 3, 8, ARG_NORMAL, ES(EAGAIN),
			"RECEIVE that releases, with nothing new");
	else if (v == 1)
		rr_call(t, s.id, NULL, 2, 8, ARG_NORMAL, ES(EFAULT),
			"RECEIVE whose release list is unreadable");
	else if (v == 2)
		rr_call(t, s.id, rel, 3, 0, ARG_NORMAL, ES(0), "RECEIVE that only releases");
	else
		rr_call(t, s.id, rel, 3, 0, ARG_RO, ES(EFAULT),
			"RECEIVE that releases and cannot answer");
	expect_held(t, s.id, e[0].seq, v == 1);
	expect_held(t, s.id, e[1].seq, 1);
	win_hit(W_release_list);
	p_cleanup(t);
}
