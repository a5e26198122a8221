// SPDX-License-Identifier: Apache-2.0
/*
 * Pool identity: MAP_POOL hands out the very file the owner attached,
 * whatever happens to its name. With the owner's name renamed away and an
 * imposter's file (another user's) put under "/agnocast@<owner>", mappers
 * still read the owner's memory; MAP_POOL by address gives the same pool;
 * the descriptor is read-only (no shared writable mapping, no mprotect to
 * write, no write, no resize; a write through the mapping kills the
 * writer); the owner's end does not unlink the imposter's file; one's own
 * pool gives no descriptor.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define OWNER_MAGIC	0x4f574e45524d454dull	/* "MEMREWNO" */
#define IMPOSTER_MAGIC	0x5245545345504d49ull	/* "IMPOSTER" */
#define NOBODY		65534

static int map_raw(int dev, pid_t pid, uint64_t addr,
		   struct agnocast_map_pool_args *a)
{
	memset(a, 0, sizeof(*a));
	a->pool.pid = pid;
	a->pool.addr = addr;
	a->fd = -2;
	return ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, a);
}

static int unmap_by_addr(int dev, uint64_t addr)
{
	struct agnocast_unmap_pool_args a;

	memset(&a, 0, sizeof(a));
	a.addr = addr;
	return ag_ioctl(dev, AGNOCAST_UNMAP_POOL_CMD, &a);
}

/* Map a MAP_POOL descriptor the way the header says; closes fd. */
static void *map_ro(const struct agnocast_pool_info *p, int fd)
{
	void *m = mmap(u2p(p->addr), p->max, PROT_READ,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);

	if (m != u2p(p->addr))
		FAIL("mmap of the pool descriptor at 0x%llx: %p (%s)",
		     (unsigned long long)p->addr, m, errname(errno));
	close(fd);
	return m;
}

/* The owner's magic at the start and at the end of its current size. */
static void check_owner_memory(const struct agnocast_pool_info *p)
{
	const volatile uint64_t *first = u2p(p->addr);
	const volatile uint64_t *last = u2p(p->addr + p->size - 8);

	CHECK_EQ(*first, OWNER_MAGIC);
	CHECK_EQ(*last, OWNER_MAGIC ^ 1);
}

static void renamed_name(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "/dev/shm/agnocast-ktest-renamed@%d", (int)pid);
}

/* A: joins, writes its magic; "rename" moves its name away. */
static void pool_owner(int sock, void *arg)
{
	char from[64], to[64];
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, 2 * UNIT, 4 * UNIT, &pool);
	*(volatile uint64_t *)u2p(pool.addr) = OWNER_MAGIC;
	*(volatile uint64_t *)u2p(pool.addr + pool.size - 8) = OWNER_MAGIC ^ 1;
	SEND(sock, pool);
	for (;;) {
		char cmd[24];

		RECV(sock, cmd);
		if (strcmp(cmd, "rename"))
			break;
		snprintf(from, sizeof(from), "/dev/shm/agnocast@%d", (int)getpid());
		renamed_name(to, sizeof(to), getpid());
		CHECK_OK(rename(from, to));
		TELL(sock, "renamed");
	}
}

static void become_nobody(void)
{
	CHECK_OK(setgroups(0, NULL));
	CHECK_OK(setresgid(NOBODY, NOBODY, NOBODY));
	CHECK_OK(setresuid(NOBODY, NOBODY, NOBODY));
}

struct imposter_arg {
	pid_t owner;
	struct ag_pool pool;	/* the owner's */
};

/*
 * Another user: puts its own file under the owner's name, then joins and
 * maps the owner's pool by pid.
 */
static void imposter(int sock, void *arg)
{
	struct imposter_arg *a = arg;
	struct agnocast_map_pool_args mp;
	struct ag_pool mine;
	struct stat fake_st, real_st;
	char name[64], path[64];
	volatile uint64_t *fake;
	int dev = AG_OPEN(), fd;

	become_nobody();
	pool_name(name, sizeof(name), a->owner);
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0644);
	CHECK(fd >= 0);
	CHECK_OK(ftruncate(fd, a->pool.max));
	fake = mmap(NULL, a->pool.max, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(fake != MAP_FAILED);
	fake[0] = IMPOSTER_MAGIC;
	fake[a->pool.size / 8 - 1] = IMPOSTER_MAGIC;
	CHECK_OK(fstat(fd, &fake_st));
	close(fd);

	JOIN(dev, UNIT, 0, &mine);
	CHECK_OK(map_raw(dev, a->owner, 0, &mp));
	CHECK_EQ(mp.pool.pid, a->owner);
	CHECK_EQ(mp.pool.addr, a->pool.addr);
	CHECK_EQ(mp.pool.size, a->pool.size);
	CHECK_EQ(mp.pool.max, a->pool.max);
	CHECK(mp.fd >= 0);
	CHECK_OK(fstat(mp.fd, &real_st));
	CHECK(real_st.st_ino != fake_st.st_ino);
	CHECK_EQ(real_st.st_uid, 0);
	/* Not reopenable for writing by another user, nor made writable. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mp.fd);
	CHECK_ERR(open(path, O_RDWR | O_CLOEXEC), EACCES);
	CHECK_ERR(fchmod(mp.fd, 0666), EPERM);
	map_ro(&mp.pool, mp.fd);
	check_owner_memory(&mp.pool);
	TELL(sock, "mapped");
	WAIT_FOR(sock, "exit");
}

TEST(map_pool_ignores_the_name)
{
	struct agnocast_map_pool_args mp;
	struct imposter_arg ia;
	struct ag_pool mine;
	struct status st;
	const struct st_rec *r;
	char name[64], renamed[64];
	volatile uint64_t *imp;
	struct child a, i;
	int dev = AG_OPEN(), fd, renamed_gone;

	a = spawn(pool_owner, NULL);
	RECV(a.sock, ia.pool);
	ia.owner = a.pid;
	TELL(a.sock, "rename");
	WAIT_FOR(a.sock, "renamed");
	CHECK(!shm_exists(a.pid));

	i = spawn(imposter, &ia);
	WAIT_FOR(i.sock, "mapped");
	/* The name now holds the imposter's file. */
	pool_name(name, sizeof(name), a.pid);
	fd = shm_open(name, O_RDONLY, 0);
	CHECK(fd >= 0);
	imp = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(imp != MAP_FAILED);
	close(fd);
	CHECK_EQ(imp[0], IMPOSTER_MAGIC);

	/* Root maps it by pid too: the owner's memory. */
	JOIN(dev, UNIT, 0, &mine);
	CHECK_OK(map_raw(dev, a.pid, 0, &mp));
	CHECK_EQ(mp.pool.addr, ia.pool.addr);
	map_ro(&mp.pool, mp.fd);
	check_owner_memory(&mp.pool);

	/* The owner ends: the imposter's file keeps its name. */
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
	CHECK(shm_exists(a.pid));
	CHECK_EQ(imp[0], IMPOSTER_MAGIC);
	/* Our mapping keeps the owner's memory; our declaration its range. */
	check_owner_memory(&mp.pool);
	STATUS_READ(&st);
	r = ST_PROC(&st, a.pid);
	CHECK(st_str(r, "state") && !strcmp(st_str(r, "state"), "exited"));
	CHECK_EQ(ST_U64(r, "mappers"), 2);
	status_free(&st);
	renamed_name(renamed, sizeof(renamed), a.pid);
	renamed_gone = access(renamed, F_OK) != 0;
	note("the owner's renamed pool file was %s at its end",
	     renamed_gone ? "unlinked by the module" : "left in place");

	TELL(i.sock, "exit");
	REAP_OK(i.pid);
	/* Still the imposter's, still there after the imposter's end too. */
	CHECK(shm_exists(a.pid));
	CHECK_EQ(imp[0], IMPOSTER_MAGIC);
	munmap((void *)imp, 4096);
	CHECK_OK(munmap(u2p(mp.pool.addr), mp.pool.max));
	CHECK_OK(unmap_pool_raw(dev, a.pid));
	CHECK_OK(shm_unlink(name));
	if (!renamed_gone)
		CHECK_OK(unlink(renamed));
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

TEST(map_pool_by_address)
{
	struct agnocast_map_pool_args mp, mp2;
	struct ag_pool mine, owner;
	struct child a;
	int dev = AG_OPEN(), free_fd;

	a = spawn(pool_owner, NULL);
	RECV(a.sock, owner);
	JOIN(dev, UNIT, 0, &mine);

	/* The last byte of the reserved length names the pool ... */
	CHECK_OK(map_raw(dev, 0, owner.addr + owner.max - 1, &mp));
	CHECK_EQ(mp.pool.pid, a.pid);
	CHECK_EQ(mp.pool.addr, owner.addr);
	CHECK_EQ(mp.pool.size, owner.size);
	CHECK_EQ(mp.pool.max, owner.max);
	CHECK(mp.fd >= 0);
	map_ro(&mp.pool, mp.fd);
	check_owner_memory(&mp.pool);
	/* ... and so does its first, with a descriptor of the same file. */
	CHECK_OK(map_raw(dev, 0, owner.addr, &mp2));
	CHECK_EQ(mp2.pool.pid, a.pid);
	CHECK(mp2.fd >= 0);
	{
		struct stat s1, s2;
		int fd1;

		CHECK_OK(map_raw(dev, a.pid, 0, &mp));
		fd1 = mp.fd;
		CHECK_OK(fstat(fd1, &s1));
		CHECK_OK(fstat(mp2.fd, &s2));
		CHECK_EQ(s1.st_ino, s2.st_ino);
		CHECK_EQ(s1.st_dev, s2.st_dev);
		close(fd1);
		close(mp2.fd);
	}
	/* One declaration, made three times. */
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);

	/* Past the reserved length, or outside every pool: nothing. */
	free_fd = lowest_free_fd();
	CHECK_ERR(map_raw(dev, 0, owner.addr + owner.max, &mp2), ENOENT);
	CHECK_ERR(map_raw(dev, 0, AGNOCAST_POOL_BASE - 1, &mp2), ENOENT);
	CHECK_ERR(map_raw(dev, 0, 0, &mp2), ENOENT);
	CHECK_ERR(map_raw(dev, 0, AGNOCAST_POOL_LIMIT, &mp2), ENOENT);
	CHECK_EQ(lowest_free_fd(), free_fd);

	/* UNMAP_POOL by address too, once per MAP_POOL. */
	CHECK_OK(unmap_by_addr(dev, owner.addr + 1));
	CHECK_OK(unmap_by_addr(dev, owner.addr + owner.max - 1));
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	CHECK_OK(unmap_by_addr(dev, owner.addr));
	CHECK_ERR(unmap_by_addr(dev, owner.addr), EINVAL);
	CHECK_ERR(unmap_by_addr(dev, owner.addr + owner.max), ENOENT);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 0);
	CHECK_OK(munmap(u2p(owner.addr), owner.max));
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
}

static void writer(int sock, void *arg)
{
	struct rlimit no_core = { 0, 0 };
	uint64_t addr = *(uint64_t *)arg;

	setrlimit(RLIMIT_CORE, &no_core);
	TELL(sock, "writing");
	*(volatile uint64_t *)u2p(addr) = IMPOSTER_MAGIC;
	FAIL("wrote into the read-only mapping of another process's pool");
}

TEST(pool_descriptor_is_read_only)
{
	struct agnocast_map_pool_args mp;
	struct ag_pool mine, owner;
	struct child a, w;
	volatile uint64_t *priv;
	void *m;
	int dev = AG_OPEN(), fd, fl;

	a = spawn(pool_owner, NULL);
	RECV(a.sock, owner);
	JOIN(dev, UNIT, 0, &mine);
	CHECK_OK(map_raw(dev, a.pid, 0, &mp));
	fd = mp.fd;
	fl = fcntl(fd, F_GETFL);
	CHECK(fl >= 0);
	CHECK_EQ(fl & O_ACCMODE, O_RDONLY);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	/* No shared writable mapping, at its address or anywhere. */
	CHECK(mmap(NULL, owner.max, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
	      MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	CHECK(mmap(u2p(owner.addr), owner.max, PROT_WRITE,
		   MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0) == MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	/* No write, no resize through it. */
	CHECK_ERR(write(fd, "x", 1), EBADF);
	CHECK_ERR(pwrite(fd, "x", 1, 0), EBADF);
	CHECK_ERR(ftruncate(fd, 0), EINVAL);
	CHECK_ERR(fallocate(fd, 0, 0, 2 * owner.max), EBADF);

	/* A private writable mapping is a copy: the pool is untouched. */
	priv = mmap(NULL, owner.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(priv != MAP_FAILED);
	CHECK_EQ(priv[0], OWNER_MAGIC);
	priv[0] = IMPOSTER_MAGIC;
	CHECK_OK(munmap((void *)priv, owner.size));

	m = mmap(u2p(owner.addr), owner.max, PROT_READ,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	CHECK(m == u2p(owner.addr));
	close(fd);
	check_owner_memory(&mp.pool);
	CHECK_ERR(mprotect(m, owner.max, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERR(mprotect(m, 4096, PROT_WRITE), EACCES);

	/* Writing through the mapping kills the writer, and only it. */
	w = spawn(writer, &owner.addr);
	WAIT_FOR(w.sock, "writing");
	REAP_SIGNALED(w.pid, SIGSEGV);
	check_owner_memory(&mp.pool);
	CHECK_STATUS_TOTALS(2, 0, 0, 0, 0, 1);
	CHECK_OK(munmap(m, owner.max));
	CHECK_OK(unmap_pool_raw(dev, a.pid));
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
}

TEST(own_pool_gives_no_descriptor)
{
	struct agnocast_map_pool_args mp;
	struct ag_pool mine;
	int dev = AG_OPEN(), free_fd;

	JOIN(dev, 2 * UNIT, 3 * UNIT, &mine);
	free_fd = lowest_free_fd();
	CHECK_OK(map_raw(dev, getpid(), 0, &mp));
	CHECK_EQ(mp.fd, -1);
	CHECK_EQ(mp.pool.pid, getpid());
	CHECK_EQ(mp.pool.addr, mine.addr);
	CHECK_EQ(mp.pool.size, mine.size);
	CHECK_EQ(mp.pool.max, mine.max);
	CHECK_OK(map_raw(dev, 0, mine.addr + 5, &mp));
	CHECK_EQ(mp.fd, -1);
	CHECK_EQ(mp.pool.pid, getpid());
	CHECK_EQ(lowest_free_fd(), free_fd);
	/* Nothing declared, so nothing to undo. */
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
	CHECK_ERR(unmap_pool_raw(dev, getpid()), EINVAL);
	CHECK_ERR(unmap_by_addr(dev, mine.addr), EINVAL);
}
