// SPDX-License-Identifier: Apache-2.0
/*
 * fork and friends, as libagnocast.h says: a forked child is not joined,
 * keeps a private copy of the pool (its writes never reach the parent),
 * has none of the parent's descriptors, can only destroy inherited
 * handles, and joins on its own with a new pool; a clone(CLONE_VM) task of
 * another thread group is refused by the module (EPERM).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt.h"

struct inherited {
	struct agnocast_publisher *pub;
	struct agnocast_subscriber *sub;
	struct agnocast_pool pool;
	char *block;
	int pub_fd, sub_fd;
};

static void forked_child(int sock, void *arg)
{
	struct inherited *in = arg;
	struct agnocast_entry e;
	struct agnocast_pool mine;
	char line[512];
	char *more;

	(void)sock;
	LIB_ERR(agnocast_pool_info(&mine), ESRCH, "forked child");
	LIB_ERR(agnocast_publish(in->pub, in->block, 8, NULL), ESRCH, "forked child");
	LIB_ERR(agnocast_receive(in->sub, &e, 1), ESRCH, "forked child");
	/* The parent's endpoints are not kept alive by our copies. */
	CHECK(fcntl(in->pub_fd, F_GETFD) < 0 && errno == EBADF, "publisher fd %d still open", in->pub_fd);
	CHECK(fcntl(in->sub_fd, F_GETFD) < 0 && errno == EBADF, "subscriber fd %d still open", in->sub_fd);
	/* A private copy: readable, writable, allocating; nothing reaches the parent. */
	CHECK(!strcmp(in->block, "parent's"));
	lt_maps_line(getpid(), in->pool.addr, line, sizeof(line));
	CHECK(strstr(line, " rw-p ") && !strstr(line, "agnocast@"), "maps: %s", line);
	strcpy(in->block, "child's");
	more = agnocast_alloc(1000);
	CHECK(more && agnocast_owns(more), "%s", agnocast_last_error());
	memset(more, 'c', 1000);
	LIB_OK(agnocast_publisher_destroy(in->pub));
	LIB_OK(agnocast_subscriber_destroy(in->sub));
	/* On its own now. */
	CHECK_EQ(LIB_OK(agnocast_join(NULL)), 0);
	LIB_OK(agnocast_pool_info(&mine));
	CHECK(mine.pid == getpid() && mine.addr != in->pool.addr);
}

TEST(forked_child_is_a_new_unjoined_process)
{
	struct inherited in;
	struct agnocast_entry e;
	struct child c;

	in.pool = LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_publisher_create("/lt/fork/pub", QOS(2, 0), &in.pub));
	LIB_OK(agnocast_subscriber_create("/lt/fork/pub", QOS(2, 0), &in.sub));
	in.pub_fd = agnocast_publisher_fd(in.pub);
	in.sub_fd = agnocast_subscriber_fd(in.sub);
	in.block = LT_TEXT("parent's");
	c = spawn(forked_child, &in);
	REAP_OK(c.pid);
	/* The parent is untouched: its block, its endpoints. */
	CHECK(!strcmp(in.block, "parent's"));
	LIB_OK(agnocast_publish(in.pub, in.block, 9, NULL));
	CHECK_EQ(LIB_OK(agnocast_receive(in.sub, &e, 1)), 1);
	CHECK(!strcmp(agnocast_entry_data(&e), "parent's"));
	LIB_OK(agnocast_release(in.sub, &e));
	LIB_OK(agnocast_subscriber_destroy(in.sub));
	LIB_OK(agnocast_publisher_destroy(in.pub));
	LIB_OK(agnocast_leave());
}

static struct {
	struct agnocast_publisher *pub;
	void *block;
	int result;
	char message[400];
} sibling;

/* Shares our memory, not our thread group. */
static int clone_vm_task(void *arg)
{
	(void)arg;
	sibling.result = agnocast_publish(sibling.pub, sibling.block, 4, NULL);
	snprintf(sibling.message, sizeof(sibling.message), "%s", agnocast_last_error());
	return 0;
}

TEST(clone_vm_task_of_another_thread_group_eperm)
{
	size_t stack_size = 256 << 10;
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int st;
	pid_t t;

	CHECK(stack != MAP_FAILED);
	LT_JOIN(UNIT, 0);
	LIB_OK(agnocast_publisher_create("/lt/fork/clone", NULL, &sibling.pub));
	sibling.block = LT_TEXT("vm");
	t = clone(clone_vm_task, stack + stack_size, CLONE_VM | SIGCHLD, NULL);
	CHECK(t > 0, "clone: %m");
	CHECK_EQ(waitpid(t, &st, 0), t);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(sibling.result == -EPERM, "the sibling's publish returned %d: %s", sibling.result,
	      sibling.message);
	CHECK(strstr(sibling.message, "clone(CLONE_VM)"), "%s", sibling.message);
	/* Ours still works. */
	LIB_OK(agnocast_publish(sibling.pub, sibling.block, 3, NULL));
	LIB_OK(agnocast_publisher_destroy(sibling.pub));
}
