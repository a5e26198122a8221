// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios: another live process's ids (EPERM), the same ids once
 * it is reaped (ENOENT), unattached pools (ENXIO), unjoined and CLONE_VM
 * callers, ADD_PROCESS that cannot answer.
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

/*
 * The process record of pid in LIST_PROCESSES, or NULL; *complete when
 * every record was there to look at (the list fit, and all were written:
 * see the LIST_* check in reader.c).
 */
static const struct agnocast_process_info *proc_rec(struct tctx *t, pid_t pid,
						    uint64_t addr, int *complete)
{
	struct agnocast_process_info *pi = (void *)t->ar.rw;
	struct agnocast_list_processes_args a = { .procs = (uintptr_t)pi, .procs_cap = 256 };
	const struct agnocast_process_info *found = NULL;
	uint32_t i;

	memset(pi, 0xee, 256 * sizeof(*pi));
	fz_simple(t, IOC_LIST_PROCESSES, &a, ES(0), "LIST_PROCESSES");
	*complete = a.nr_procs <= 256;
	for (i = 0; i < a.nr_procs && i < 256; i++) {
		if (pi[i].flags == 0xeeeeeeee)
			*complete = 0;	/* not written */
		else if (pi[i].pool.pid == pid && pi[i].pool.addr == addr)
			found = &pi[i];
	}
	return found;
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
	/* Its mappers are not checked: others may reach it by address. */
	r = proc_rec(t, pe->pid, pe->addr, &complete);
	REQUIRE(t, !complete || (r && !(r->flags & AGNOCAST_PROC_EXITED)),
		"live peer %d is %s", (int)pe->pid, r ? "listed as exited" : "not listed");
}

/* MAP_POOL of the peer n times (what succeeded is returned). */
static uint32_t peer_map(struct tctx *t, const struct peer *pe, uint32_t n,
			 const char *rule)
{
	struct agnocast_map_pool_args a;
	uint32_t i, done = 0;

	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		a.pool.pid = pe->pid;
		if (pcall(t, IOC_MAP_POOL, &a, ES(0) | ES(EDQUOT), rule))
			continue;
		REQUIRE(t, a.fd >= 0 && a.pool.pid == pe->pid && a.pool.addr == pe->addr &&
			a.pool.max == pe->max,
			"MAP_POOL of peer %d: fd %d pid %d addr 0x%llx max %llu",
			(int)pe->pid, a.fd, a.pool.pid, (unsigned long long)a.pool.addr,
			(unsigned long long)a.pool.max);
		close(a.fd);
		done++;
	}
	return done;
}

/* Each MAP_POOL needs one UNMAP_POOL; one more finds nothing to undo. */
static void peer_unmap(struct tctx *t, const struct peer *pe, uint32_t n,
		       errset_t after)
{
	struct agnocast_unmap_pool_args u = { .pid = pe->pid };

	while (n--)
		pcall(t, IOC_UNMAP_POOL, &u, ES(0), "UNMAP_POOL of one of our MAP_POOLs");
	pcall(t, IOC_UNMAP_POOL, &u, after, "UNMAP_POOL with every MAP_POOL undone");
}

/* After the peer's end, while we (its user) still declare its pool. */
static uint32_t pinned(struct tctx *t, const struct peer *pe, uint32_t maps)
{
	const struct agnocast_process_info *r;
	int complete;

	r = proc_rec(t, pe->pid, pe->addr, &complete);
	REQUIRE(t, !complete || (r && (r->flags & AGNOCAST_PROC_EXITED)),
		"the pool of reaped peer %d, which we map, is %s", (int)pe->pid,
		r ? "listed live" : "not listed (its range was released)");
	return maps + peer_map(t, pe, 1, "MAP_POOL of a gone owner's pool we pin");
}

void s_peer(struct tctx *t)
{
	const struct agnocast_process_info *r;
	int unpriv = !getuid() && rng_pct(&t->r, 30), complete, fd;
	uint32_t maps = 0;
	struct peer pe;
	char name[64];

	if (peer_start(t, &pe, unpriv ? PEER_UNPRIV : PEER_ATTACH))
		return;
	if (pe.ok) {
		peer_ids(t, &pe, EPERM, "an id of another (live) process");
		win_hit(W_foreign_eperm);
		peer_map_efault(t, &pe);
		maps = peer_map(t, &pe, rng_below(&t->r, 4), "MAP_POOL of a live peer");
	}
	peer_stop(t, &pe, rng_pct(&t->r, 50));
	if (!pe.ok)
		return;
	peer_ids(t, &pe, ENOENT, "an id of a process that was reaped");
	if (maps && !unpriv)
		maps = pinned(t, &pe, maps);
	/* Another user's pool: our declarations outlive its range. */
	peer_unmap(t, &pe, maps, ES(EINVAL) | ES(ENOENT));
	r = proc_rec(t, pe.pid, pe.addr, &complete);
	REQUIRE(t, !r || (r->flags & AGNOCAST_PROC_EXITED),
		"reaped peer %d is still listed live", (int)pe.pid);
	snprintf(name, sizeof(name), "/agnocast@%d", (int)pe.pid);
	fd = shm_open(name, O_RDONLY, 0);
	REQUIRE(t, fd < 0 && errno == ENOENT, "%s outlived its process", name);
	win_hit(W_dead_peer_enoent);
}

void s_unattached_peer(struct tctx *t)
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
	cjob_build(t, &j, 0);
	cjob_run(&j);
	cjob_check(t, &j, "an unjoined process");
	win_hit(W_unjoined_esrch);
	chaos_loop(t, 50);
}

void s_children(struct tctx *t)
{
	in_child(t, rng_pct(&t->r, 50) ? c_join_efault : c_unjoined, NULL);
}

/* CLONE_VM and vfork children of a joined probe: EPERM, nothing changes. */
void s_clone(struct tctx *t)
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

