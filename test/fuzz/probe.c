// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios (see probe.h). Each one sets up what it needs on
 * private topics, checks its rule exactly, and removes everything it
 * made (p_cleanup). A setup step refused by a lowered bound (EDQUOT)
 * ends the scenario without a verdict.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"
#include "kids.h"
#include "probe.h"

#define ENT_SZ sizeof(struct agnocast_entry)

static uint64_t *recl_buf(struct tctx *t)
{
	return (uint64_t *)(t->ar.rw + ARENA_RW_BYTES / 2);
}

/* ---- undo after EFAULT ------------------------------------------- */

static void s_efault_add_sub(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_subscriber_args a;
	struct agnocast_topic_info_args ti;
	struct call c = { .ioc = IOC_ADD_SUBSCRIBER, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "ADD_SUBSCRIBER whose answer cannot be written" };
	int fd0, n0, v = rng_below(&t->r, 3);

	p_topic(t, topic);
	if (!p_add_pub(t, topic, 1, 0))
		return p_cleanup(t);
	fd0 = lowest_fd();
	n0 = count_sub_fds();
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	a.pubs_cap = 4;
	a.pubs = v == 0 ? (uintptr_t)t->ar.rw : v == 1 ? (uintptr_t)t->ar.ro
						       : (uintptr_t)(t->ar.guard - 16);
	c.mode = v == 0 ? ARG_RO : ARG_NORMAL;
	if (fz_call(t, &c) == EFAULT) {
		win_hit(W_undo_add_subscriber);
		p_topic_info(t, topic, &ti, NULL, 0);
		REQUIRE(t, ti.nr_subs == 0 && ti.nr_pubs == 1,
			"after a failed ADD_SUBSCRIBER: %u subscribers, %u publishers",
			ti.nr_subs, ti.nr_pubs);
		REQUIRE(t, lowest_fd() == fd0 && count_sub_fds() == n0,
			"a failed ADD_SUBSCRIBER left a descriptor (lowest free %d, was %d; subscriber fds %d, were %d)",
			lowest_fd(), fd0, count_sub_fds(), n0);
	}
	p_cleanup(t);
}

static void s_efault_add_pub(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_publisher_args a;
	struct agnocast_topic_info_args ti;
	struct call c = { .ioc = IOC_ADD_PUBLISHER, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "ADD_PUBLISHER whose answer cannot be written" };
	struct psub s;
	int v = rng_below(&t->r, 2);

	p_topic(t, topic);
	if (p_add_sub(t, topic, 1, 0, &s))
		return p_cleanup(t);
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	a.sub_pids_cap = 4;
	a.sub_pids = v ? (uintptr_t)t->ar.ro : (uintptr_t)t->ar.rw;
	c.mode = v ? ARG_NORMAL : ARG_RO;
	if (fz_call(t, &c) == EFAULT) {
		win_hit(W_undo_add_publisher);
		p_topic_info(t, topic, &ti, NULL, 0);
		REQUIRE(t, ti.nr_pubs == 0 && ti.nr_subs == 1,
			"after a failed ADD_PUBLISHER: %u publishers, %u subscribers",
			ti.nr_pubs, ti.nr_subs);
	}
	p_cleanup(t);
}

/* k entries published on a fresh topic with one subscriber of depth 8. */
static int setup_pending(struct tctx *t, char *topic, struct psub *s,
			 uint64_t *seqs, uint32_t k)
{
	uint32_t pub, i;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 4, 0);
	if (!pub || p_add_sub(t, topic, 8, 0, s))
		return -1;
	for (i = 0; i < k; i++)
		if (p_publish(t, pub, p_scratch(t, i), NULL, 0, &seqs[i], NULL))
			return -1;
	return 0;
}

/* RECEIVE / TAKE whose copy-out fails: references back, entries pending. */
static int failing_delivery(struct tctx *t, uint32_t sub, uint32_t k, int v)
{
	struct agnocast_receive_args ra = { .subscriber_id = sub, .entries_cap = 8,
					    .entries = (uintptr_t)t->ar.rw };
	struct agnocast_take_args ta = { .subscriber_id = sub };
	struct call c = { .valid = 1, .expect = ES(EFAULT),
			  .rule = "a delivery whose copy-out fails" };

	c.ioc = v == 3 ? IOC_TAKE : IOC_RECEIVE;
	c.shadow = v == 3 ? (void *)&ta : (void *)&ra;
	c.mode = v == 0 || v == 3 ? ARG_RO : ARG_NORMAL;
	if (v == 1)
		ra.entries = (uintptr_t)t->ar.ro;
	if (v == 2)
		ra.entries = (uintptr_t)(t->ar.guard - (k * ENT_SZ - 8));
	return fz_call(t, &c);
}

static void s_efault_deliver(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry e[8];
	struct agnocast_endpoint_info si;
	struct agnocast_topic_info_args ti;
	struct agnocast_take_args ta;
	struct pollfd pfd = { .events = POLLIN };
	uint64_t seqs[4];
	uint32_t k = 1 + rng_below(&t->r, 4), i, n;
	int v = rng_below(&t->r, 4);
	struct psub s;

	if (setup_pending(t, topic, &s, seqs, k))
		return p_cleanup(t);
	failing_delivery(t, s.id, k, v);
	win_hit(v == 3 ? W_undo_take : W_undo_receive);
	pfd.fd = s.fd;
	REQUIRE(t, poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN),
		"after a failed %s the subscriber's fd is not readable (0x%x)",
		v == 3 ? "TAKE" : "RECEIVE", pfd.revents);
	p_topic_info(t, topic, &ti, &si, 1);
	REQUIRE(t, ti.nr_subs == 1 && si.count == 0 && ti.nr_entries == k,
		"after a failed delivery: held %u, entries %llu (want 0, %u)", si.count,
		(unsigned long long)ti.nr_entries, k);
	if (v == 3) {
		memset(&ta, 0, sizeof(ta));
		ta.subscriber_id = s.id;
		fz_simple(t, IOC_TAKE, &ta, ES(0), "TAKE after a failed TAKE");
		REQUIRE(t, ta.entry.seq == seqs[k - 1], "TAKE gave seq %llu, newest is %llu",
			(unsigned long long)ta.entry.seq, (unsigned long long)seqs[k - 1]);
		p_release(t, s.id, ta.entry.seq);
		p_receive(t, s.id, e, 8, ES(EAGAIN), "TAKE skipped the older entries");
		return p_cleanup(t);
	}
	n = p_receive(t, s.id, e, 8, ES(0), "RECEIVE after a failed RECEIVE");
	REQUIRE(t, n == k, "RECEIVE after a failed one gave %u entries of %u", n, k);
	for (i = 0; i < n; i++) {
		REQUIRE(t, e[i].seq == seqs[i], "entry %u: seq %llu, want %llu", i,
			(unsigned long long)e[i].seq, (unsigned long long)seqs[i]);
		p_release(t, s.id, e[i].seq);
	}
	p_cleanup(t);
}

/* PUBLISH whose answer cannot be written is published all the same. */
static int publish_ro(struct tctx *t, uint32_t pub, uint64_t addr, int args_ro,
		      uint64_t *seq)
{
	struct agnocast_publish_args a = { .publisher_id = pub, .addr = addr,
					   .reclaimed_cap = 4 };
	struct call c = { .ioc = IOC_PUBLISH, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "PUBLISH whose answer cannot be written" };
	int e;

	a.reclaimed = args_ro ? (uintptr_t)recl_buf(t) : (uintptr_t)t->ar.ro;
	c.mode = args_ro ? ARG_RO : ARG_NORMAL;
	outst_inc(t->p, addr);
	e = fz_call(t, &c);
	if (e != EFAULT) {
		outst_dec(t->p, addr);
		return -1;
	}
	win_hit(W_publish_efault_published);
	if (!args_ro)
		*seq = ((struct agnocast_publish_args *)c.arg)->seq;
	return 0;
}

static void expect_reclaim(struct tctx *t, const uint64_t *want, uint32_t n)
{
	struct agnocast_reclaim_args a = { .addrs = (uintptr_t)recl_buf(t), .addrs_cap = 8 };
	uint32_t i;

	fz_simple(t, IOC_RECLAIM, &a, ES(0), "RECLAIM");
	REQUIRE(t, a.nr_addrs == n, "RECLAIM gave %u addresses, want %u", a.nr_addrs, n);
	for (i = 0; i < n; i++)
		REQUIRE(t, recl_buf(t)[i] == want[i], "RECLAIM address %u: 0x%llx, want 0x%llx",
			i, (unsigned long long)recl_buf(t)[i], (unsigned long long)want[i]);
	take_back(t, recl_buf(t), a.nr_addrs, "RECLAIM");
}

static void s_efault_publish(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_topic_info_args ti;
	struct agnocast_entry e[4];
	uint64_t sa, sc = 0, addr[3];
	uint32_t pub, n, i;
	struct psub s;

	for (i = 0; i < 3; i++)
		addr[i] = p_scratch(t, i);
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || p_add_sub(t, topic, 4, 0, &s) ||
	    p_publish(t, pub, addr[0], recl_buf(t), 8, &sa, &n) ||
	    publish_ro(t, pub, addr[1], 1, NULL))
		return p_cleanup(t);
	p_topic_info(t, topic, &ti, NULL, 0);
	REQUIRE(t, ti.last_seq == sa + 1, "PUBLISH failed with EFAULT: last_seq %llu, want %llu",
		(unsigned long long)ti.last_seq, (unsigned long long)sa + 1);
	n = p_receive(t, s.id, e, 4, ES(0), "RECEIVE of the entry published with EFAULT");
	REQUIRE(t, n == 1 && e[0].seq == sa + 1 && e[0].addr == addr[1],
		"RECEIVE gave %u entries, first seq %llu addr 0x%llx", n,
		(unsigned long long)e[0].seq, (unsigned long long)e[0].addr);
	expect_reclaim(t, &addr[0], 1);
	p_release(t, s.id, e[0].seq);
	if (!publish_ro(t, pub, addr[2], 0, &sc)) {
		REQUIRE(t, sc == sa + 2, "seq %llu, want %llu", (unsigned long long)sc,
			(unsigned long long)sa + 2);
		expect_reclaim(t, &addr[1], 1);
	}
	p_cleanup(t);
}

static void s_efault_reclaim(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_reclaim_args a = { .addrs_cap = 4 };
	struct call c = { .ioc = IOC_RECLAIM, .shadow = &a, .valid = 1,
			  .expect = ES(EFAULT), .rule = "RECLAIM whose answer cannot be written" };
	uint64_t addr[3];
	uint32_t pub, i;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	for (i = 0; i < 3; i++) {
		addr[i] = p_scratch(t, i);
		if (!pub || p_publish(t, pub, addr[i], NULL, 0, NULL, NULL))
			return p_cleanup(t);
	}
	a.addrs = (uintptr_t)t->ar.ro;
	fz_call(t, &c);
	a.addrs = (uintptr_t)recl_buf(t);
	c.mode = ARG_RO;
	fz_call(t, &c);
	win_hit(W_reclaim_efault_kept);
	expect_reclaim(t, addr, 2);
	p_cleanup(t);
}

/* Each PUBLISH beyond depth hands back the entry that fell out. */
static void s_depth_reclaim(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_remove_args rm = { 0 };
	uint32_t d = 1 + rng_below(&t->r, 4), n = d + 1 + rng_below(&t->r, 3), i, nr;
	uint64_t want[8];

	p_topic(t, topic);
	rm.id = p_add_pub(t, topic, d, 0);
	for (i = 0; rm.id && i < n; i++) {
		if (p_publish(t, rm.id, p_scratch(t, i), recl_buf(t), 4, NULL, &nr))
			return p_cleanup(t);
		REQUIRE(t, nr == (i >= d) && (i < d || recl_buf(t)[0] == p_scratch(t, i - d)),
			"publish %u of depth %u handed back %u addresses (first 0x%llx)",
			i, d, nr, (unsigned long long)recl_buf(t)[0]);
	}
	if (!rm.id)
		return p_cleanup(t);
	fz_simple(t, IOC_REMOVE_PUBLISHER, &rm, ES(0), "removing our publisher");
	for (i = 0; i < MAXPUB; i++)
		if (t->p->pubs[i].id == rm.id)
			t->p->pubs[i].live = 0;
	for (i = 0; i < d; i++)
		want[i] = p_scratch(t, n - d + i);
	expect_reclaim(t, want, d);
	win_hit(W_depth_reclaim);
	p_cleanup(t);
}

/* ---- a live peer's ids, then a dead one's ------------------------ */

static int pcall(struct tctx *t, enum ioc ioc, void *arg, errset_t want,
		 const char *rule)
{
	return fz_simple(t, ioc, arg, want, rule);
}

/* Every call on the peer's ids must give want. */
static void peer_ids(struct tctx *t, const struct peer *pe, int want, const char *rule)
{
	struct agnocast_publish_args pu = { .publisher_id = pe->pub,
					    .addr = p_scratch(t, 0) };
	struct agnocast_remove_args rp = { .id = pe->pub }, rs = { .id = pe->sub };
	struct agnocast_receive_args rc = { .subscriber_id = pe->sub, .entries_cap = 1,
					    .entries = (uintptr_t)t->ar.rw };
	struct agnocast_take_args tk = { .subscriber_id = pe->sub };
	struct agnocast_release_args rl = { .subscriber_id = pe->sub, .seq = 1 };

	pcall(t, IOC_PUBLISH, &pu, ES(want), rule);
	pcall(t, IOC_REMOVE_PUBLISHER, &rp, ES(want), rule);
	pcall(t, IOC_REMOVE_SUBSCRIBER, &rs, ES(want), rule);
	pcall(t, IOC_RECEIVE, &rc, ES(want), rule);
	pcall(t, IOC_TAKE, &tk, ES(want), rule);
	pcall(t, IOC_RELEASE, &rl, ES(want), rule);
}

/* The process record of pid in a complete LIST_PROCESSES, or NULL. */
static const struct agnocast_process_info *proc_rec(struct tctx *t, pid_t pid,
						    uint64_t addr, int *complete)
{
	struct agnocast_process_info *pi = (void *)t->ar.rw;
	struct agnocast_list_processes_args a = { .procs = (uintptr_t)pi, .procs_cap = 256 };
	uint32_t i;

	fz_simple(t, IOC_LIST_PROCESSES, &a, ES(0), "LIST_PROCESSES");
	*complete = a.nr_procs <= 256;
	for (i = 0; i < a.nr_procs && i < 256; i++)
		if (pi[i].pool.pid == pid && pi[i].pool.addr == addr)
			return &pi[i];
	return NULL;
}

/* MAP_POOL that cannot answer declares nothing and leaves no fd. */
static void peer_map_efault(struct tctx *t, const struct peer *pe)
{
	struct agnocast_map_pool_args a = { .pool.pid = pe->pid };
	struct agnocast_unmap_pool_args u = { .pid = pe->pid };
	struct call c = { .ioc = IOC_MAP_POOL, .shadow = &a, .valid = 1, .mode = ARG_RO,
			  .expect = ES(EFAULT) | ES(EDQUOT),
			  .rule = "MAP_POOL whose answer cannot be written" };
	const struct agnocast_process_info *r;
	int fd0 = lowest_fd(), complete;

	if (fz_call(t, &c) != EFAULT)
		return;
	win_hit(W_undo_map_pool);
	pcall(t, IOC_UNMAP_POOL, &u, ES(EINVAL), "nothing was declared by the failed MAP_POOL");
	REQUIRE(t, lowest_fd() == fd0, "a failed MAP_POOL left a descriptor");
	r = proc_rec(t, pe->pid, pe->addr, &complete);
	REQUIRE(t, !complete || (r && r->nr_mappers == 0),
		"peer %d after a failed MAP_POOL: %s, %u mappers", (int)pe->pid,
		r ? "listed" : "not listed", r ? r->nr_mappers : 0);
}

static void peer_map(struct tctx *t, const struct peer *pe)
{
	struct agnocast_map_pool_args a = { .pool.pid = pe->pid };
	struct agnocast_unmap_pool_args u = { .pid = pe->pid };

	if (pcall(t, IOC_MAP_POOL, &a, ES(0) | ES(EDQUOT), "MAP_POOL of a live peer"))
		return;
	REQUIRE(t, a.fd >= 0 && a.pool.pid == pe->pid && a.pool.addr == pe->addr &&
		a.pool.max == pe->max, "MAP_POOL of peer %d: fd %d pid %d addr 0x%llx max %llu",
		(int)pe->pid, a.fd, a.pool.pid, (unsigned long long)a.pool.addr,
		(unsigned long long)a.pool.max);
	close(a.fd);
	pcall(t, IOC_UNMAP_POOL, &u, ES(0), "UNMAP_POOL of our MAP_POOL");
}

static void s_peer(struct tctx *t)
{
	const struct agnocast_process_info *r;
	struct peer pe;
	char name[64];
	int complete, fd;

	if (peer_start(t, &pe, 1))
		return;
	if (pe.ok) {
		peer_ids(t, &pe, EPERM, "an id of another (live) process");
		win_hit(W_foreign_eperm);
		peer_map_efault(t, &pe);
		peer_map(t, &pe);
	}
	peer_stop(t, &pe, rng_pct(&t->r, 50));
	if (!pe.ok)
		return;
	peer_ids(t, &pe, ENOENT, "an id of a process that was reaped");
	r = proc_rec(t, pe.pid, pe.addr, &complete);
	REQUIRE(t, !r || (r->flags & AGNOCAST_PROC_EXITED),
		"reaped peer %d is still listed live", (int)pe.pid);
	snprintf(name, sizeof(name), "/agnocast@%d", (int)pe.pid);
	fd = shm_open(name, O_RDONLY, 0);
	REQUIRE(t, fd < 0 && errno == ENOENT, "%s outlived its process", name);
	win_hit(W_dead_peer_enoent);
}

static void s_unattached_peer(struct tctx *t)
{
	struct agnocast_map_pool_args a = { 0 };
	struct agnocast_unmap_pool_args u = { 0 };
	struct peer pe;

	if (peer_start(t, &pe, 0))
		return;
	if (pe.ok) {
		a.pool.pid = u.pid = pe.pid;
		pcall(t, IOC_MAP_POOL, &a, ES(ENXIO), "MAP_POOL of a pool not attached yet");
		pcall(t, IOC_UNMAP_POOL, &u, ES(EINVAL), "UNMAP_POOL of a pool we never mapped");
		win_hit(W_enxio);
	}
	peer_stop(t, &pe, rng_pct(&t->r, 50));
}

/* ---- forked children with exact expectations --------------------- */

/* Fork a child running fn (single-threaded, not in the registry). */
static void in_child(struct tctx *t, void (*fn)(struct tctx *t, void *arg), void *arg)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		child_setup(parent);
		pctx_after_fork(t->p, t, 0);
		t->p->kind = K_pair_child;
		t->p->may_exec = 0;
		fn(t, arg);
		_exit(0);
	}
	if (pid < 0)
		return;
	count_add(&S->spawned[K_pair_child], 1);
	reap_child(t, pid);
}

static void c_join_efault(struct tctx *t, void *arg)
{
	struct agnocast_add_process_args a = { .pool_size = AGNOCAST_POOL_UNIT };
	struct call c = { .ioc = IOC_ADD_PROCESS, .shadow = &a, .valid = 1, .mode = ARG_RO,
			  .expect = ES(EFAULT) | ES(EDQUOT) | ES(ENOSPC),
			  .rule = "ADD_PROCESS whose answer cannot be written" };

	(void)arg;
	if (fz_call(t, &c) != EFAULT)
		return;
	win_hit(W_efault_stays_joined);
	pcall(t, IOC_ADD_PROCESS, &a, ES(0), "ADD_PROCESS after one that failed with EFAULT");
	REQUIRE(t, a.flags & AGNOCAST_JOIN_EXISTING,
		"the caller of a failed ADD_PROCESS did not stay joined (flags 0x%x)", a.flags);
}

static void c_unjoined(struct tctx *t, void *arg)
{
	static struct cjob j;

	(void)arg;
	cjob_build(t, &j);
	cjob_run(&j);
	cjob_check(t, &j, "an unjoined process");
	win_hit(W_unjoined_esrch);
	chaos_loop(t, 50);
}

static void s_children(struct tctx *t)
{
	in_child(t, rng_pct(&t->r, 50) ? c_join_efault : c_unjoined, NULL);
}

/* CLONE_VM and vfork children of a joined probe: EPERM, nothing changes. */
static void s_clone(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	uint32_t pub;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	op_clone_vm(t);
	op_vfork(t);
	if (pub)
		p_publish(t, pub, p_scratch(t, 0), recl_buf(t), 8, NULL, NULL);
	p_cleanup(t);
}

/* ---- bounds ------------------------------------------------------- */

static int publish_n(struct tctx *t, uint32_t pub, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (p_publish(t, pub, p_scratch(t, i), NULL, 0, NULL, NULL))
			return -1;
	return 0;
}

/* Hold AGNOCAST_HOLD_MAX entries: then ENOBUFS, until one is released. */
static void s_hold_max(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_entry *e = (void *)t->ar.rw;
	struct agnocast_take_args tk = { 0 };
	uint32_t pub, r, held = 0;
	uint64_t lim;
	struct psub s;

	param_snapshot(P_ENTRIES, &lim);
	if (lim < 3 * AGNOCAST_HOLD_MAX)
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, AGNOCAST_DEPTH_MAX, 0);
	if (!pub || p_add_sub(t, topic, AGNOCAST_DEPTH_MAX, 0, &s))
		return p_cleanup(t);
	for (r = 0; r < AGNOCAST_HOLD_MAX / AGNOCAST_DEPTH_MAX; r++) {
		if (publish_n(t, pub, AGNOCAST_DEPTH_MAX))
			return p_cleanup(t);
		held += p_receive(t, s.id, e, AGNOCAST_DEPTH_MAX, ES(0), "RECEIVE of a full window");
	}
	REQUIRE(t, held == AGNOCAST_HOLD_MAX, "held %u entries, want %u", held, AGNOCAST_HOLD_MAX);
	if (publish_n(t, pub, 1))
		return p_cleanup(t);
	p_receive(t, s.id, e, 1 + rng_below(&t->r, 16), ES(ENOBUFS),
		  "RECEIVE while holding AGNOCAST_HOLD_MAX references");
	tk.subscriber_id = s.id;
	pcall(t, IOC_TAKE, &tk, ES(ENOBUFS), "TAKE while holding AGNOCAST_HOLD_MAX references");
	win_hit(W_enobufs_hold_max);
	p_release(t, s.id, e[0].seq);
	p_receive(t, s.id, e, 4, ES(0), "RECEIVE after releasing one of AGNOCAST_HOLD_MAX");
	p_cleanup(t);
}

static uint32_t endpoints(struct pctx *p)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < MAXPUB; i++)
		n += p->pubs[i].live != 0;
	for (i = 0; i < MAXSUB; i++)
		n += p->subs[i].live != 0;
	return n;
}

/* A result under a bound the supervisor may change: judged if it did not. */
static void judge(struct tctx *t, uint32_t gen, int ok, const char *what, int e)
{
	if (param_stable(gen))
		REQUIRE(t, ok, "%s: %s", what, errname(e));
}

static void s_edquot_endpoints(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_add_publisher_args a;
	struct psub s;
	uint64_t lim;
	uint32_t gen = param_snapshot(P_ENDPOINTS, &lim), n = endpoints(t->p);
	int e;

	if ((gen & 1) || lim > 16 || n > lim)
		return;
	p_topic(t, topic);
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = 1;
	for (; n < lim; n++) {
		e = p_add_sub(t, topic, 1, 0, &s);
		judge(t, gen, !e, "ADD_SUBSCRIBER below max_endpoints_per_process", EDQUOT);
		if (e)
			return p_cleanup(t);
	}
	e = pcall(t, IOC_ADD_PUBLISHER, &a, 0, NULL);
	judge(t, gen, e == EDQUOT, "ADD_PUBLISHER at max_endpoints_per_process", e);
	e = p_add_sub(t, topic, 1, 0, &s) ? EDQUOT : 0;
	judge(t, gen, e == EDQUOT, "ADD_SUBSCRIBER at max_endpoints_per_process", e);
	if (param_stable(gen))
		win_hit(W_edquot_endpoints);
	p_cleanup(t);
}

static void s_edquot_entries(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_publish_args a = { 0 };
	uint64_t lim;
	uint32_t gen = param_snapshot(P_ENTRIES, &lim), pub, n = t->p->outst_total;
	int e;

	if ((gen & 1) || lim > 2000 || n > lim)
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	for (; pub && n < lim; n++) {
		e = p_publish(t, pub, p_scratch(t, n), NULL, 0, NULL, NULL);
		judge(t, gen, !e, "PUBLISH below max_entries_per_process", EDQUOT);
		if (e)
			return p_cleanup(t);
	}
	a.publisher_id = pub;
	a.addr = p_scratch(t, 0);
	e = pub ? pcall(t, IOC_PUBLISH, &a, 0, NULL) : EDQUOT;
	if (!e)
		outst_inc(t->p, a.addr);	/* wrongly published: keep count */
	judge(t, gen, e == EDQUOT, "PUBLISH at max_entries_per_process", e);
	if (param_stable(gen) && pub)
		win_hit(W_edquot_entries);
	p_cleanup(t);
}

/* Map up to lim + 1 peers' pools: the one past the bound must fail. */
static void s_edquot_mappings(struct tctx *t)
{
	struct peer pe[8];
	struct agnocast_map_pool_args a;
	struct agnocast_unmap_pool_args u = { 0 };
	uint64_t lim;
	uint32_t gen = param_snapshot(P_MAPPINGS, &lim), n = 0, i;
	int e, mapped[8] = { 0 };

	if ((gen & 1) || lim > 6)
		return;
	for (n = 0; n <= lim && !peer_start(t, &pe[n], 1); n++)
		if (!pe[n].ok) {
			peer_stop(t, &pe[n], 1);
			break;
		}
	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		a.pool.pid = pe[i].pid;
		e = pcall(t, IOC_MAP_POOL, &a, 0, NULL);
		if (!e)
			close(a.fd);
		mapped[i] = !e;
		judge(t, gen, i < lim ? !e : e == EDQUOT,
		      i < lim ? "MAP_POOL below max_mappings_per_process"
			      : "MAP_POOL past max_mappings_per_process", e);
	}
	if (n > lim && param_stable(gen))
		win_hit(W_edquot_mappings);
	for (i = 0; i < n; i++) {
		u.pid = pe[i].pid;
		if (mapped[i])
			pcall(t, IOC_UNMAP_POOL, &u, ES(0), "UNMAP_POOL of our MAP_POOL");
		peer_stop(t, &pe[i], 1);
	}
}

struct join_bound {
	uint32_t gen;
	int procs;
};

static void c_join_bound(struct tctx *t, void *arg)
{
	struct join_bound *jb = arg;
	struct agnocast_add_process_args a = { .pool_size = AGNOCAST_POOL_UNIT };
	int e = pcall(t, IOC_ADD_PROCESS, &a, 0, NULL);

	judge(t, jb->gen, e == EDQUOT || e == ENOSPC,
	      jb->procs ? "a root join past max_procs_per_user"
			: "a root join past max_window_per_user", e);
	if (param_stable(jb->gen))
		win_hit(jb->procs ? W_edquot_procs : W_edquot_window);
}

/* A bound on joins that the probe's own pool already reaches. */
static void s_edquot_join(struct tctx *t)
{
	struct join_bound jb;
	uint64_t procs, window, slot;

	jb.gen = param_snapshot(P_PROCS, &procs);
	if (param_snapshot(P_WINDOW, &window) != jb.gen || (jb.gen & 1) || getuid())
		return;
	slot = (t->p->pool.max + AGNOCAST_POOL_ALIGN - 1) / AGNOCAST_POOL_ALIGN *
	       AGNOCAST_POOL_ALIGN;
	jb.procs = procs <= 1;
	if (jb.procs || window < slot + AGNOCAST_POOL_ALIGN)
		in_child(t, c_join_bound, &jb);
}

/* ---- inherited descriptors, exec, namespaces ---------------------- */

struct inh {
	int rd;		/* the child waits for a word on it */
	int fd;		/* its copy of the subscriber fd */
};

static void c_inherited(struct tctx *t, void *arg)
{
	struct inh *in = arg;
	struct pollfd pfd = { .fd = in->fd, .events = POLLIN };
	char c = 0;

	while (read(in->rd, &c, 1) < 0 && errno == EINTR)
		;
	if (c != 'h')
		return;	/* exit: the last copy of the fd goes */
	REQUIRE(t, poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP),
		"inherited copy of a removed subscriber's fd: revents 0x%x", pfd.revents);
	win_hit(W_inherited_fd_hup);
}

static pid_t fork_inh(struct tctx *t, struct inh *in)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		child_setup(parent);
		pctx_after_fork(t->p, t, 0);
		t->p->kind = K_pair_child;
		c_inherited(t, in);
		_exit(0);
	}
	if (pid > 0)
		count_add(&S->spawned[K_pair_child], 1);
	return pid;
}

static struct subrec *sub_rec(struct pctx *p, uint32_t id)
{
	int i;

	for (i = 0; i < MAXSUB; i++)
		if (p->subs[i].live && p->subs[i].id == id)
			return &p->subs[i];
	return NULL;
}

/* A child's copy keeps the subscriber alive after we close ours. */
static void inherited_keeps(struct tctx *t, uint32_t pub, struct psub *s, pid_t pid,
			    int wr)
{
	struct agnocast_entry e[2];
	uint32_t n;

	close(s->fd);
	sub_rec(t->p, s->id)->fd = -1;
	p_receive(t, s->id, e, 2, ES(EAGAIN), "our fd is closed, a child's copy is not");
	if (p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL) == 0) {
		n = p_receive(t, s->id, e, 2, ES(0), "RECEIVE through a child's copy");
		REQUIRE(t, n == 1, "RECEIVE gave %u entries", n);
		p_release(t, s->id, e[0].seq);
	}
	close(wr);
	reap_child(t, pid);
	p_receive(t, s->id, e, 2, ES(ENOENT), "the last copy of the subscriber's fd is closed");
	sub_rec(t->p, s->id)->live = 0;
	win_hit(W_inherited_fd_keeps_sub);
}

static void s_inherited(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_remove_args rm = { 0 };
	struct inh in;
	struct psub s;
	uint32_t pub;
	int pp[2];
	pid_t pid;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 4, 0);
	if (!pub || p_add_sub(t, topic, 4, 0, &s) || pipe2(pp, O_CLOEXEC))
		return p_cleanup(t);
	in.rd = pp[0];
	in.fd = s.fd;
	pid = fork_inh(t, &in);
	close(pp[0]);
	if (pid < 0) {
		close(pp[1]);
		return p_cleanup(t);
	}
	if (rng_pct(&t->r, 50)) {
		inherited_keeps(t, pub, &s, pid, pp[1]);
	} else {
		rm.id = s.id;
		pcall(t, IOC_REMOVE_SUBSCRIBER, &rm, ES(0), "removing our subscriber");
		if (write(pp[1], "h", 1) != 1)
			kill(pid, SIGKILL);
		close(pp[1]);
		reap_child(t, pid);
		close(s.fd);
		sub_rec(t->p, s.id)->live = 0;
	}
	p_cleanup(t);
}

/* A joined child exec's itself: the helper finds its old self gone. */
static void c_exec(struct tctx *t, void *arg)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	uint32_t pub;
	struct psub s;
	int dev, sfd;

	(void)arg;
	if (proc_join(t, AGNOCAST_POOL_UNIT, 0))
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || p_add_sub(t, topic, 1, 0, &s) ||
	    p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL))
		return;
	dev = fcntl(t->p->dev, F_DUPFD, 3);
	sfd = fcntl(s.fd, F_DUPFD, 3);
	count_add(&S->spawned[K_exec_helper], 1);
	exec_helper("probe", stream_child(t->sid, ++t->nchild), dev, sfd, s.id, pub, topic);
}

static void s_exec(struct tctx *t)
{
	in_child(t, c_exec, NULL);
}

static void c_ipc(struct tctx *t, void *arg)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_list_topics_args lt = { 0 };
	struct agnocast_topic_info_args ti;
	struct agnocast_entry e[2];
	uint32_t pub;
	struct psub s;

	(void)arg;
	if (proc_join(t, AGNOCAST_POOL_UNIT, 0))
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || unshare(CLONE_NEWIPC))
		return;
	t->ns = ipc_ns_now();
	pcall(t, IOC_LIST_TOPICS, &lt, ES(0), "LIST_TOPICS");
	REQUIRE(t, lt.nr_topics == 0, "a fresh IPC namespace lists %u topics", lt.nr_topics);
	memset(&ti, 0, sizeof(ti));
	memcpy(ti.topic, topic, sizeof(ti.topic));
	pcall(t, IOC_TOPIC_INFO, &ti, ES(ENOENT), "a topic of the namespace we left");
	if (p_add_sub(t, topic, 1, 0, &s) ||
	    p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL))
		return;
	p_receive(t, s.id, e, 2, ES(EAGAIN),
		  "a subscriber in another IPC namespace gets nothing from our publisher");
	p_topic_info(t, topic, &ti, NULL, 0);
	REQUIRE(t, ti.nr_pubs == 0 && ti.nr_subs == 1,
		"topic of the new namespace: %u publishers, %u subscribers", ti.nr_pubs,
		ti.nr_subs);
	win_hit(W_ipc_isolated);
}

static void s_ipc(struct tctx *t)
{
	if (!getuid())
		in_child(t, c_ipc, NULL);
}

/* ---- the pool's size and its attachment --------------------------- */

static void range_publish(struct tctx *t, uint32_t pub, uint64_t addr, uint64_t len,
			  int ok, const char *rule)
{
	struct agnocast_publish_args a = { .publisher_id = pub, .addr = addr, .len = len,
					   .reclaimed = (uintptr_t)recl_buf(t),
					   .reclaimed_cap = 8 };
	struct pctx *p = t->p;
	int track = addr - p->pool.addr <= p->pool.max, e;	/* len 0 at the end */

	if (track)
		outst_inc(p, addr);
	e = pcall(t, IOC_PUBLISH, &a, ok ? ES(0) | ES(EDQUOT) : ES(ERANGE), rule);
	if (track && e)
		outst_dec(p, addr);
	if (!e)
		take_back(t, recl_buf(t), a.nr_reclaimed, "PUBLISH");
	if (e == ERANGE)
		win_hit(W_shrink_erange);
}

static int resize(struct tctx *t, uint64_t to)
{
	int r = ftruncate(t->p->pool.shm_fd, to);

	trace_add(t, TR_TRUNCATE, r ? errno : 0, to, 0, 0);
	return r;
}

/* PUBLISH is in range exactly when inside the pool's current size. */
static void s_range(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct pctx *p = t->p;
	uint64_t b = p->pool.addr, fl = p->floor, s, s2;
	uint32_t pub;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	s = fl + 4096 * rng_below(&t->r, (p->pool.max - fl) / 4096 + 1);
	if (!pub || resize(t, s))
		return p_cleanup(t);
	win_hit(s > fl ? W_pool_grow : W_pool_shrink);
	range_publish(t, pub, b + s, 0, 1, "an empty range at the end of the pool");
	range_publish(t, pub, b, s, 1, "the whole pool");
	range_publish(t, pub, b + s - 1, 2, 0, "a range across the end of the pool");
	range_publish(t, pub, b + s, 1, 0, "a byte past the end of the pool");
	range_publish(t, pub, b - 1, 1, 0, "a byte before the pool");
	range_publish(t, pub, b + 8, UINT64_MAX - 4, 0, "a length that wraps around");
	s2 = 4096 * (1 + rng_below(&t->r, fl / 4096 - 1));
	if (!resize(t, s2)) {
		win_hit(W_pool_shrink);
		range_publish(t, pub, b + s2 - 1, 1, 1, "the last byte of a shrunk pool");
		range_publish(t, pub, b + s2, 1, 0, "past the end of a shrunk pool");
	}
	resize(t, fl);
	p_cleanup(t);
}

static int attach(struct tctx *t, int fd, errset_t want, const char *rule)
{
	struct agnocast_attach_pool_args a = { .fd = fd };

	return pcall(t, IOC_ATTACH_POOL, &a, want, rule);
}

/* Map name at addr as asked, try to attach it, undo. */
static void attach_wrong(struct tctx *t, const char *name, int oflag, int prot,
			 int flags, uint64_t at, off_t off, const char *rule)
{
	void *m = MAP_FAILED;
	int fd = shm_open(name, oflag, 0600);

	if (fd < 0)
		return;
	if (ftruncate(fd, 2 * AGNOCAST_POOL_UNIT) && (oflag & O_RDWR))
		goto out;
	if (at)
		m = mmap((void *)(uintptr_t)at, AGNOCAST_POOL_UNIT, prot,
			 flags | MAP_FIXED_NOREPLACE, fd, off);
	if (!at || m != MAP_FAILED)
		attach(t, fd, ES(EINVAL), rule);
out:
	if (m != MAP_FAILED)
		munmap(m, AGNOCAST_POOL_UNIT);
	close(fd);
}

static void attach_wrongs(struct tctx *t, const char *name, const char *other)
{
	uint64_t a = t->p->pool.addr;

	attach(t, -1, ES(EBADF), "ATTACH_POOL of fd -1");
	attach(t, t->p->dev, ES(EINVAL), "ATTACH_POOL of /dev/agnocast");
	attach_wrong(t, other, O_CREAT | O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0,
		     "ATTACH_POOL of a file with another name");
	shm_unlink(other);
	attach_wrong(t, name, O_CREAT | O_RDWR, 0, 0, 0, 0,
		     "ATTACH_POOL of the pool file, not mapped");
	attach_wrong(t, name, O_RDWR, PROT_READ | PROT_WRITE, MAP_PRIVATE, a, 0,
		     "ATTACH_POOL of the pool file mapped private");
	attach_wrong(t, name, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, a + 4096, 0,
		     "ATTACH_POOL of the pool file mapped elsewhere");
	attach_wrong(t, name, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, a, 4096,
		     "ATTACH_POOL of the pool file mapped from offset 4096");
	attach_wrong(t, name, O_RDONLY, PROT_READ, MAP_SHARED, a, 0,
		     "ATTACH_POOL of a read-only descriptor of the pool file");
}

static void c_attach(struct tctx *t, void *arg)
{
	struct agnocast_add_process_args ap = { .pool_size = AGNOCAST_POOL_UNIT };
	struct agnocast_map_pool_args mp = { .pool.pid = getpid() };
	struct agnocast_add_publisher_args pa = { .qos = { 1, 0 } };
	char name[64], other[64];
	uint32_t slot;
	void *m;
	int fd;

	(void)arg;
	if (pcall(t, IOC_ADD_PROCESS, &ap, ES(0) | ES(EDQUOT) | ES(ENOSPC), "ADD_PROCESS"))
		return;
	t->p->joined = 1;
	t->p->pool.addr = ap.pool_addr;
	t->p->pool.max = ap.pool_max;
	p_topic(t, pa.topic);
	pcall(t, IOC_ADD_PUBLISHER, &pa, ES(ENXIO), "ADD_PUBLISHER before ATTACH_POOL");
	pcall(t, IOC_MAP_POOL, &mp, ES(ENXIO), "MAP_POOL of our own unattached pool");
	snprintf(name, sizeof(name), "/agnocast@%d", (int)getpid());
	snprintf(other, sizeof(other), "/agnocast-fz@%d", (int)getpid());
	slot = jw_enter(getpid());
	attach_wrongs(t, name, other);
	fd = shm_open(name, O_RDWR, 0);
	m = mmap((void *)(uintptr_t)ap.pool_addr, ap.pool_max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	REQUIRE(t, fd >= 0 && m != MAP_FAILED, "shm_open/mmap of %s", name);
	attach(t, fd, ES(0), "ATTACH_POOL done right");
	jw_leave(slot, getpid());
	attach(t, fd, ES(EBUSY), "a second ATTACH_POOL");
	win_hit(W_attach_ebusy);
	pcall(t, IOC_ADD_PUBLISHER, &pa, ES(0) | ES(EDQUOT), "ADD_PUBLISHER once attached");
}

static void s_attach(struct tctx *t)
{
	in_child(t, c_attach, NULL);
}

/* ---- the probe process -------------------------------------------- */

struct scen {
	const char *name;
	void (*fn)(struct tctx *t);
	unsigned int weight;
};

static const struct scen scens[] = {
	{ "efault_add_sub", s_efault_add_sub, 4 },
	{ "efault_add_pub", s_efault_add_pub, 3 },
	{ "efault_deliver", s_efault_deliver, 6 },
	{ "efault_publish", s_efault_publish, 4 },
	{ "efault_reclaim", s_efault_reclaim, 3 },
	{ "depth_reclaim", s_depth_reclaim, 3 },
	{ "peer", s_peer, 4 },
	{ "unattached_peer", s_unattached_peer, 2 },
	{ "children", s_children, 3 },
	{ "clone", s_clone, 3 },
	{ "hold_max", s_hold_max, 1 },
	{ "edquot_endpoints", s_edquot_endpoints, 3 },
	{ "edquot_entries", s_edquot_entries, 3 },
	{ "edquot_mappings", s_edquot_mappings, 2 },
	{ "edquot_join", s_edquot_join, 3 },
	{ "inherited", s_inherited, 3 },
	{ "exec", s_exec, 2 },
	{ "ipc", s_ipc, 2 },
	{ "range", s_range, 3 },
	{ "attach", s_attach, 2 },
};
#define NSCENS (sizeof(scens) / sizeof(scens[0]))

static const struct scen *pick_scen(struct tctx *t)
{
	unsigned int i, total = 0, x;

	for (i = 0; i < NSCENS; i++)
		total += scens[i].weight;
	x = rng_below(&t->r, total);
	for (i = 0; i < NSCENS; i++) {
		if (x < scens[i].weight)
			return &scens[i];
		x -= scens[i].weight;
	}
	return &scens[0];
}

void probe_main(uint64_t sid)
{
	static struct pctx p;
	struct tctx t;
	uint64_t size;

	if (pctx_init(&p, K_probe, sid, getuid()) || tctx_init(&t, &p, 0, stream_child(sid, 100)))
		_exit(0);
	p.nthreads = 1;
	size = AGNOCAST_POOL_UNIT * (1 + rng_below(&t.r, 3));
	if (proc_join(&t, size, size + AGNOCAST_POOL_UNIT * (1 + rng_below(&t.r, 4))))
		_exit(0);	/* a lowered bound: the supervisor starts another */
	while (!run_over()) {
		const struct scen *s = pick_scen(&t);

		trace_add(&t, TR_CHECK, 0, (uint64_t)(s - scens), 0, 0);
		s->fn(&t);
	}
	_exit(0);
}
