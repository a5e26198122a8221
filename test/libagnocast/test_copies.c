// SPDX-License-Identifier: Apache-2.0
/*
 * One process, one state: this binary has its own (static) copy of the
 * library; with libagnocast.so loaded into the global scope first, every
 * call of the static copy goes to the shared one (the heaphook's case, and
 * the addon's under it), so there is one pool, one allocator, one table of
 * mappings.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt.h"

/* In a fresh image (exec): load the shared copy, then use both. */
HELPER(two_copies)
{
	int (*so_pool_info)(struct agnocast_pool *), (*so_owns)(const void *);
	int (*so_join)(const struct agnocast_join_opts *);
	void *(*so_alloc)(size_t);
	struct agnocast_pool mine, theirs;
	void *h, *a, *b;

	if (argc != 3)
		return 2;
	g_report_fd = atoi(argv[2]);
	h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
	CHECK(h, "dlopen %s: %s", argv[1], dlerror());
	CHECK(dlsym(h, "agnocast_api_v1"), "the shared copy exports no table");
	*(void **)&so_pool_info = dlsym(h, "agnocast_pool_info");
	*(void **)&so_owns = dlsym(h, "agnocast_owns");
	*(void **)&so_join = dlsym(h, "agnocast_join");
	*(void **)&so_alloc = dlsym(h, "agnocast_alloc");
	CHECK(so_pool_info && so_owns && so_join && so_alloc);
	/* The static copy joins: in fact the shared one does. */
	CHECK_EQ(LIB_OK(agnocast_join(NULL)), 0);
	CHECK_EQ(so_join(NULL), 1);
	LIB_OK(agnocast_pool_info(&mine));
	CHECK_EQ(so_pool_info(&theirs), 0);
	CHECK(mine.addr == theirs.addr && mine.pool_fd == theirs.pool_fd);
	/* One allocator: either copy's blocks are the other's. */
	a = agnocast_alloc(64);
	b = so_alloc(64);
	CHECK(a && b && so_owns(a) && agnocast_owns(b));
	agnocast_free(b);
	return 0;
}

TEST(a_second_copy_forwards_to_the_first)
{
	char fd[16];
	pid_t pid;
	int st;

	if (!g_lib_so || access(g_lib_so, R_OK))
		skip("no libagnocast.so (--lib %s)", g_lib_so ? g_lib_so : "");
	snprintf(fd, sizeof(fd), "%d", g_report_fd);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "libagnocast-gtest", "--helper", "two_copies", g_lib_so, fd,
		      (char *)NULL);
		_exit(127);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the helper: status 0x%x", st);
}
