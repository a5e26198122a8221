/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State every participant of a run shares: one memfd, mapped by every
 * process (exec'd helpers map it again from the inherited descriptor).
 * It holds the counters the TAP report prints, the failures, the traces
 * of recent operations, the registry of ids and pools that participants
 * use as "foreign" arguments, the module parameters the supervisor has
 * set (behind a generation counter) and the pids caught inside a join.
 * Everything is updated with atomics; nothing here is a lock, so a
 * participant killed at any instant leaves it usable.
 */
#ifndef FUZZ_SHARED_H
#define FUZZ_SHARED_H

#include <stdint.h>
#include <sys/types.h>

#include "ioc.h"

/* Scenarios ("windows") the run reached, counted for the report. */
#define WINDOWS(X)                                                        \
	X(unjoined_esrch) X(foreign_eperm) X(foreign_enoent)              \
	X(clone_vm_eperm) X(vfork_eperm) X(fork_child)                    \
	X(inherited_sub_fd) X(inherited_fd_keeps_sub) X(inherited_fd_hup) \
	X(exec_helper) X(exec_self) X(exec_hup)                           \
	X(ro_args_efault) X(odd_array_efault) X(undo_receive)              \
	X(undo_take) X(undo_add_subscriber) X(undo_add_publisher)         \
	X(undo_map_pool) X(efault_stays_joined) X(publish_efault_published) \
	X(reclaim_efault_kept) X(straddle_efault) X(bad_pointer_efault)   \
	X(closed_while_used) X(close_exposed) X(enobufs_hold_max)         \
	X(edquot_endpoints) X(edquot_entries) X(edquot_mappings)          \
	X(edquot_procs) X(edquot_window) X(ipc_unshare) X(ipc_isolated)   \
	X(enomem_injected) X(pool_grow) X(pool_shrink) X(shrink_erange)   \
	X(held_verified) X(held_verified_owner_gone) X(reclaimed)         \
	X(depth_reclaim) X(dead_peer_enoent) X(invalid_argument) X(enotty)  \
	X(status_read) X(more_entries) X(join_existing) X(attach_ebusy)   \
	X(enxio) X(map_own) X(map_full) X(sub_hup_own) X(unpriv_join)     \
	X(publish_erange) X(stale_mapping) X(killed_in_join)              \
	X(parent_kill) X(param_phase) X(inject_phase) X(efault_injected)      \
	X(topic_full) X(emfile) X(pub_hup_own) X(reliable_full)          \
	X(release_list) X(endpoint_state) X(epollpri) X(close_exposed_pub)

#define WIN_ENUM(n) W_##n,
enum win { WINDOWS(WIN_ENUM) NWIN };
#undef WIN_ENUM
extern const char *const win_names[NWIN];

/* Kinds of participants, counted when spawned. */
#define KINDS(X) X(member) X(member_unpriv) X(loner) X(reader) X(probe)  \
	X(fork_child) X(exec_helper) X(clone_vm) X(vfork) X(pair_child)
#define KIND_ENUM(n) K_##n,
enum kind { KINDS(KIND_ENUM) NKIND };
#undef KIND_ENUM
extern const char *const kind_names[NKIND];

/* Writable module parameters the supervisor lowers at times. */
enum param {
	P_PROCS, P_WINDOW, P_ENDPOINTS, P_ENTRIES, P_MAPPINGS, P_STATUS_ENTRIES,
	NPARAM
};
extern const char *const param_names[NPARAM];

#define MAXFAIL 16
#define FAILTEXT 3072
#define NREG 64
#define REG_IDS 8
#define NJW 16384
#define NTRACE 96
#define TRACE_N 24

struct failrec {
	int32_t done;		/* the text is complete */
	int32_t pid;
	char text[FAILTEXT];
};

/* What a process publishes about itself for others to misuse. */
struct regrec {
	int32_t pid;
	uint32_t uid;
	uint64_t pool_addr, pool_max;
	uint32_t pub[REG_IDS], sub[REG_IDS];
	uint64_t seq[REG_IDS];
};

/* The last operations of one thread (a ring). */
struct trace_ent {
	uint32_t nop;
	uint16_t op;	/* an ioc, or TR_* */
	int16_t err;
	uint64_t a[3];
};
struct trace {
	int32_t pid, tid;
	uint64_t sid;
	uint32_t n;
	struct trace_ent e[TRACE_N];
};

struct shared {
	uint64_t magic;
	uint64_t seed;
	uint64_t start_ns, deadline_ns;	/* CLOCK_MONOTONIC */
	int32_t stop;		/* the supervisor is ending the run */
	int32_t verbose;
	int32_t inject;		/* fault injection on: INJ_* bits (knobs.h) */
	int32_t inject_used, inject_pct;	/* what the phase turned on */
	int32_t super_pid;
	int32_t exe_fd;		/* O_PATH of our own binary (inherited) */
	int32_t shm_fd;		/* this memfd (inherited, not close-on-exec) */

	/* module parameters: gen is odd while the supervisor changes one */
	uint32_t param_gen;
	uint64_t param_val[NPARAM];
	uint64_t param_default[NPARAM];

	uint64_t ioc_count[NIOC][ERRSET_BITS];
	uint64_t windows[NWIN];
	uint64_t spawned[NKIND];
	uint64_t killed_super, killed_parent, exits, crashes, checks;
	uint32_t soft_sites[256];	/* reports per observation site (by line) */
	uint64_t scen_runs[32];		/* probe scenarios run, by index */

	uint32_t nfail;
	struct failrec fail[MAXFAIL];

	uint32_t reg_next;
	struct regrec reg[NREG];

	uint32_t jw_next;
	int32_t jw_pid[NJW];	/* -pid once the join completed */

	uint32_t trace_next;
	struct trace traces[NTRACE];
};

extern struct shared *S;

/* Create the memfd and map it (supervisor); map an inherited one (helper). */
int shared_create(void);
int shared_attach(int fd);

uint64_t now_ns(void);
/* Past the run's deadline, or the supervisor is stopping? */
int run_over(void);

static inline void count_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}
static inline void win_hit(enum win w)
{
	count_add(&S->windows[w], 1);
}

/* Append a failure (first MAXFAIL kept); returns its number. */
uint32_t fail_add(const char *text);

/* Registry: claim a record for this process, update its fields. */
struct regrec *reg_claim(pid_t pid, uid_t uid);
void reg_add_id(struct regrec *r, int sub, uint32_t id, uint64_t seq);
/* A random record of another process (NULL if none). */
const struct regrec *reg_pick(uint64_t rnd, pid_t not_pid);

/* Join windows: pids that may die between shm_open and ATTACH_POOL. */
uint32_t jw_enter(pid_t pid);
void jw_leave(uint32_t slot, pid_t pid);

/* A parameter's value and the generation it was read at (odd: changing). */
uint32_t param_snapshot(enum param p, uint64_t *val);
int param_stable(uint32_t gen);

#endif
