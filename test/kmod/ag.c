// SPDX-License-Identifier: Apache-2.0
/*
 * Helpers around the agnocast ioctls (see ag.h). The real join and the
 * mapping of other pools are libagnocast's (agnocast_join,
 * agnocast_map_pool); the raw calls here are for checking errors.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "libagnocast.h"

int ag_open_at(const char *f, int l)
{
	int fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail_at(f, l, "open %s: %s", AGNOCAST_DEVICE_PATH, errname(errno));
	return fd;
}

void pool_name(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "/agnocast@%d", (int)pid);
}

int shm_exists(pid_t pid)
{
	char name[64];
	int fd;

	pool_name(name, sizeof(name), pid);
	fd = shm_open(name, O_RDONLY, 0);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	CHECK_EQ(errno, ENOENT);
	return 0;
}

void set_topic(char *field, const char *name)
{
	/* Up to the whole field: a name of 256 bytes has no NUL in it. */
	memset(field, 0, AGNOCAST_TOPIC_NAME_MAX);
	memcpy(field, name, strnlen(name, AGNOCAST_TOPIC_NAME_MAX));
}

void add_process_at(const char *f, int l, int dev, uint64_t size,
		    uint64_t max, struct ag_pool *pool)
{
	struct agnocast_add_process_args a = { .pool_size = size, .pool_max = max };

	if (ag_ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a))
		fail_at(f, l, "ADD_PROCESS(size %llu, max %llu): %s",
			(unsigned long long)size, (unsigned long long)max,
			errname(errno));
	if (a.flags != 0)
		fail_at(f, l, "ADD_PROCESS: flags 0x%x on a fresh join", a.flags);
	pool->shm_fd = -1;
	pool->addr = a.pool_addr;
	pool->size = a.pool_size;
	pool->max = a.pool_max;
}

void prepare_pool_at(const char *f, int l, int dev, uint64_t size,
		     uint64_t max, struct ag_pool *pool)
{
	char name[64];
	void *p;
	int fd;

	add_process_at(f, l, dev, size, max, pool);
	pool_name(name, sizeof(name), getpid());
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0444);
	if (fd < 0 && errno == EEXIST) {
		note("%s existed already (stale name of a dead process with this pid?): unlinked it",
		     name);
		shm_unlink(name);
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0444);
	}
	if (fd < 0)
		fail_at(f, l, "shm_open(%s): %s", name, errname(errno));
	if (ftruncate(fd, pool->size))
		fail_at(f, l, "ftruncate(%s, %llu): %s", name,
			(unsigned long long)pool->size, errname(errno));
	p = mmap(u2p(pool->addr), pool->max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	if (p != u2p(pool->addr))
		fail_at(f, l, "mmap of the pool at 0x%llx for %llu: %p (%s)",
			(unsigned long long)pool->addr,
			(unsigned long long)pool->max, p, errname(errno));
	pool->shm_fd = fd;
}

void join_process_at(const char *f, int l, int dev, uint64_t size,
		     uint64_t max, struct ag_pool *pool)
{
	/* max 0 means "the size" to the module; say so to the library. */
	struct agnocast_join_opts o = { .pool_size = size, .pool_max = max ? max : size,
					.dev_fd = dev, .flags = AGNOCAST_OPT_NO_DISCOVERY };
	struct agnocast_pool p;
	int r = agnocast_join(&o);

	if (r < 0)
		fail_at(f, l, "agnocast_join(size %llu, max %llu): %s", (unsigned long long)size,
			(unsigned long long)max, agnocast_last_error());
	if (r == 1)
		fail_at(f, l, "agnocast_join: this process had joined already, expected a fresh join");
	if (agnocast_pool_info(&p))
		fail_at(f, l, "agnocast_pool_info: %s", agnocast_last_error());
	pool->shm_fd = p.pool_fd;
	pool->addr = p.addr;
	pool->size = p.size;
	pool->max = p.max;
}

int attach_raw(int dev, int fd)
{
	struct agnocast_attach_pool_args at = { .fd = fd };

	return ag_ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at);
}

uint32_t add_pub_at(const char *f, int l, int dev, const char *topic,
		    uint32_t depth, uint32_t flags, int32_t *sub_pids,
		    uint32_t cap, uint32_t *nr, int *fd)
{
	struct agnocast_add_publisher_args a;
	int32_t buf[64];

	memset(&a, 0, sizeof(a));
	set_topic(a.topic, topic);
	a.qos.depth = depth;
	a.qos.flags = flags;
	if (!sub_pids) {
		sub_pids = buf;
		cap = 64;
	}
	a.sub_pids = p2u(sub_pids);
	a.sub_pids_cap = cap;
	if (ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &a))
		fail_at(f, l, "ADD_PUBLISHER(%s, depth %u, flags 0x%x): %s", topic,
			depth, flags, errname(errno));
	if (nr)
		*nr = a.nr_sub_pids;
	if (a.fd < 0)
		fail_at(f, l, "ADD_PUBLISHER(%s) gave no descriptor (fd %d)", topic, a.fd);
	if (fd)
		*fd = a.fd;
	return a.publisher_id;
}

struct ag_sub add_sub_at(const char *f, int l, int dev, const char *topic,
			 uint32_t depth, uint32_t flags,
			 struct agnocast_pool_info *pubs, uint32_t cap,
			 uint32_t *nr)
{
	struct agnocast_add_subscriber_args a;
	struct agnocast_pool_info buf[16];
	struct ag_sub s;
	int fdflags;

	memset(&a, 0, sizeof(a));
	set_topic(a.topic, topic);
	a.qos.depth = depth;
	a.qos.flags = flags;
	if (!pubs) {
		pubs = buf;
		cap = 16;
	}
	a.pubs = p2u(pubs);
	a.pubs_cap = cap;
	a.fd = -1;
	if (ag_ioctl(dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &a))
		fail_at(f, l, "ADD_SUBSCRIBER(%s, depth %u, flags 0x%x): %s", topic,
			depth, flags, errname(errno));
	fdflags = fcntl(a.fd, F_GETFD);
	if (fdflags < 0 || !(fdflags & FD_CLOEXEC))
		fail_at(f, l, "ADD_SUBSCRIBER: fd %d is not an O_CLOEXEC descriptor (F_GETFD %d, %s)",
			a.fd, fdflags, errname(errno));
	if (nr)
		*nr = a.nr_pubs;
	s.id = a.subscriber_id;
	s.fd = a.fd;
	return s;
}

void remove_pub_at(const char *f, int l, int dev, uint32_t id)
{
	struct agnocast_remove_args a = { .id = id };

	if (ag_ioctl(dev, AGNOCAST_REMOVE_PUBLISHER_CMD, &a))
		fail_at(f, l, "REMOVE_PUBLISHER(%u): %s", id, errname(errno));
}

void remove_sub_at(const char *f, int l, int dev, uint32_t id)
{
	struct agnocast_remove_args a = { .id = id };

	if (ag_ioctl(dev, AGNOCAST_REMOVE_SUBSCRIBER_CMD, &a))
		fail_at(f, l, "REMOVE_SUBSCRIBER(%u): %s", id, errname(errno));
}

uint64_t publish_at(const char *f, int l, int dev, uint32_t pub,
		    uint64_t addr, uint64_t len, uint64_t *recl, uint32_t cap,
		    uint32_t *nr)
{
	struct agnocast_publish_args a;
	uint64_t buf[64];

	memset(&a, 0, sizeof(a));
	if (!recl) {
		recl = buf;
		cap = 64;
	}
	a.publisher_id = pub;
	a.addr = addr;
	a.len = len;
	a.reclaimed = p2u(recl);
	a.reclaimed_cap = cap;
	if (ag_ioctl(dev, AGNOCAST_PUBLISH_CMD, &a))
		fail_at(f, l, "PUBLISH(pub %u, addr 0x%llx, len %llu): %s", pub,
			(unsigned long long)addr, (unsigned long long)len,
			errname(errno));
	if (a.nr_reclaimed > cap)
		fail_at(f, l, "PUBLISH: nr_reclaimed %u > reclaimed_cap %u",
			a.nr_reclaimed, cap);
	if (nr)
		*nr = a.nr_reclaimed;
	return a.seq;
}

int receive_release_raw(int dev, uint32_t sub, const uint64_t *seqs,
			uint32_t nrel, struct agnocast_entry *e, uint32_t cap,
			uint32_t *nr)
{
	struct agnocast_receive_args a;
	int r;

	memset(&a, 0, sizeof(a));
	a.subscriber_id = sub;
	a.entries = p2u(e);
	a.entries_cap = cap;
	a.release = p2u(seqs);
	a.release_nr = nrel;
	r = ag_ioctl(dev, AGNOCAST_RECEIVE_CMD, &a);
	if (r == 0 && nr)
		*nr = a.nr_entries;
	return r;
}

int receive_raw(int dev, uint32_t sub, struct agnocast_entry *e, uint32_t cap,
		uint32_t *nr)
{
	return receive_release_raw(dev, sub, NULL, 0, e, cap, nr);
}

int endpoint_state_raw(int dev, int is_pub, uint32_t id,
		       struct agnocast_endpoint_state_args *out)
{
	memset(out, 0, sizeof(*out));
	out->id = id;
	return ag_ioctl(dev, is_pub ? AGNOCAST_PUBLISHER_STATE_CMD :
			AGNOCAST_SUBSCRIBER_STATE_CMD, out);
}

uint32_t receive_at(const char *f, int l, int dev, uint32_t sub,
		    struct agnocast_entry *e, uint32_t cap)
{
	uint32_t nr = 0;

	if (receive_raw(dev, sub, e, cap, &nr))
		fail_at(f, l, "RECEIVE(sub %u, cap %u): %s", sub, cap,
			errname(errno));
	if (nr == 0 || nr > cap)
		fail_at(f, l, "RECEIVE(sub %u, cap %u) succeeded with nr_entries %u",
			sub, cap, nr);
	return nr;
}

int take_raw(int dev, uint32_t sub, struct agnocast_entry *e)
{
	struct agnocast_take_args a;
	int r;

	memset(&a, 0, sizeof(a));
	a.subscriber_id = sub;
	r = ag_ioctl(dev, AGNOCAST_TAKE_CMD, &a);
	if (r == 0)
		*e = a.entry;
	return r;
}

int release_raw(int dev, uint32_t sub, uint64_t seq)
{
	struct agnocast_release_args a = { .subscriber_id = sub, .seq = seq };

	return ag_ioctl(dev, AGNOCAST_RELEASE_CMD, &a);
}

uint32_t reclaim_at(const char *f, int l, int dev, uint64_t *addrs,
		    uint32_t cap)
{
	struct agnocast_reclaim_args a = { .addrs = p2u(addrs), .addrs_cap = cap };

	if (ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &a))
		fail_at(f, l, "RECLAIM(cap %u): %s", cap, errname(errno));
	if (a.nr_addrs > cap)
		fail_at(f, l, "RECLAIM: nr_addrs %u > cap %u", a.nr_addrs, cap);
	return a.nr_addrs;
}

int map_pool_fd(int dev, pid_t pid, struct agnocast_pool_info *out, int *fd)
{
	struct agnocast_map_pool_args a;
	int r;

	memset(&a, 0, sizeof(a));
	a.pool.pid = pid;
	a.fd = -2;
	r = ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &a);
	if (r == 0 && out)
		*out = a.pool;
	*fd = r == 0 ? a.fd : -1;
	return r;
}

int map_pool_raw(int dev, pid_t pid, struct agnocast_pool_info *out)
{
	int fd, r = map_pool_fd(dev, pid, out, &fd);

	if (fd >= 0)
		close(fd);
	return r;
}

int unmap_pool_raw(int dev, pid_t pid)
{
	struct agnocast_unmap_pool_args a;

	memset(&a, 0, sizeof(a));
	a.pid = pid;
	return ag_ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &a);
}

void map_peer_at(const char *f, int l, int dev, pid_t pid,
		 struct agnocast_pool_info *out)
{
	(void)dev;	/* the library's device: the module knows the process, not the file */
	if (agnocast_map_pool(pid, 0, out))
		fail_at(f, l, "agnocast_map_pool(%d): %s", (int)pid, agnocast_last_error());
	if (out->pid != pid)
		fail_at(f, l, "agnocast_map_pool(%d) answered pid %d", (int)pid, out->pid);
}

void unmap_peer_at(const char *f, int l, int dev,
		   const struct agnocast_pool_info *p)
{
	(void)dev;
	if (agnocast_unmap_pool(p->addr))
		fail_at(f, l, "agnocast_unmap_pool(0x%llx, the pool of %d): %s",
			(unsigned long long)p->addr, p->pid, agnocast_last_error());
}

void topic_info_at(const char *f, int l, int dev, const char *topic,
		   struct topic_info *ti)
{
	memset(ti, 0, sizeof(*ti));
	set_topic(ti->a.topic, topic);
	ti->a.pubs = p2u(ti->pubs);
	ti->a.subs = p2u(ti->subs);
	ti->a.pubs_cap = 16;
	ti->a.subs_cap = 16;
	if (ag_ioctl(dev, AGNOCAST_TOPIC_INFO_CMD, &ti->a))
		fail_at(f, l, "TOPIC_INFO(%s): %s", topic, errname(errno));
}

short poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, 0);

	if (r < 0)
		FAIL("poll: %s", errname(errno));
	return r ? p.revents : 0;
}

short poll_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, SYNC_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		FAIL("poll: %s", errname(errno));
	return r ? p.revents : 0;
}

void write_msg(uint64_t addr, uint32_t label)
{
	struct msg *m = u2p(addr);

	m->magic = MSG_MAGIC;
	m->pid = getpid();
	m->label = label;
	m->sum = MSG_MAGIC ^ (uint32_t)m->pid ^ label ^ 0x5a5a5a5au;
}

static void check_valid(const char *f, int l, const struct msg *m)
{
	if (m->magic != MSG_MAGIC ||
	    m->sum != (m->magic ^ (uint32_t)m->pid ^ m->label ^ 0x5a5a5a5au))
		fail_at(f, l, "no valid message at %p (magic 0x%x pid %d label %u sum 0x%x)",
			(void *)m, m->magic, m->pid, m->label, m->sum);
}

void check_msg_at(const char *f, int l, uint64_t addr, pid_t pid,
		  uint32_t label)
{
	const struct msg *m = u2p(addr);

	check_valid(f, l, m);
	if (m->pid != pid || m->label != label)
		fail_at(f, l, "message at 0x%llx: pid %d label %u, expected pid %d label %u",
			(unsigned long long)addr, m->pid, m->label, (int)pid,
			label);
}

uint32_t msg_label_at(const char *f, int l, uint64_t addr)
{
	const struct msg *m = u2p(addr);

	check_valid(f, l, m);
	return m->label;
}
