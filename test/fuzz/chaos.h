/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The random operations of member threads: each builds its arguments
 * (mostly valid ids and addresses, the caller's own or other processes',
 * sometimes odd memory), makes the call through fz_call and checks what
 * it can state without racing its own process's other threads.
 */
#ifndef FUZZ_CHAOS_H
#define FUZZ_CHAOS_H

#include "proc.h"

typedef void (*op_fn)(struct tctx *t);

/* Publisher side (chaos_pub.c). */
void op_add_publisher(struct tctx *t);
void op_remove_publisher(struct tctx *t);
void op_publish(struct tctx *t);
void op_publish_odd(struct tctx *t);
void op_reclaim(struct tctx *t);
void op_resize_pool(struct tctx *t);
void op_poll_pub(struct tctx *t);
void op_close_exposed_pub(struct tctx *t);

/* Subscriber side (chaos_sub.c). */
void op_add_subscriber(struct tctx *t);
void op_remove_subscriber(struct tctx *t);
void op_receive(struct tctx *t);
void op_take(struct tctx *t);
void op_release(struct tctx *t);
void op_poll_sub(struct tctx *t);
void op_close_exposed(struct tctx *t);

/* Everything else (chaos_misc.c). */
void op_version(struct tctx *t);
void op_add_process(struct tctx *t);
void op_attach_pool(struct tctx *t);
void op_map_pool(struct tctx *t);
void op_unmap_pool(struct tctx *t);
void op_foreign(struct tctx *t);
void op_unknown(struct tctx *t);
void op_list_topics(struct tctx *t);
void op_topic_info(struct tctx *t);
void op_list_processes(struct tctx *t);
void op_status_read(struct tctx *t);
void op_endpoint_state(struct tctx *t);

/* Processes and namespaces (kids.c). */
void op_fork(struct tctx *t);
void op_exec_child(struct tctx *t);
void op_exec_self(struct tctx *t);
void op_clone_vm(struct tctx *t);
void op_vfork(struct tctx *t);
void op_unshare_ipc(struct tctx *t);

/* Shared by the subscriber operations (chaos_sub.c, chaos_recv.c). */
struct subrec *pick_sub(struct tctx *t, uint32_t *id, int *precise);
void got_entries(struct tctx *t, struct subrec *sr, int precise, uint32_t id,
		 const struct agnocast_entry *e, uint32_t n);
errset_t deliver_expect(struct subrec *sr, int precise, int mode, int amode,
			uint32_t held);
void deliver_failed(struct tctx *t, struct subrec *sr, int precise, uint32_t id,
		    int e, int take);
uint32_t odd_sub_id(struct tctx *t, errset_t *expect);

/* Held entries (held.c). */
struct reread {
	int rc;
	uint64_t serial;
	uint32_t sum;
	char why[96];
};
void reread_held(struct tctx *t, const struct held *h, struct reread *rr);
void judge_held(struct tctx *t, const struct held *h, const struct reread *rr);
void held_forget(struct tctx *t, uint32_t i);
#define REL_OURS 8
struct rel_list {
	uint32_t n, nours;
	uint64_t seq[AGNOCAST_RELEASE_MAX + 1];
	struct held h[REL_OURS];
	struct reread rr[REL_OURS];
};
void release_list_build(struct tctx *t, uint32_t sub, struct rel_list *rl);
uint32_t release_list_done(struct tctx *t, uint32_t sub, int precise,
			   const struct rel_list *rl);

/* Run random operations until the run is over (or n ops, if n > 0). */
void chaos_loop(struct tctx *t, uint32_t n);

/* A reader process: status file and introspection only. */
__attribute__((noreturn)) void reader_main(uint64_t sid);

/* A member process: join (or not), threads, chaos. Never returns. */
__attribute__((noreturn)) void member_main(enum kind kind, uint64_t sid);

/* The expectation of ADD_PUBLISHER / ADD_SUBSCRIBER (mode already set). */
struct call;
void expect_add(struct call *c, const struct pctx *p, int name_err, int bad,
		int amode, errset_t limits);
/* After a failed ADD on a private topic: the topic must not exist. */
void check_no_topic(struct tctx *t, const char *topic, const char *rule);

/* The ids and pools of another participant, for foreign arguments. */
const struct regrec *foreign_pick(struct tctx *t);
/* One of its publisher (sub 0) or subscriber ids; never one of ours. */
uint32_t foreign_id(struct tctx *t, const struct regrec *f, int sub);

#endif
