// SPDX-License-Identifier: Apache-2.0
/*
 * The status file while things are live: every line in the documented
 * format (keys in order), the right values for processes, topics,
 * publishers, subscribers and entries; and LIST_TOPICS / TOPIC_INFO /
 * LIST_PROCESSES agree with it.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define TOPIC "status/topic"

static const struct {
	const char *kind;
	const char *keys[12];
} formats[] = {
	{ "totals", { "processes", "topics", "publishers", "subscribers",
		      "entries", "mappings" } },
	{ "process", { "pid", "uid", "addr", "size", "max", "state", "attached",
		       "publishers", "subscribers", "mappers", "reclaimable" } },
	{ "topic", { "publishers", "subscribers", "entries", "last-seq" } },
	{ "publisher", { "id", "pid", "depth", "transient-local", "retained" } },
	{ "subscriber", { "id", "pid", "depth", "transient-local", "held",
			  "pending", "reliable", "queued" } },
	{ "entry", { "seq", "publisher", "pid", "addr", "len", "refs",
		     "retained" } },
	{ "more-entries", { "count" } },
};

/* Every record is of a documented kind with exactly its keys, in order. */
static void check_format(const struct status *st)
{
	size_t i, f;
	int k;

	CHECK(st->n > 0 && !strcmp(st->recs[0].kind, "totals"));
	for (i = 0; i < st->n; i++) {
		const struct st_rec *r = &st->recs[i];

		for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++)
			if (!strcmp(formats[f].kind, r->kind))
				break;
		if (f == sizeof(formats) / sizeof(formats[0])) {
			status_dump(st);
			FAIL("status line %zu: unknown record \"%s\"", i + 2, r->kind);
		}
		for (k = 0; formats[f].keys[k]; k++) {
			if (k >= r->nkv || strcmp(r->kv[k].key, formats[f].keys[k])) {
				status_dump(st);
				FAIL("status line %zu (%s): key %d is \"%s\", expected \"%s\"",
				     i + 2, r->kind, k, k < r->nkv ? r->kv[k].key : "(none)",
				     formats[f].keys[k]);
			}
			if (!strcmp(formats[f].keys[k], "state")) {
				CHECK(!strcmp(r->kv[k].val, "live") ||
				      !strcmp(r->kv[k].val, "exited"));
			} else {
				char *end;

				if (!strcmp(formats[f].keys[k], "addr"))
					CHECK(!strncmp(r->kv[k].val, "0x", 2));
				strtoull(r->kv[k].val, &end, 0);
				if (*end || end == r->kv[k].val)
					FAIL("status line %zu (%s): %s \"%s\" is not a number",
					     i + 2, r->kind, r->kv[k].key, r->kv[k].val);
			}
		}
		if (r->nkv != k) {
			status_dump(st);
			FAIL("status line %zu (%s): %d fields, expected %d", i + 2,
			     r->kind, r->nkv, k);
		}
	}
}

/* The introspection ioctls say what the status file says. */
static void check_introspection_agrees(int dev)
{
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_name names[8];
	struct agnocast_list_processes_args lp;
	struct agnocast_process_info procs[8];
	struct topic_info ti;
	struct status st;
	const struct st_rec *r;
	uint32_t j, k;

	STATUS_READ(&st);
	memset(&lt, 0, sizeof(lt));
	lt.topics = p2u(names);
	lt.topics_cap = 8;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
	CHECK_EQ(lt.nr_topics, st_count(&st, "topic", NULL));
	for (j = 0; j < lt.nr_topics; j++) {
		const struct st_rec *t = ST_TOPIC(&st, names[j].name);

		TOPIC_INFO(dev, names[j].name, &ti);
		CHECK_EQ(ti.a.nr_pubs, ST_U64(t, "publishers"));
		CHECK_EQ(ti.a.nr_subs, ST_U64(t, "subscribers"));
		CHECK_EQ(ti.a.nr_entries, ST_U64(t, "entries"));
		CHECK_EQ(ti.a.last_seq, ST_U64(t, "last-seq"));
		CHECK_EQ(ti.a.nr_pubs, st_count(&st, "publisher", t));
		CHECK_EQ(ti.a.nr_subs, st_count(&st, "subscriber", t));
		CHECK_EQ(ti.a.nr_entries, st_count(&st, "entry", t));
		for (k = 0; k < ti.a.nr_pubs; k++) {
			r = st_find_in(&st, t, "publisher", "id", ti.pubs[k].id);
			CHECK(r != NULL);
			CHECK_EQ(ti.pubs[k].pid, ST_U64(r, "pid"));
			CHECK_EQ(ti.pubs[k].qos.depth, ST_U64(r, "depth"));
			CHECK_EQ(!!(ti.pubs[k].qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL),
				 ST_U64(r, "transient-local"));
			CHECK_EQ(ti.pubs[k].count, ST_U64(r, "retained"));
		}
		for (k = 0; k < ti.a.nr_subs; k++) {
			r = st_find_in(&st, t, "subscriber", "id", ti.subs[k].id);
			CHECK(r != NULL);
			CHECK_EQ(ti.subs[k].pid, ST_U64(r, "pid"));
			CHECK_EQ(ti.subs[k].qos.depth, ST_U64(r, "depth"));
			CHECK_EQ(!!(ti.subs[k].qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL),
				 ST_U64(r, "transient-local"));
			CHECK_EQ(ti.subs[k].count, ST_U64(r, "held"));
		}
	}

	memset(&lp, 0, sizeof(lp));
	lp.procs = p2u(procs);
	lp.procs_cap = 8;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
	CHECK_EQ(lp.nr_procs, st_count(&st, "process", NULL));
	for (j = 0; j < lp.nr_procs; j++) {
		r = ST_PROC(&st, procs[j].pool.pid);
		CHECK_EQ(procs[j].pool.addr, ST_U64(r, "addr"));
		CHECK_EQ(procs[j].pool.size, ST_U64(r, "size"));
		CHECK_EQ(procs[j].pool.max, ST_U64(r, "max"));
		CHECK_EQ(!!(procs[j].flags & AGNOCAST_PROC_EXITED),
			 !strcmp(st_str(r, "state"), "exited"));
		CHECK_EQ(!!(procs[j].flags & AGNOCAST_PROC_ATTACHED),
			 ST_U64(r, "attached"));
		CHECK_EQ(procs[j].nr_publishers, ST_U64(r, "publishers"));
		CHECK_EQ(procs[j].nr_subscribers, ST_U64(r, "subscribers"));
		CHECK_EQ(procs[j].nr_mappers, ST_U64(r, "mappers"));
	}
	status_free(&st);
}

struct p_hello {
	struct ag_pool pool;
	uint32_t pub, pad;
};

struct p_entries {
	uint64_t seq[4], addr[4];
};

static void status_publisher(int sock, void *arg)
{
	struct p_hello h;
	struct p_entries pe;
	int dev = AG_OPEN(), i;

	(void)arg;
	JOIN(dev, UNIT, 2 * UNIT, &h.pool);
	h.pub = ADD_PUB(dev, TOPIC, 2, AGNOCAST_QOS_TRANSIENT_LOCAL);
	SEND(sock, h);
	/*
	 * Entries 1 and 2 first: the subscriber must hold entry 1 before
	 * entry 3 pushes it out of the depth-2 history, or it is reclaimed.
	 */
	for (i = 0; i < 3; i++) {
		if (i != 1)
			WAIT_FOR(sock, "publish");
		pe.addr[i] = h.pool.addr + i * 256;
		write_msg(pe.addr[i], i + 1);
		pe.seq[i] = PUBLISH(dev, h.pub, pe.addr[i], 10 * (i + 1));
		if (i != 0)
			SEND(sock, pe);
	}
	WAIT_FOR(sock, "publish");
	pe.addr[3] = h.pool.addr + 3 * 256;
	write_msg(pe.addr[3], 4);
	pe.seq[3] = PUBLISH(dev, h.pub, pe.addr[3], 40);
	SEND(sock, pe);
	WAIT_FOR(sock, "exit");
}

struct s_hello {
	struct ag_pool pool;
	uint32_t sub, pad;
};

static void status_subscriber(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct agnocast_entry e[4];
	struct s_hello h;
	struct ag_sub sub;
	uint32_t nr_pubs;
	pid_t pub;
	int dev = AG_OPEN();

	(void)arg;
	RECV(sock, pub);
	JOIN(dev, 2 * UNIT, 0, &h.pool);
	sub = ADD_SUB_EX(dev, TOPIC, 10, 0, NULL, 0, &nr_pubs);
	CHECK_EQ(nr_pubs, 1);
	h.sub = sub.id;
	MAP_PEER(dev, pub, &info);
	SEND(sock, h);
	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 2);
	TELL(sock, "received");
	WAIT_FOR(sock, "receive");
	CHECK_EQ(RECEIVE(dev, sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 3);
	RELEASE(dev, sub.id, e[0].seq);
	TELL(sock, "received");
	WAIT_FOR(sock, "introspect");
	check_introspection_agrees(dev);
	TELL(sock, "agreed");
	WAIT_FOR(sock, "pending");
	CHECK(poll_now(sub.fd) & POLLIN);
	check_introspection_agrees(dev);
	TELL(sock, "agreed");
	WAIT_FOR(sock, "exit");
}

static void check_entry(const struct status *st, const struct st_rec *t,
			uint64_t seq, uint32_t pub, pid_t pid, uint64_t addr,
			uint64_t len, int refs, int retained)
{
	const struct st_rec *r = st_find_in(st, t, "entry", "seq", seq);

	if (!r) {
		status_dump(st);
		FAIL("no entry line for seq %llu", (unsigned long long)seq);
	}
	CHECK_EQ(ST_U64(r, "publisher"), pub);
	CHECK_EQ(ST_U64(r, "pid"), pid);
	CHECK_EQ(ST_U64(r, "addr"), addr);
	CHECK_EQ(ST_U64(r, "len"), len);
	if (refs >= 0)
		CHECK_EQ(ST_U64(r, "refs"), refs);
	CHECK_EQ(ST_U64(r, "retained"), retained);
}

TEST(status_lines_match_live_state)
{
	struct agnocast_version_args v;
	struct child p, s;
	struct p_hello ph;
	struct s_hello sh;
	struct p_entries pe;
	struct status st;
	const struct st_rec *r, *t;
	char ver[64];
	int dev = AG_OPEN();

	CHECK_OK(ag_ioctl(dev, AGNOCAST_VERSION_CMD, &v));
	close(dev);
	p = spawn(status_publisher, NULL);
	RECV(p.sock, ph);
	s = spawn(status_subscriber, NULL);
	SEND(s.sock, p.pid);
	RECV(s.sock, sh);
	TELL(p.sock, "publish");
	RECV(p.sock, pe);
	TELL(s.sock, "receive");
	WAIT_FOR(s.sock, "received");
	TELL(p.sock, "publish");
	RECV(p.sock, pe);
	TELL(s.sock, "receive");
	WAIT_FOR(s.sock, "received");

	STATUS_READ(&st);
	check_format(&st);
	snprintf(ver, sizeof(ver), "%u.%u.%u", v.major, v.minor, v.patch);
	CHECK(!strcmp(st.version, ver));
	CHECK_EQ(st.abi, AGNOCAST_ABI_VERSION);
	CHECK_TOTALS(&st, 2, 1, 1, 1, 3, 1);
	CHECK_EQ(st_count(&st, "process", NULL), 2);

	r = ST_PROC(&st, p.pid);
	CHECK_EQ(ST_U64(r, "addr"), ph.pool.addr);
	CHECK_EQ(ST_U64(r, "size"), UNIT);
	CHECK_EQ(ST_U64(r, "max"), 2 * UNIT);
	CHECK(!strcmp(st_str(r, "state"), "live"));
	CHECK_EQ(ST_U64(r, "attached"), 1);
	CHECK_EQ(ST_U64(r, "publishers"), 1);
	CHECK_EQ(ST_U64(r, "subscribers"), 0);
	CHECK_EQ(ST_U64(r, "mappers"), 1);
	CHECK_EQ(ST_U64(r, "reclaimable"), 0);

	r = ST_PROC(&st, s.pid);
	CHECK_EQ(ST_U64(r, "addr"), sh.pool.addr);
	CHECK_EQ(ST_U64(r, "size"), 2 * UNIT);
	CHECK_EQ(ST_U64(r, "max"), 2 * UNIT);
	CHECK(!strcmp(st_str(r, "state"), "live"));
	CHECK_EQ(ST_U64(r, "attached"), 1);
	CHECK_EQ(ST_U64(r, "publishers"), 0);
	CHECK_EQ(ST_U64(r, "subscribers"), 1);
	CHECK_EQ(ST_U64(r, "mappers"), 0);
	CHECK_EQ(ST_U64(r, "reclaimable"), 0);

	CHECK_EQ(st_count(&st, "topic", NULL), 1);
	t = ST_TOPIC(&st, TOPIC);
	CHECK_EQ(ST_U64(t, "publishers"), 1);
	CHECK_EQ(ST_U64(t, "subscribers"), 1);
	CHECK_EQ(ST_U64(t, "entries"), 3);
	CHECK_EQ(ST_U64(t, "last-seq"), 3);

	CHECK_EQ(st_count(&st, "publisher", t), 1);
	r = st_find_in(&st, t, "publisher", "id", ph.pub);
	CHECK(r != NULL);
	CHECK_EQ(ST_U64(r, "pid"), p.pid);
	CHECK_EQ(ST_U64(r, "depth"), 2);
	CHECK_EQ(ST_U64(r, "transient-local"), 1);
	CHECK_EQ(ST_U64(r, "retained"), 2);

	CHECK_EQ(st_count(&st, "subscriber", t), 1);
	r = st_find_in(&st, t, "subscriber", "id", sh.sub);
	CHECK(r != NULL);
	CHECK_EQ(ST_U64(r, "pid"), s.pid);
	CHECK_EQ(ST_U64(r, "depth"), 10);
	CHECK_EQ(ST_U64(r, "transient-local"), 0);
	CHECK_EQ(ST_U64(r, "held"), 2);
	CHECK_EQ(ST_U64(r, "pending"), 0);

	CHECK_EQ(st_count(&st, "entry", t), 3);
	CHECK_EQ(pe.seq[0], 1);
	check_entry(&st, t, 1, ph.pub, p.pid, pe.addr[0], 10, 1, 0);
	check_entry(&st, t, 2, ph.pub, p.pid, pe.addr[1], 20, 1, 1);
	check_entry(&st, t, 3, ph.pub, p.pid, pe.addr[2], 30, 0, 1);
	status_free(&st);

	TELL(s.sock, "introspect");
	WAIT_FOR(s.sock, "agreed");

	/* One more: entry 2 leaves the history, the subscriber has one pending. */
	TELL(p.sock, "publish");
	RECV(p.sock, pe);
	CHECK_EQ(pe.seq[3], 4);
	STATUS_READ(&st);
	check_format(&st);
	t = ST_TOPIC(&st, TOPIC);
	CHECK_EQ(ST_U64(t, "entries"), 4);
	CHECK_EQ(ST_U64(t, "last-seq"), 4);
	r = st_find_in(&st, t, "publisher", "id", ph.pub);
	CHECK(r != NULL);
	CHECK_EQ(ST_U64(r, "retained"), 2);
	r = st_find_in(&st, t, "subscriber", "id", sh.sub);
	CHECK(r != NULL);
	CHECK_EQ(ST_U64(r, "held"), 2);
	CHECK_EQ(ST_U64(r, "pending"), 1);
	check_entry(&st, t, 1, ph.pub, p.pid, pe.addr[0], 10, 1, 0);
	check_entry(&st, t, 2, ph.pub, p.pid, pe.addr[1], 20, 1, 0);
	check_entry(&st, t, 3, ph.pub, p.pid, pe.addr[2], 30, 0, 1);
	/* (entry 4's refs are not checked: pending is not a reference) */
	check_entry(&st, t, 4, ph.pub, p.pid, pe.addr[3], 40, -1, 1);
	CHECK_EQ(ST_U64(ST_PROC(&st, p.pid), "reclaimable"), 0);
	CHECK_TOTALS(&st, 2, 1, 1, 1, 4, 1);
	status_free(&st);
	TELL(s.sock, "pending");
	WAIT_FOR(s.sock, "agreed");

	TELL(s.sock, "exit");
	REAP_OK(s.pid);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}
