// SPDX-License-Identifier: Apache-2.0
/*
 * ATTACH_POOL: the right file mapped the right way is accepted once (EBUSY
 * after); a bad fd is EBADF; anything else (not tmpfs, wrong name, not
 * mapped, mapped elsewhere / privately / at an offset, read-only fd) is
 * EINVAL. Before attaching, ADD_PUBLISHER and MAP_POOL of the process are
 * ENXIO. Growing the file is seen by MAP_POOL and through existing mappings.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

static int attached_flag(pid_t pid)
{
	struct status st;
	const struct st_rec *p;
	int a;

	STATUS_READ(&st);
	p = ST_PROC(&st, pid);
	a = (int)ST_U64(p, "attached");
	status_free(&st);
	return a;
}

TEST(attach_once_then_ebusy)
{
	struct agnocast_list_processes_args lp;
	struct agnocast_process_info pi[2];
	struct ag_pool pool;
	int dev = AG_OPEN();

	JOIN(dev, UNIT, 2 * UNIT, &pool);
	CHECK_EQ(attached_flag(getpid()), 1);
	CHECK_ERR(attach_raw(dev, pool.shm_fd), EBUSY);
	memset(&lp, 0, sizeof(lp));
	lp.procs = p2u(pi);
	lp.procs_cap = 2;
	CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
	CHECK_EQ(lp.nr_procs, 1);
	CHECK_EQ(pi[0].pool.pid, getpid());
	CHECK(pi[0].flags & AGNOCAST_PROC_ATTACHED);
	CHECK(!(pi[0].flags & AGNOCAST_PROC_EXITED));
	CHECK_EQ(pi[0].pool.addr, pool.addr);
	CHECK_EQ(pi[0].pool.size, UNIT);
	CHECK_EQ(pi[0].pool.max, 2 * UNIT);
}

TEST(attach_bad_fd_ebadf)
{
	struct ag_pool pool;
	int dev = AG_OPEN(), closed;

	PREPARE_POOL(dev, UNIT, 0, &pool);
	CHECK_ERR(attach_raw(dev, -1), EBADF);
	closed = lowest_free_fd();
	CHECK_ERR(attach_raw(dev, closed), EBADF);
	CHECK_ERR(attach_raw(dev, 1 << 20), EBADF);
	CHECK_EQ(attached_flag(getpid()), 0);
	CHECK_OK(attach_raw(dev, pool.shm_fd));
	CHECK_EQ(attached_flag(getpid()), 1);
}

TEST(attach_not_tmpfs_einval)
{
	struct ag_pool pool;
	int dev = AG_OPEN(), p[2], fd;

	PREPARE_POOL(dev, UNIT, 0, &pool);
	CHECK_OK(pipe(p));
	CHECK_ERR(attach_raw(dev, p[0]), EINVAL);
	CHECK_ERR(attach_raw(dev, p[1]), EINVAL);
	fd = open("/dev/null", O_RDWR);
	CHECK(fd >= 0);
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	close(fd);
	fd = open("/proc/self/status", O_RDONLY);
	CHECK(fd >= 0);
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	close(fd);
	CHECK_ERR(attach_raw(dev, dev), EINVAL);
	CHECK_EQ(attached_flag(getpid()), 0);
	CHECK_OK(attach_raw(dev, pool.shm_fd));
}

/* Create shm `name`, size it, map it shared at addr; returns its fd. */
static int shm_at(const char *name, uint64_t addr, uint64_t len)
{
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0444);
	void *m;

	CHECK(fd >= 0);
	CHECK_OK(ftruncate(fd, len));
	m = mmap(u2p(addr), len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	CHECK(m == u2p(addr));
	return fd;
}

TEST(attach_wrong_name_einval)
{
	struct ag_pool pool;
	char name[64];
	int dev = AG_OPEN(), fd;

	/* Only ADD_PROCESS: no pool file of the right name is made. */
	ADD_PROCESS(dev, UNIT, 0, &pool);

	snprintf(name, sizeof(name), "/agnocast-wrong@%d", (int)getpid());
	fd = shm_at(name, pool.addr, pool.max);
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	CHECK_OK(munmap(u2p(pool.addr), pool.max));
	close(fd);
	CHECK_OK(shm_unlink(name));

	/* The name of another pid (pid 1 never joins in this suite). */
	fd = shm_at("/agnocast@1", pool.addr, pool.max);
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	CHECK_OK(munmap(u2p(pool.addr), pool.max));
	close(fd);
	CHECK_OK(shm_unlink("/agnocast@1"));

	snprintf(name, sizeof(name), "/agnocast@%dx", (int)getpid());
	fd = shm_at(name, pool.addr, pool.max);
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	CHECK_OK(munmap(u2p(pool.addr), pool.max));
	close(fd);
	CHECK_OK(shm_unlink(name));
	CHECK_EQ(attached_flag(getpid()), 0);

	/* And the right one. */
	pool_name(name, sizeof(name), getpid());
	fd = shm_at(name, pool.addr, pool.max);
	CHECK_OK(attach_raw(dev, fd));
}

TEST(attach_not_mapped_right_einval)
{
	struct ag_pool pool;
	char name[64];
	void *m;
	int dev = AG_OPEN(), fd, ro;

	ADD_PROCESS(dev, UNIT, 4 * UNIT, &pool);
	pool_name(name, sizeof(name), getpid());
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0444);
	CHECK(fd >= 0);
	CHECK_OK(ftruncate(fd, pool.size));

	/* Not mapped at all. */
	CHECK_ERR(attach_raw(dev, fd), EINVAL);

	/* Mapped, but somewhere else. */
	m = mmap(NULL, pool.max, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	CHECK_OK(munmap(m, pool.max));

	/* At pool_addr, but private. */
	m = mmap(u2p(pool.addr), pool.max, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
	CHECK(m == u2p(pool.addr));
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	CHECK_OK(munmap(m, pool.max));

	/* At pool_addr, shared, but from offset 4096. */
	m = mmap(u2p(pool.addr), pool.max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 4096);
	CHECK(m == u2p(pool.addr));
	CHECK_ERR(attach_raw(dev, fd), EINVAL);
	CHECK_OK(munmap(m, pool.max));

	/* Mapped right, but the fd given is read-only. */
	m = mmap(u2p(pool.addr), pool.max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	CHECK(m == u2p(pool.addr));
	ro = shm_open(name, O_RDONLY, 0);
	CHECK(ro >= 0);
	CHECK_ERR(attach_raw(dev, ro), EINVAL);
	close(ro);
	CHECK_EQ(attached_flag(getpid()), 0);

	CHECK_OK(attach_raw(dev, fd));
	CHECK_EQ(attached_flag(getpid()), 1);
}

static void unattached_proc(int sock, void *arg)
{
	struct agnocast_add_publisher_args a;
	struct ag_pool pool;
	int32_t pids[2];
	int dev = AG_OPEN();

	(void)arg;
	PREPARE_POOL(dev, UNIT, 0, &pool);
	memset(&a, 0, sizeof(a));
	set_topic(a.topic, "enxio");
	a.qos.depth = 1;
	a.sub_pids = p2u(pids);
	a.sub_pids_cap = 2;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &a), ENXIO);
	TELL(sock, "unattached");
	WAIT_FOR(sock, "attach");
	CHECK_OK(attach_raw(dev, pool.shm_fd));
	CHECK_OK(ag_ioctl(dev, AGNOCAST_ADD_PUBLISHER_CMD, &a));
	TELL(sock, "attached");
	WAIT_FOR(sock, "exit");
}

TEST(enxio_before_attach)
{
	struct agnocast_pool_info info;
	struct ag_pool pool;
	struct child c;
	int dev;

	c = spawn(unattached_proc, NULL);
	WAIT_FOR(c.sock, "unattached");
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	CHECK_ERR(map_pool_raw(dev, c.pid, &info), ENXIO);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);
	CHECK_EQ(attached_flag(c.pid), 0);
	TELL(c.sock, "attach");
	WAIT_FOR(c.sock, "attached");
	CHECK_OK(map_pool_raw(dev, c.pid, &info));
	CHECK_EQ(info.pid, c.pid);
	CHECK_EQ(info.size, UNIT);
	CHECK_OK(unmap_pool_raw(dev, c.pid));
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

struct grow_ctx {
	pid_t owner;
	uint64_t addr;
};

static void grow_watcher(int sock, void *arg)
{
	struct agnocast_pool_info info, again;
	struct ag_pool pool;
	pid_t owner;
	int dev = AG_OPEN();

	(void)arg;
	RECV(sock, owner);
	JOIN(dev, UNIT, 0, &pool);
	MAP_PEER(dev, owner, &info);
	CHECK_EQ(info.size, UNIT);
	CHECK_EQ(info.max, 4 * UNIT);
	TELL(sock, "mapped");
	WAIT_FOR(sock, "grown");
	/* The new pages are readable through the mapping made before. */
	CHECK_MSG(info.addr + 3 * UNIT - 64, owner, 42);
	CHECK_OK(map_pool_raw(dev, owner, &again));
	CHECK_EQ(again.size, 3 * UNIT);
	CHECK_EQ(again.addr, info.addr);
	CHECK_EQ(again.max, info.max);
	CHECK_OK(unmap_pool_raw(dev, owner));
	UNMAP_PEER(dev, &info);
	TELL(sock, "done");
}

TEST(pool_growth)
{
	struct ag_pool pool;
	struct status st;
	struct child w;
	pid_t me = getpid();
	int dev;

	w = spawn(grow_watcher, NULL);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 4 * UNIT, &pool);
	SEND(w.sock, me);
	WAIT_FOR(w.sock, "mapped");
	CHECK_OK(ftruncate(pool.shm_fd, 3 * UNIT));
	write_msg(pool.addr + 3 * UNIT - 64, 42);
	TELL(w.sock, "grown");
	WAIT_FOR(w.sock, "done");
	REAP_OK(w.pid);
	STATUS_READ(&st);
	CHECK_EQ(ST_U64(ST_PROC(&st, me), "size"), 3 * UNIT);
	status_free(&st);
}
