// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios: what the header says RECEIVE, TAKE, poll, transient
 * local history and the answers of ADD_PUBLISHER / ADD_SUBSCRIBER give,
 * checked exactly on private topics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "probe.h"

static short poll_now(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
}

/* Publish n entries at scratch addresses; seqs[i] gets each seq. */
static int publish_seqs(struct tctx *t, uint32_t pub, uint32_t n, uint64_t *seqs)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (p_publish(t, pub, p_scratch(t, i), NULL, 0, &seqs[i], NULL))
			return -1;
	return 0;
}

static void check_seqs(struct tctx *t, const struct agnocast_entry *e, uint32_t n,
		       const uint64_t *want, const char *what)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		REQUIRE(t, e[i].seq == want[i] && e[i].pid == getpid(),
			"%s: entry %u seq %llu pid %d, want seq %llu", what, i,
			(unsigned long long)e[i].seq, e[i].pid, (unsigned long long)want[i]);
}

/*
 * RECEIVE gives the newest depth entries, oldest first, at most cap;
 * the rest of that window stays pending (EPOLLIN) for the next one.
 */
void s_receive_window(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[16];
	uint32_t d = 1 + rng_below(&t->r, 6), n = d + rng_below(&t->r, 6);
	uint32_t cap = 1 + rng_below(&t->r, d), got, pub, i;
	uint64_t seqs[16];
	struct psub s;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 16, 0);
	if (!pub || p_add_sub(t, topic, d, 0, &s))
		return p_cleanup(t);
	REQUIRE(t, !(poll_now(s.fd) & POLLIN), "a fresh subscriber is readable");
	if (publish_seqs(t, pub, n, seqs))
		return p_cleanup(t);
	REQUIRE(t, poll_now(s.fd) & POLLIN, "entries wait but the fd is not readable");
	got = p_receive(t, s.id, e, cap, ES(0), "RECEIVE of a full window");
	REQUIRE(t, got == cap, "RECEIVE gave %u of a window of %u with cap %u", got, d, cap);
	check_seqs(t, e, got, seqs + n - d, "oldest of the newest depth first");
	for (i = 0; i < got; i++)
		p_release(t, s.id, e[i].seq);
	if (cap < d) {
		REQUIRE(t, poll_now(s.fd) & POLLIN, "the rest of the window is not pending");
		got = p_receive(t, s.id, e, 16, ES(0), "RECEIVE of the rest of the window");
		REQUIRE(t, got == d - cap, "the rest: %u entries, want %u", got, d - cap);
		check_seqs(t, e, got, seqs + n - d + cap, "the rest of the window");
		for (i = 0; i < got; i++)
			p_release(t, s.id, e[i].seq);
	}
	REQUIRE(t, !(poll_now(s.fd) & POLLIN), "nothing waits but the fd is readable");
	p_receive(t, s.id, e, 16, ES(EAGAIN), "RECEIVE with nothing new");
	p_cleanup(t);
}

/* A transient-local subscriber's first RECEIVE includes the history. */
void s_transient_local(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[16];
	uint32_t d = 1 + rng_below(&t->r, 4), n = 1 + rng_below(&t->r, 6);
	uint32_t keep = n < d ? n : d, got, pub;
	uint64_t seqs[16];
	struct psub tl, vol;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, d, AGNOCAST_QOS_TRANSIENT_LOCAL);
	if (!pub || publish_seqs(t, pub, n, seqs) ||
	    p_add_sub(t, topic, 8, AGNOCAST_QOS_TRANSIENT_LOCAL, &tl) ||
	    p_add_sub(t, topic, 8, 0, &vol))
		return p_cleanup(t);
	got = p_receive(t, tl.id, e, 16, ES(0), "a transient-local subscriber's first RECEIVE");
	REQUIRE(t, got == keep, "history of %u entries (depth %u, %u published): got %u",
		keep, d, n, got);
	check_seqs(t, e, got, seqs + n - keep, "transient-local history");
	p_receive(t, vol.id, e, 16, ES(EAGAIN),
		  "a volatile subscriber gets no history");
	p_cleanup(t);
}

/* ADD_PUBLISHER lists subscribing processes once; ADD_SUBSCRIBER pools once. */
void s_answers(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_publisher_args ap;
	struct agnocast_add_subscriber_args as;
	int32_t *pids = (int32_t *)t->ar.rw;
	struct agnocast_pool_info *pools = (void *)t->ar.rw;
	struct psub s;

	p_topic(t, topic);
	if (p_add_sub(t, topic, 1, 0, &s) || p_add_sub(t, topic, 1, 0, &s))
		return p_cleanup(t);
	memset(&ap, 0, sizeof(ap));
	memcpy(ap.topic, topic, sizeof(ap.topic));
	ap.qos.depth = 1;
	ap.sub_pids = (uintptr_t)pids;
	ap.sub_pids_cap = 4;
	if (pcall(t, IOC_ADD_PUBLISHER, &ap, ES(0) | ES(EDQUOT), "ADD_PUBLISHER"))
		return p_cleanup(t);
	p_keep_pub(t, ap.publisher_id, ap.fd);
	REQUIRE(t, ap.nr_sub_pids == 1 && pids[0] == getpid(),
		"ADD_PUBLISHER with our two subscribers: %u pids, first %d", ap.nr_sub_pids,
		pids[0]);
	if (pcall(t, IOC_ADD_PUBLISHER, &ap, ES(0) | ES(EDQUOT), "ADD_PUBLISHER") == 0)
		p_keep_pub(t, ap.publisher_id, ap.fd);
	memset(&as, 0, sizeof(as));
	memcpy(as.topic, topic, sizeof(as.topic));
	as.qos.depth = 1;
	as.pubs = (uintptr_t)pools;
	as.pubs_cap = 4;
	if (pcall(t, IOC_ADD_SUBSCRIBER, &as, ES(0) | ES(EDQUOT), "ADD_SUBSCRIBER") == 0) {
		close(as.fd);
		REQUIRE(t, as.nr_pubs == 1 && pools[0].pid == getpid() &&
			pools[0].addr == t->p->pool.addr && pools[0].max == t->p->pool.max,
			"ADD_SUBSCRIBER with our publishers: %u pools, first pid %d addr 0x%llx",
			as.nr_pubs, pools[0].pid, (unsigned long long)pools[0].addr);
	}
	p_cleanup(t);
}

/* Entries a subscriber holds are not handed back, even once unretained. */
void s_held_pin(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_remove_args rm = { 0 };
	struct agnocast_reclaim_args rc;
	struct agnocast_entry e[2];
	uint64_t seq, addr = p_scratch(t, 7);
	struct psub s;
	int i;

	p_topic(t, topic);
	rm.id = p_add_pub(t, topic, 1, 0);
	if (!rm.id || p_add_sub(t, topic, 1, 0, &s) ||
	    p_publish(t, rm.id, addr, NULL, 0, &seq, NULL) ||
	    p_receive(t, s.id, e, 2, ES(0), "RECEIVE") != 1)
		return p_cleanup(t);
	pcall(t, IOC_REMOVE_PUBLISHER, &rm, ES(0), "removing our publisher");
	for (i = 0; i < MAXPUB; i++)
		if (t->p->pubs[i].live && t->p->pubs[i].id == rm.id) {
			close(t->p->pubs[i].fd);
			t->p->pubs[i].live = 0;
		}
	memset(&rc, 0, sizeof(rc));
	rc.addrs = (uintptr_t)recl_buf(t);
	rc.addrs_cap = 8;
	pcall(t, IOC_RECLAIM, &rc, ES(0), "RECLAIM");
	REQUIRE(t, rc.nr_addrs == 0, "RECLAIM handed back %u addresses while one is held",
		rc.nr_addrs);
	p_release(t, s.id, seq);
	pcall(t, IOC_RECLAIM, &rc, ES(0), "RECLAIM");
	REQUIRE(t, rc.nr_addrs == 1 && recl_buf(t)[0] == addr,
		"after RELEASE: RECLAIM gave %u addresses (0x%llx), want 0x%llx",
		rc.nr_addrs, (unsigned long long)recl_buf(t)[0], (unsigned long long)addr);
	take_back(t, recl_buf(t), rc.nr_addrs, "RECLAIM");
	p_cleanup(t);
}

/*
 * A topic takes AGNOCAST_TOPIC_SUBS_MAX subscribers (then ENOSPC); slots
 * of removed ones are reused, and every entry still comes back exactly
 * once when all are released.
 */
void s_topic_full(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[2];
	struct agnocast_add_subscriber_args a;
	struct psub s[AGNOCAST_TOPIC_SUBS_MAX];
	uint32_t pub, i, n = 0;
	uint64_t seq;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	for (n = 0; pub && n < AGNOCAST_TOPIC_SUBS_MAX; n++)
		if (p_add_sub(t, topic, 1, 0, &s[n]))
			return p_cleanup(t);
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	if (!pub || pcall(t, IOC_ADD_SUBSCRIBER, &a, ES(ENOSPC) | ES(EDQUOT),
			  "ADD_SUBSCRIBER on a topic with AGNOCAST_TOPIC_SUBS_MAX subscribers")
		    != ENOSPC ||
	    p_publish(t, pub, p_scratch(t, 0), NULL, 0, &seq, NULL))
		return p_cleanup(t);
	for (i = 0; i < n; i++)
		p_receive(t, s[i].id, e, 2, ES(0), "RECEIVE by each of a full topic's subscribers");
	for (i = 0; i < n; i += 2) {	/* half of them go, holding the entry */
		struct agnocast_remove_args rm = { .id = s[i].id };

		pcall(t, IOC_REMOVE_SUBSCRIBER, &rm, ES(0), "removing our subscriber");
		close(s[i].fd);
		for (int k = 0; k < MAXSUB; k++)
			if (t->p->subs[k].live && t->p->subs[k].id == s[i].id)
				t->p->subs[k].live = 0;
		if (p_add_sub(t, topic, 1, 0, &s[i]))
			return p_cleanup(t);
	}
	win_hit(W_topic_full);
	p_cleanup(t);	/* the entry must come back once, nothing may stay */
}
