/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers around the agnocast ioctls. The macros in capitals fail the test
 * (at the caller's line) when the call does not succeed; ag_ioctl() is the
 * raw call for checking errors. JOIN and MAP_PEER / UNMAP_PEER are the real
 * protocol, libagnocast's; PREPARE_POOL and ADD_PROCESS are parts of a
 * join made by hand, to check the module's answers to wrong ones.
 */
#ifndef AGNOCAST_KTEST_AG_H
#define AGNOCAST_KTEST_AG_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "agnocast.h"

#define UNIT AGNOCAST_POOL_UNIT

static inline void *u2p(uint64_t a)
{
	return (void *)(uintptr_t)a;
}

/* A macro, not a function: passing an output buffer is not reading it. */
#define p2u(p) ((uint64_t)(uintptr_t)(p))

static inline uint64_t round_up(uint64_t x, uint64_t to)
{
	return (x + to - 1) / to * to;
}

/* Raw ioctl on /dev/agnocast: returns what ioctl returns, errno set. */
static inline int ag_ioctl(int dev, unsigned long cmd, void *arg)
{
	return ioctl(dev, cmd, arg);
}

/* A joined process's own pool, as join_process leaves it. */
struct ag_pool {
	int shm_fd;	/* read-write fd of /agnocast@<pid> */
	uint64_t addr, size, max;
};

/* A subscriber: its id and its pollable fd. */
struct ag_sub {
	uint32_t id;
	int fd;
};

/* Open /dev/agnocast (close-on-exec). */
int ag_open_at(const char *f, int l);
#define AG_OPEN() ag_open_at(__FILE__, __LINE__)

/*
 * Join the real way: agnocast_join() of libagnocast with dev as its device
 * (ADD_PROCESS, "/agnocast@<pid>" created 0444, sized, mapped at the
 * assigned address, ATTACH_POOL), max 0 meaning the size as it does to the
 * module. Checks the join was a fresh one.
 */
void join_process_at(const char *f, int l, int dev, uint64_t size,
		     uint64_t max, struct ag_pool *pool);
#define JOIN(dev, size, max, pool) \
	join_process_at(__FILE__, __LINE__, dev, size, max, pool)

/*
 * A join made by hand, for the tests of ATTACH_POOL's errors: ADD_PROCESS,
 * shm_open("/agnocast@<pid>", O_CREAT | O_EXCL | O_RDWR, 0444), ftruncate,
 * mmap at pool_addr for pool_max, but no ATTACH_POOL (pool->shm_fd is the
 * read-write fd).
 */
void prepare_pool_at(const char *f, int l, int dev, uint64_t size,
		     uint64_t max, struct ag_pool *pool);
#define PREPARE_POOL(dev, size, max, pool) \
	prepare_pool_at(__FILE__, __LINE__, dev, size, max, pool)
/* Raw ATTACH_POOL of fd. */
int attach_raw(int dev, int fd);

/* Only ADD_PROCESS (checked fresh); fills pool->addr/size/max. */
void add_process_at(const char *f, int l, int dev, uint64_t size,
		    uint64_t max, struct ag_pool *pool);
#define ADD_PROCESS(dev, size, max, pool) \
	add_process_at(__FILE__, __LINE__, dev, size, max, pool)

/* The shm name of a process's pool. */
void pool_name(char *buf, size_t len, pid_t pid);

/* Does /agnocast@<pid> exist (shm_open O_RDONLY works; else ENOENT)? */
int shm_exists(pid_t pid);

/* Put a topic name into a fixed field (NUL padded). */
void set_topic(char *field, const char *name);

/*
 * ADD_PUBLISHER; returns the id. The publisher's descriptor stays open
 * (the process's end closes it) unless fd receives it (ADD_PUB_FD).
 */
uint32_t add_pub_at(const char *f, int l, int dev, const char *topic,
		    uint32_t depth, uint32_t flags, int32_t *sub_pids,
		    uint32_t cap, uint32_t *nr, int *fd);
#define ADD_PUB(dev, topic, depth, flags) \
	add_pub_at(__FILE__, __LINE__, dev, topic, depth, flags, NULL, 0, NULL, NULL)
#define ADD_PUB_EX(dev, topic, depth, flags, pids, cap, nr) \
	add_pub_at(__FILE__, __LINE__, dev, topic, depth, flags, pids, cap, nr, NULL)
#define ADD_PUB_FD(dev, topic, depth, flags, fd) \
	add_pub_at(__FILE__, __LINE__, dev, topic, depth, flags, NULL, 0, NULL, fd)

struct ag_sub add_sub_at(const char *f, int l, int dev, const char *topic,
			 uint32_t depth, uint32_t flags,
			 struct agnocast_pool_info *pubs, uint32_t cap,
			 uint32_t *nr);
#define ADD_SUB(dev, topic, depth, flags) \
	add_sub_at(__FILE__, __LINE__, dev, topic, depth, flags, NULL, 0, NULL)
#define ADD_SUB_EX(dev, topic, depth, flags, pubs, cap, nr) \
	add_sub_at(__FILE__, __LINE__, dev, topic, depth, flags, pubs, cap, nr)

void remove_pub_at(const char *f, int l, int dev, uint32_t id);
void remove_sub_at(const char *f, int l, int dev, uint32_t id);
#define REMOVE_PUB(dev, id) remove_pub_at(__FILE__, __LINE__, dev, id)
#define REMOVE_SUB(dev, id) remove_sub_at(__FILE__, __LINE__, dev, id)

/*
 * PUBLISH; returns the seq. recl/cap receive the reclaimed addresses
 * (when recl is NULL an internal buffer is used and they are dropped).
 */
uint64_t publish_at(const char *f, int l, int dev, uint32_t pub,
		    uint64_t addr, uint64_t len, uint64_t *recl, uint32_t cap,
		    uint32_t *nr);
#define PUBLISH(dev, pub, addr, len) \
	publish_at(__FILE__, __LINE__, dev, pub, addr, len, NULL, 0, NULL)
#define PUBLISH_R(dev, pub, addr, len, recl, cap, nr) \
	publish_at(__FILE__, __LINE__, dev, pub, addr, len, recl, cap, nr)

/* RECEIVE that must succeed; returns nr_entries. */
uint32_t receive_at(const char *f, int l, int dev, uint32_t sub,
		    struct agnocast_entry *e, uint32_t cap);
#define RECEIVE(dev, sub, e, cap) receive_at(__FILE__, __LINE__, dev, sub, e, cap)
/* Raw RECEIVE: ioctl result, *nr set on success. */
int receive_raw(int dev, uint32_t sub, struct agnocast_entry *e, uint32_t cap,
		uint32_t *nr);
/* Raw RECEIVE that first releases seqs[0 .. nrel). */
int receive_release_raw(int dev, uint32_t sub, const uint64_t *seqs,
			uint32_t nrel, struct agnocast_entry *e, uint32_t cap,
			uint32_t *nr);
/* PUBLISHER_STATE / SUBSCRIBER_STATE (raw: ioctl result). */
int endpoint_state_raw(int dev, int is_pub, uint32_t id,
		       struct agnocast_endpoint_state_args *out);
int take_raw(int dev, uint32_t sub, struct agnocast_entry *e);
int release_raw(int dev, uint32_t sub, uint64_t seq);
#define RELEASE(dev, sub, seq) CHECK_OK(release_raw(dev, sub, seq))

/* RECLAIM that must succeed; returns nr_addrs. */
uint32_t reclaim_at(const char *f, int l, int dev, uint64_t *addrs,
		    uint32_t cap);
#define RECLAIM(dev, addrs, cap) reclaim_at(__FILE__, __LINE__, dev, addrs, cap)

/*
 * Map the pool of pid with agnocast_map_pool() (MAP_POOL, then the
 * descriptor it returns mapped PROT_READ MAP_SHARED at the pool's address
 * for pool.max bytes); out: MAP_POOL's answer.
 */
void map_peer_at(const char *f, int l, int dev, pid_t pid,
		 struct agnocast_pool_info *out);
#define MAP_PEER(dev, pid, out) map_peer_at(__FILE__, __LINE__, dev, pid, out)
/* agnocast_unmap_pool(): munmap it and UNMAP_POOL. */
void unmap_peer_at(const char *f, int l, int dev,
		   const struct agnocast_pool_info *p);
#define UNMAP_PEER(dev, p) unmap_peer_at(__FILE__, __LINE__, dev, p)

/*
 * Raw MAP_POOL / UNMAP_POOL by pid (declarations only, no mapping): ioctl
 * result. map_pool_fd hands out the descriptor MAP_POOL returned (-1 when
 * it failed); map_pool_raw closes it.
 */
int map_pool_fd(int dev, pid_t pid, struct agnocast_pool_info *out, int *fd);
int map_pool_raw(int dev, pid_t pid, struct agnocast_pool_info *out);
int unmap_pool_raw(int dev, pid_t pid);

/* TOPIC_INFO (must succeed) with caps of 16. */
struct topic_info {
	struct agnocast_topic_info_args a;
	struct agnocast_endpoint_info pubs[16], subs[16];
};
void topic_info_at(const char *f, int l, int dev, const char *topic,
		   struct topic_info *ti);
#define TOPIC_INFO(dev, topic, ti) topic_info_at(__FILE__, __LINE__, dev, topic, ti)

/* Does the fd report POLLIN right now (poll with timeout 0)? */
short poll_now(int fd);
/* poll for POLLIN with the safety timeout; returns revents (0 on timeout). */
short poll_wait(int fd);

/* A message as the tests' publishers write it into their pool. */
#define MSG_MAGIC 0xA6A6C0DEu
struct msg {
	uint32_t magic;
	int32_t pid;
	uint32_t label;
	uint32_t sum;	/* magic ^ pid ^ label ^ 0x5a5a5a5a */
};
void write_msg(uint64_t addr, uint32_t label);
/* Check the message at addr was written by pid with label. */
void check_msg_at(const char *f, int l, uint64_t addr, pid_t pid,
		  uint32_t label);
#define CHECK_MSG(addr, pid, label) check_msg_at(__FILE__, __LINE__, addr, pid, label)
/* The label of the (valid) message at addr. */
uint32_t msg_label_at(const char *f, int l, uint64_t addr);
#define MSG_LABEL(addr) msg_label_at(__FILE__, __LINE__, addr)

#endif
