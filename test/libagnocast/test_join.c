// SPDX-License-Identifier: Apache-2.0
/*
 * Joining and leaving: the pool as the contract says (file 0444, mapped
 * rw-s at the assigned address, attached), a second join, sizes from the
 * environment, every documented error with its message, leave().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lt.h"

TEST(join_fresh_then_existing)
{
	struct agnocast_join_opts o = { .pool_size = UNIT + 1, .pool_max = 3 * UNIT, .dev_fd = -1 };
	struct agnocast_version_args v;
	struct agnocast_pool p, q;
	char path[64], line[512];
	struct status st;
	const struct st_rec *r;
	struct stat sb, fb;

	LIB_OK(agnocast_version(&v));
	CHECK_EQ(v.abi, AGNOCAST_ABI_VERSION);
	CHECK_EQ(LIB_OK(agnocast_join(&o)), 0);
	LIB_OK(agnocast_pool_info(&p));
	CHECK_EQ(p.pid, getpid());
	CHECK_EQ(p.size, 2 * UNIT);
	CHECK_EQ(p.max, 3 * UNIT);
	CHECK(p.addr >= AGNOCAST_POOL_BASE && p.addr % AGNOCAST_POOL_ALIGN == 0);
	CHECK(!(p.flags & AGNOCAST_POOL_IS_HEAP));
	/* The file: mode 0444 from birth, the pool's size, our read-write descriptor. */
	snprintf(path, sizeof(path), "/dev/shm/agnocast@%d", (int)getpid());
	CHECK_OK(stat(path, &sb));
	CHECK_EQ(sb.st_mode & 0777, 0444);
	CHECK_EQ(sb.st_size, p.size);
	CHECK_OK(fstat(p.pool_fd, &fb));
	CHECK(fb.st_ino == sb.st_ino && (fcntl(p.pool_fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	/* Mapped shared and writable at the assigned address. */
	lt_maps_line(getpid(), p.addr, line, sizeof(line));
	CHECK(strstr(line, " rw-s ") && strstr(line, path + 8), "maps: %s", line);
	/* The module agrees: attached there. */
	STATUS_READ(&st);
	r = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(r, "addr"), p.addr);
	CHECK_EQ(ST_U64(r, "attached"), 1);
	status_free(&st);
	/* Again: the same pool, the sizes ignored. */
	o.pool_size = 7 * UNIT;
	CHECK_EQ(LIB_OK(agnocast_join(&o)), 1);
	LIB_OK(agnocast_pool_info(&q));
	CHECK(q.addr == p.addr && q.size == p.size && q.max == p.max);
	CHECK_EQ(LIB_OK(agnocast_join(NULL)), 1);
}

TEST(join_sizes_from_the_environment)
{
	struct agnocast_pool p;
	uint64_t size, max;

	CHECK_OK(setenv("AGNOCAST_MEMPOOL_SIZE", "300K", 1));
	unsetenv("AGNOCAST_MEMPOOL_MAX");
	LIB_OK(agnocast_env_sizes(&size, &max));
	CHECK_EQ(size, 300 << 10);
	CHECK_EQ(max, 1ULL << 30);	/* 16 x the size, at least 1G */
	CHECK_EQ(LIB_OK(agnocast_join(NULL)), 0);
	LIB_OK(agnocast_pool_info(&p));
	CHECK_EQ(p.size, 3 * UNIT);
	CHECK_EQ(p.max, 10486 * UNIT);	/* 1 GiB rounded up to the unit */
}

TEST(size_syntax_and_environment_errors)
{
	static const char *const bad[] = { "", "garbage", "1.5M", "10 M", "-1", "12Q",
					    "99999999999999999999999", NULL };
	uint64_t v, size, max;

	CHECK_EQ(LIB_OK(agnocast_parse_size("64K", &v)), 0);
	CHECK_EQ(v, 64 << 10);
	LIB_OK(agnocast_parse_size("2GiB", &v));
	CHECK_EQ(v, 2ULL << 30);
	LIB_OK(agnocast_parse_size("1t", &v));
	CHECK_EQ(v, 1ULL << 40);
	for (const char *const *s = bad; *s; s++)
		CHECK_EQ(agnocast_parse_size(*s, &v), -EINVAL);
	CHECK_OK(setenv("AGNOCAST_MEMPOOL_SIZE", "garbage", 1));
	LIB_ERR(agnocast_env_sizes(&size, &max), EINVAL, "AGNOCAST_MEMPOOL_SIZE=\"garbage\"");
	LIB_ERR(agnocast_join(NULL), EINVAL, "is not a size");
	CHECK_OK(setenv("AGNOCAST_MEMPOOL_SIZE", "2M", 1));
	CHECK_OK(setenv("AGNOCAST_MEMPOOL_MAX", "1M", 1));
	LIB_ERR(agnocast_env_sizes(&size, &max), EINVAL, "raise it or unset it");
	CHECK_OK(setenv("AGNOCAST_MEMPOOL_MAX", "0", 1));
	LIB_ERR(agnocast_env_sizes(&size, &max), EINVAL, "AGNOCAST_MEMPOOL_MAX");
}

TEST(join_argument_errors)
{
	struct agnocast_join_opts o = { .pool_size = 2 * UNIT, .pool_max = UNIT, .dev_fd = -1 };

	LIB_ERR(agnocast_join(&o), EINVAL, "raise pool_max");
	o = (struct agnocast_join_opts){ .pool_size = AGNOCAST_POOL_SIZE_MAX + 1,
					 .pool_max = AGNOCAST_POOL_SIZE_MAX + 1, .dev_fd = -1 };
	LIB_ERR(agnocast_join(&o), E2BIG, "AGNOCAST_POOL_SIZE_MAX");
	/* Nothing was joined: a correct join is a fresh one. */
	LT_JOIN(UNIT, 0);
}

TEST(calls_before_joining_say_so)
{
	struct agnocast_publisher *pub;
	struct agnocast_subscriber *sub;
	struct agnocast_pool p;

	LIB_ERR(agnocast_pool_info(&p), ESRCH, "call agnocast_join() first");
	LIB_ERR(agnocast_publisher_create("/lt/x", NULL, &pub), ESRCH, "has not joined");
	LIB_ERR(agnocast_subscriber_create("/lt/x", NULL, &sub), ESRCH, "has not joined");
	LIB_ERR(agnocast_map_pool(1, 0, NULL), ESRCH, "has not joined");
	LIB_ERR(agnocast_events_fd(), ESRCH, "has not joined");
	LIB_ERR(agnocast_reclaim(), ESRCH, "has not joined");
	LIB_ERR(agnocast_leave(), ESRCH, "has not joined");
	LIB_ERR(agnocast_discovery_create(), ESRCH, "has not joined");
	errno = 0;
	CHECK(agnocast_alloc(16) == NULL && errno == ESRCH);
	CHECK(strstr(agnocast_last_error(), "agnocast_join"), "%s", agnocast_last_error());
	CHECK(!strcmp(agnocast_last_error_op(), "agnocast_alloc"), "%s", agnocast_last_error_op());
}

/* Joined by hand, no pool attached yet: the library finishes the join. */
TEST(join_made_by_hand_without_a_pool_is_finished)
{
	struct agnocast_add_process_args a = { .pool_size = UNIT, .pool_max = 2 * UNIT };
	struct agnocast_pool p;
	struct status st;
	int dev = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	CHECK(dev >= 0);
	CHECK_OK(ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a));
	CHECK_EQ(LIB_OK(agnocast_join(NULL)), 0);
	LIB_OK(agnocast_pool_info(&p));
	CHECK(p.addr == a.pool_addr && p.max == a.pool_max, "the registration's pool");
	STATUS_READ(&st);
	CHECK_EQ(ST_U64(ST_PROC(&st, getpid()), "attached"), 1);
	status_free(&st);
	close(dev);
}

/* Joined by hand with a pool: someone else's, refused. */
TEST(join_made_by_hand_with_a_pool_is_refused)
{
	struct agnocast_add_process_args a = { .pool_size = UNIT };
	struct agnocast_attach_pool_args at = { 0 };
	int dev = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	char name[64];
	void *m;

	CHECK(dev >= 0);
	CHECK_OK(ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a));
	snprintf(name, sizeof(name), "/agnocast@%d", (int)getpid());
	at.fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	CHECK(at.fd >= 0 && ftruncate(at.fd, (off_t)a.pool_size) == 0, "%s: %m", name);
	m = mmap((void *)(uintptr_t)a.pool_addr, a.pool_max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, at.fd, 0);
	CHECK(m == (void *)(uintptr_t)a.pool_addr, "mmap: %m");
	CHECK_OK(ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at));
	LIB_ERR(agnocast_join(NULL), EBUSY, "outside this library");
	close(dev);
}

TEST(join_over_the_users_quota_edquot)
{
	PARAM_SET("max_procs_per_user", 0);
	LIB_ERR(agnocast_join(NULL), EDQUOT, "max_procs_per_user");
}

static void unprivileged(int sock, void *arg)
{
	struct agnocast_version_args v;

	(void)sock;
	(void)arg;
	CHECK_OK(setgroups(0, NULL));
	CHECK_OK(setgid(65534));
	CHECK_OK(setuid(65534));
	LIB_ERR(agnocast_version(&v), EACCES, "udev rule");
	LIB_ERR(agnocast_join(NULL), EACCES, "readable and writable by this user");
}

TEST(device_not_ours_eacces)
{
	struct stat sb;
	struct child c;

	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &sb));
	if (sb.st_mode & 0006)
		skip("the module was loaded with device_mode giving others access");
	c = spawn(unprivileged, NULL);
	REAP_OK(c.pid);
}

TEST(leave_removes_everything_but_the_pool)
{
	struct agnocast_publisher *pub;
	struct agnocast_subscriber *sub;
	struct agnocast_totals t;
	struct agnocast_pool p = LT_JOIN(UNIT, 0), q;
	char queue[64];

	LIB_OK(agnocast_subscriber_create("/lt/leave", NULL, &sub));
	LIB_OK(agnocast_publisher_create("/lt/leave", NULL, &pub));
	snprintf(queue, sizeof(queue), "/dev/mqueue/new_publisher@%d", (int)getpid());
	CHECK(access(queue, F_OK) == 0);
	LIB_OK(agnocast_leave());
	t = LT_TOTALS();
	CHECK(t.processes == 1 && t.topics == 0 && t.publishers == 0 && t.subscribers == 0);
	CHECK(access(queue, F_OK) != 0 && errno == ENOENT, "%s is left", queue);
	LIB_ERR(agnocast_publish(pub, LT_TEXT("x"), 2, NULL), ESRCH, "removed by agnocast_leave()");
	LIB_OK(agnocast_publisher_destroy(pub));
	LIB_OK(agnocast_subscriber_destroy(sub));
	/* Still joined, with the same pool. */
	CHECK_EQ(LIB_OK(agnocast_join(NULL)), 1);
	LIB_OK(agnocast_pool_info(&q));
	CHECK_EQ(q.addr, p.addr);
}

static long delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

/* Runs last: it unloads the module and loads it again. */
TEST_LAST(module_not_loaded_enoent)
{
	struct agnocast_version_args v;
	int ko;

	if (!g_ko_path)
		skip("no --ko PATH given");
	ko = open(g_ko_path, O_RDONLY | O_CLOEXEC);
	CHECK(ko >= 0, "%s: %m", g_ko_path);
	CHECK_OK(delete_module("agnocast"));
	LIB_ERR(agnocast_version(&v), ENOENT, "module is not loaded");
	LIB_ERR(agnocast_join(NULL), ENOENT, "sudo insmod");
	CHECK(!strcmp(agnocast_last_error_op(), "open " AGNOCAST_DEVICE_PATH));
	CHECK_OK(syscall(SYS_finit_module, ko, "", 0));
	close(ko);
	LIB_OK(agnocast_version(&v));
}
