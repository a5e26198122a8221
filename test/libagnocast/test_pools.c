// SPDX-License-Identifier: Apache-2.0
/*
 * Other processes' pools: mapped on the first entry from an unknown pool,
 * kept while an entry over it is held after its owner was SIGKILLed, then
 * unmapped; a pool whose owner's pid is not visible here, mapped by an
 * entry's address; agnocast_map_pool / agnocast_unmap_pool by pid and by
 * address, and their errors; a kept pool of an owner that is gone is not
 * replaced by a newer pool at its range; a pool whose range is taken here
 * is refused with an error that names what is in the way.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt.h"

/* Joins (no discovery queue), publishes "held text" on arg's topic when told "pub", then waits. */
static void quiet_publisher(int sock, void *arg)
{
	struct agnocast_join_opts o = { .pool_size = UNIT, .pool_max = UNIT, .dev_fd = -1 };
	struct agnocast_publisher *pub;
	struct agnocast_pool p;

	LIB_OK(agnocast_join(&o));
	LIB_OK(agnocast_pool_info(&p));
	LIB_OK(agnocast_publisher_create(arg, QOS(4, 0), &pub));
	SEND(sock, p.addr);
	WAIT_FOR(sock, "pub");
	LIB_OK(agnocast_publish(pub, LT_TEXT("held text"), 10, NULL));
	TELL(sock, "published");
	WAIT_FOR(sock, "exit");
}

TEST(owner_sigkilled_while_held_then_unmapped_after_release)
{
	struct agnocast_join_opts o = { .pool_size = UNIT, .pool_max = UNIT, .dev_fd = -1,
					.flags = AGNOCAST_OPT_NO_DISCOVERY };
	struct agnocast_pool_info pools[4];
	struct agnocast_subscriber *sub;
	struct agnocast_entry e;
	struct child p;
	char line[512], name[64];
	uint64_t addr;

	LIB_OK(agnocast_join(&o));
	LIB_OK(agnocast_subscriber_create("/lt/pools/kill", QOS(4, 0), &sub));
	CHECK_EQ(lt_mapped(pools, 4), 0);
	p = spawn(quiet_publisher, "/lt/pools/kill");
	RECV(p.sock, addr);
	/* No discovery queue: the pool is learnt from the first entry. */
	TELL(p.sock, "pub");
	WAIT_FOR(p.sock, "published");
	CHECK_EQ(lt_mapped(pools, 4), 0);
	CHECK(lt_poll(agnocast_subscriber_fd(sub), POLLIN) & POLLIN);
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	CHECK_EQ(lt_mapped(pools, 4), 1);
	CHECK(pools[0].pid == p.pid && pools[0].addr == addr);
	KILL_REAP(p.pid);
	/* Held: still readable, still mapped, whatever the events say. */
	CHECK(!strcmp(agnocast_entry_data(&e), "held text"));
	CHECK(lt_poll(LIB_OK(agnocast_events_fd()), POLLIN) & POLLIN, "the owner's pidfd");
	LIB_OK(agnocast_handle_events());
	CHECK_EQ(lt_mapped(pools, 4), 1);
	CHECK(!strcmp(agnocast_entry_data(&e), "held text"));
	LIB_OK(agnocast_release(sub, &e));
	CHECK_EQ(lt_mapped(pools, 4), 0);
	snprintf(name, sizeof(name), "agnocast@%d", (int)p.pid);
	CHECK(!strstr(lt_maps_line(getpid(), addr, line, sizeof(line)), name), "still mapped: %s", line);
	CHECK_EQ(LT_TOTALS().mappings, 0);
	LIB_OK(agnocast_subscriber_destroy(sub));
}

/* In a pid namespace of its own: the publisher's pid is 0 here. */
static void invisible_reader(int sock, void *arg)
{
	struct agnocast_join_opts o = { .pool_size = UNIT, .pool_max = UNIT, .dev_fd = -1,
					.flags = AGNOCAST_OPT_NO_DISCOVERY };
	struct agnocast_pool_info pools[4];
	struct agnocast_subscriber *sub;
	struct agnocast_entry e;

	(void)arg;
	CHECK_EQ(getpid(), 1);
	LIB_OK(agnocast_join(&o));
	LIB_OK(agnocast_subscriber_create("/lt/pools/invisible", QOS(4, 0), &sub));
	CHECK_EQ(lt_mapped(pools, 4), 0);	/* listed with pid 0: left to its entries */
	TELL(sock, "subscribed");
	CHECK(lt_poll(agnocast_subscriber_fd(sub), POLLIN) & POLLIN);
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	CHECK_EQ(e.pid, 0);
	CHECK(!strcmp(agnocast_entry_data(&e), "held text"));
	CHECK_EQ(lt_mapped(pools, 4), 1);
	CHECK(pools[0].pid == 0 && e.addr >= pools[0].addr && e.addr < pools[0].addr + pools[0].max);
	/* Nobody to watch: unmapped once nothing over it is held. */
	LIB_OK(agnocast_release(sub, &e));
	CHECK_EQ(lt_mapped(pools, 4), 0);
	LIB_OK(agnocast_subscriber_destroy(sub));
	TELL(sock, "done");
}

TEST(owner_invisible_here_mapped_by_address)
{
	struct child p = spawn(quiet_publisher, "/lt/pools/invisible"), r;
	uint64_t addr;

	RECV(p.sock, addr);
	CHECK_OK(unshare(CLONE_NEWPID));
	r = spawn(invisible_reader, NULL);
	WAIT_FOR(r.sock, "subscribed");
	TELL(p.sock, "pub");
	WAIT_FOR(p.sock, "published");
	WAIT_FOR(r.sock, "done");
	REAP_OK(r.pid);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}

TEST(map_pool_and_unmap_pool)
{
	struct child p = spawn(quiet_publisher, "/lt/pools/map");
	struct agnocast_pool_info info, again, own, pools[4];
	struct agnocast_subscriber *sub;
	struct agnocast_entry e;
	struct agnocast_pool me = LT_JOIN(UNIT, 0);
	uint64_t addr;

	RECV(p.sock, addr);
	LIB_OK(agnocast_map_pool(p.pid, 0, &info));
	CHECK(info.pid == p.pid && info.addr == addr && info.max == UNIT && info.size == UNIT);
	CHECK(agnocast_readable((void *)(uintptr_t)addr, UNIT));
	/* Mapped once, declared once, whether named by pid or by an address inside. */
	LIB_OK(agnocast_map_pool(p.pid, 0, &again));
	LIB_OK(agnocast_map_pool(0, addr + 100, &again));
	CHECK_EQ(again.addr, addr);
	CHECK_EQ(LT_TOTALS().mappings, 1);
	CHECK_EQ(lt_mapped(pools, 4), 1);
	/* Our own pool: its geometry, nothing mapped. */
	LIB_OK(agnocast_map_pool(getpid(), 0, &own));
	CHECK(own.addr == me.addr && own.max == me.max);
	CHECK_EQ(lt_mapped(pools, 4), 1);
	/* Held: refused. */
	LIB_OK(agnocast_subscriber_create("/lt/pools/map", QOS(4, 0), &sub));
	TELL(p.sock, "pub");
	WAIT_FOR(p.sock, "published");
	CHECK(lt_poll(agnocast_subscriber_fd(sub), POLLIN) & POLLIN);
	CHECK_EQ(LIB_OK(agnocast_receive(sub, &e, 1)), 1);
	LIB_ERR(agnocast_unmap_pool(addr), EBUSY, "release them first");
	LIB_OK(agnocast_release(sub, &e));
	LIB_OK(agnocast_unmap_pool(addr));
	CHECK_EQ(lt_mapped(pools, 4), 0);
	CHECK(!agnocast_readable((void *)(uintptr_t)addr, 1));
	CHECK_EQ(LT_TOTALS().mappings, 0);
	LIB_ERR(agnocast_unmap_pool(addr), ENOENT, "no pool of another process is mapped");
	LIB_ERR(agnocast_map_pool(1, 0, NULL), ENOENT, "AGNOCAST_MAP_POOL_CMD");
	LIB_ERR(agnocast_map_pool(-1, 0, NULL), EINVAL, "name a pool by pid > 0");
	LIB_OK(agnocast_subscriber_destroy(sub));
	LIB_OK(agnocast_leave());
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}

struct other_pool {
	const char *text;	/* written at the pool's start */
	uint64_t clear;		/* a range inherited from the test, unmapped first */
};

/*
 * As user 65534, so that the test's declarations do not keep its range
 * (another user's do not): joins, writes the text at its pool's start,
 * sends the pool's address, waits.
 */
static void other_users_pool(int sock, void *arg)
{
	const struct other_pool *op = arg;
	int fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	struct agnocast_join_opts o = { .pool_size = UNIT, .pool_max = UNIT, .dev_fd = fd,
					.flags = AGNOCAST_OPT_NO_DISCOVERY };
	struct agnocast_pool p;

	CHECK(fd >= 0, "open %s", AGNOCAST_DEVICE_PATH);
	if (op->clear)	/* else the module would place our pool past it */
		CHECK_OK(munmap((void *)(uintptr_t)op->clear, UNIT));
	CHECK_OK(setgroups(0, NULL));
	CHECK_OK(setgid(65534));
	CHECK_OK(setuid(65534));
	LIB_OK(agnocast_join(&o));
	LIB_OK(agnocast_pool_info(&p));
	strcpy((char *)(uintptr_t)p.addr, op->text);
	SEND(sock, p.addr);
	WAIT_FOR(sock, "exit");
}

/*
 * The fuzzer found a kept mapping swapped under a reader: the owner of a
 * pool mapped with agnocast_map_pool exits, its range goes to a newer
 * pool, and mapping that one used to drop the kept one silently, so the
 * reader's pointers read the newer pool's bytes. EBUSY now, until the
 * program unmaps the kept one.
 */
TEST(kept_pool_is_not_replaced_by_a_newer_one_at_its_range)
{
	struct other_pool pa = { "pool A", 0 }, pc = { "pool C", 0 };
	struct agnocast_pool_info info;
	struct child a, c;
	uint64_t addr_a, addr_c;

	LT_JOIN(UNIT, 0);
	a = spawn(other_users_pool, &pa);
	RECV(a.sock, addr_a);
	LIB_OK(agnocast_map_pool(a.pid, 0, &info));
	CHECK(!strcmp((const char *)(uintptr_t)addr_a, "pool A"));
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
	pc.clear = addr_a;
	c = spawn(other_users_pool, &pc);
	RECV(c.sock, addr_c);
	CHECK_EQ(addr_c, addr_a);	/* the range went to the newer pool */
	LIB_ERR(agnocast_map_pool(c.pid, 0, &info), EBUSY, "agnocast_unmap_pool() it first");
	CHECK(!strcmp((const char *)(uintptr_t)addr_a, "pool A"), "the kept pool was replaced: %.8s",
	      (const char *)(uintptr_t)addr_a);
	LIB_OK(agnocast_unmap_pool(addr_a));
	LIB_OK(agnocast_map_pool(c.pid, 0, &info));
	CHECK(info.pid == c.pid && info.addr == addr_c);
	CHECK(!strcmp((const char *)(uintptr_t)addr_c, "pool C"));
	LIB_OK(agnocast_unmap_pool(addr_c));
	LIB_OK(agnocast_leave());
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

/*
 * Something of this process lies in a publisher's range (the module
 * keeps only the owner's own mappings out of it): the pool cannot be
 * mapped at its address, and the error says what is there, as
 * /proc/self/maps lists it, and nothing stays declared.
 */
TEST(pool_range_taken_here_is_refused_and_named)
{
	struct child p = spawn(quiet_publisher, "/lt/pools/taken");
	struct agnocast_pool_info info;
	char want[128];
	uint64_t addr;
	void *m;

	LT_JOIN(UNIT, 0);
	RECV(p.sock, addr);
	m = mmap((void *)(uintptr_t)(addr + 4096), 4096, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(m == (void *)(uintptr_t)(addr + 4096), "mmap in the publisher's range");
	snprintf(want, sizeof(want), "in its range here (%llx-%llx ---p 00000000 00:00 0)",
		 (unsigned long long)addr + 4096, (unsigned long long)addr + 8192);
	LIB_ERR(agnocast_map_pool(p.pid, 0, &info), EEXIST, want);
	CHECK_EQ(LT_TOTALS().mappings, 0);
	CHECK_OK(munmap(m, 4096));
	LIB_OK(agnocast_map_pool(p.pid, 0, &info));
	CHECK_EQ(info.addr, addr);
	LIB_OK(agnocast_unmap_pool(addr));
	LIB_OK(agnocast_leave());
	TELL(p.sock, "pub");	/* the publisher's script: publish, then exit */
	WAIT_FOR(p.sock, "published");
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}
