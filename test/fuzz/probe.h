/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Probe processes: single-threaded, joined, on private topics nobody else
 * uses, they run short scenarios whose every step the header decides
 * exactly (undo after EFAULT, EPERM for a live peer's ids, ENOENT once it
 * is reaped, bounds reached, exec, inherited descriptors, namespaces),
 * while the member processes make the module busy around them.
 */
#ifndef FUZZ_PROBE_H
#define FUZZ_PROBE_H

#include "call.h"
#include "proc.h"

/* Name of scenario i (NULL past the last), for the report. */
const char *probe_scen_name(unsigned int i);

/* A probe process. Never returns. */
__attribute__((noreturn)) void probe_main(uint64_t sid);

/* Helpers of the scenarios (probe_util.c). */
struct psub {
	uint32_t id;
	int fd;
};

/* A scratch buffer for reclaimed addresses (in the arena). */
uint64_t *recl_buf(struct tctx *t);
/* fz_simple under a shorter name. */
int pcall(struct tctx *t, enum ioc ioc, void *arg, errset_t want, const char *rule);
/* Fork a child running fn (single-threaded, not in the registry); reap it. */
void in_child(struct tctx *t, void (*fn)(struct tctx *t, void *arg), void *arg);
/* A result under a bound the supervisor may change: judged if it did not. */
void judge(struct tctx *t, uint32_t gen, int ok, const char *what, int e);

/* A fresh private topic name. */
void p_topic(struct tctx *t, char *field);
/* ADD_PUBLISHER / ADD_SUBSCRIBER that must work (or hit a lowered bound). */
uint32_t p_add_pub(struct tctx *t, const char *topic, uint32_t depth, uint32_t flags);
int p_add_sub(struct tctx *t, const char *topic, uint32_t depth, uint32_t flags,
	      struct psub *s);
/* Remember a publisher made otherwise, for p_cleanup. */
void p_keep_pub(struct tctx *t, uint32_t id, int fd);
/* PUBLISH at a scratch address; -1 if a lowered bound refused it. */
int p_publish(struct tctx *t, uint32_t pub, uint64_t addr, uint64_t *recl,
	      uint32_t cap, uint64_t *seq, uint32_t *nr);
/* The k-th scratch address of our pool (k < 512). */
uint64_t p_scratch(struct tctx *t, uint32_t k);
/* RECEIVE that must give exactly what expect says; returns nr_entries. */
uint32_t p_receive(struct tctx *t, uint32_t sub, struct agnocast_entry *e,
		   uint32_t cap, errset_t expect, const char *rule);
void p_release(struct tctx *t, uint32_t sub, uint64_t seq);
/* Remove every endpoint of ours and take back every reclaimable address. */
void p_cleanup(struct tctx *t);
/* TOPIC_INFO of a topic that exists; fills counts. */
void p_topic_info(struct tctx *t, const char *topic, struct agnocast_topic_info_args *ti,
		  struct agnocast_endpoint_info *subs, uint32_t subs_cap);

/* Lowest free descriptor, and how many agnocast subscriber fds we have. */
int lowest_fd(void);
int count_sub_fds(void);

/* A peer: a forked child that joins and waits until told or killed. */
struct peer {
	pid_t pid;
	int wr;			/* closing it lets the peer exit */
	int ok;
	uint32_t pub, sub;
	uint64_t addr, max;
};
/*
 * flags 0: ADD_PROCESS only; PEER_ATTACH: the full join, a publisher and
 * a subscriber; PEER_UNPRIV: the same as user 65534.
 */
#define PEER_ATTACH 1
#define PEER_UNPRIV 2
int peer_start(struct tctx *t, struct peer *pe, int flags);
void peer_stop(struct tctx *t, struct peer *pe, int kill_it);

/* The scenarios (probe_efault.c, probe_peer.c, probe_bounds.c, probe_proc.c). */
void s_efault_add_sub(struct tctx *t);
void s_efault_add_pub(struct tctx *t);
void s_efault_deliver(struct tctx *t);
void s_efault_publish(struct tctx *t);
void s_efault_reclaim(struct tctx *t);
void s_depth_reclaim(struct tctx *t);
void s_peer(struct tctx *t);
void s_unattached_peer(struct tctx *t);
void s_children(struct tctx *t);
void s_clone(struct tctx *t);
void s_hold_max(struct tctx *t);
void s_edquot_endpoints(struct tctx *t);
void s_edquot_entries(struct tctx *t);
void s_edquot_mappings(struct tctx *t);
void s_edquot_join(struct tctx *t);
void s_inherited(struct tctx *t);
void s_exec(struct tctx *t);
void s_ipc(struct tctx *t);
void s_range(struct tctx *t);
void s_attach(struct tctx *t);
void s_receive_window(struct tctx *t);
void s_transient_local(struct tctx *t);
void s_answers(struct tctx *t);
void s_held_pin(struct tctx *t);
void s_ghost(struct tctx *t);
void s_topic_full(struct tctx *t);
void s_emfile(struct tctx *t);
void s_reliable(struct tctx *t);
void s_events(struct tctx *t);
void s_receive_release(struct tctx *t);

#endif
