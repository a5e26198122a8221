// SPDX-License-Identifier: Apache-2.0
/*
 * Module unload / reload (needs --ko PATH, an uncompressed agnocast.ko).
 * While /dev/agnocast (or a subscriber fd) is open the module cannot be
 * removed; with nothing open and nobody joined it can, twenty times over,
 * and the device works after. Runs last and leaves the module loaded.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define CYCLES 20

static long delete_module(const char *name, unsigned int flags)
{
	return syscall(SYS_delete_module, name, flags);
}

static long finit_module(int fd, const char *params, int flags)
{
	return syscall(SYS_finit_module, fd, params, flags);
}

static void holder(int sock, void *arg)
{
	struct ag_pool pool;
	struct ag_sub sub;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	sub = ADD_SUB(dev, "lifecycle", 1, 0);
	TELL(sock, "open");
	WAIT_FOR(sock, "close-device");
	/* Joined, a subscriber fd open, but /dev/agnocast closed. */
	close(dev);
	TELL(sock, "closed");
	WAIT_FOR(sock, "exit");
	close(sub.fd);
}

TEST_LAST(unload_and_reload)
{
	struct agnocast_entry e[2];
	struct ag_pool pool;
	struct ag_sub sub;
	struct child c;
	struct stat sb;
	uint32_t pub;
	int ko, i, dev, fd;

	if (!g_ko_path)
		skip("no --ko PATH given");
	ko = open(g_ko_path, O_RDONLY | O_CLOEXEC);
	if (ko < 0)
		FAIL("open %s: %s", g_ko_path, errname(errno));

	c = spawn(holder, NULL);
	WAIT_FOR(c.sock, "open");
	CHECK_ERR2(delete_module("agnocast", O_NONBLOCK), EBUSY, EWOULDBLOCK);
	CHECK_OK(stat(AGNOCAST_STATUS_PATH, &sb));
	TELL(c.sock, "close-device");
	WAIT_FOR(c.sock, "closed");
	CHECK_ERR2(delete_module("agnocast", O_NONBLOCK), EBUSY, EWOULDBLOCK);
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
	/* Reading the status file waits for the exit's cleanup. */
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);

	for (i = 0; i < CYCLES; i++) {
		if (delete_module("agnocast", O_NONBLOCK))
			FAIL("cycle %d: delete_module: %s", i, errname(errno));
		CHECK_ERR(stat(AGNOCAST_STATUS_PATH, &sb), ENOENT);
		fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			FAIL("cycle %d: %s opens with the module unloaded", i,
			     AGNOCAST_DEVICE_PATH);
		if (finit_module(ko, "", 0))
			FAIL("cycle %d: finit_module(%s): %s", i, g_ko_path,
			     errname(errno));
		dev = AG_OPEN();
		{
			struct agnocast_version_args v;

			CHECK_OK(ag_ioctl(dev, AGNOCAST_VERSION_CMD, &v));
			CHECK_EQ(v.abi, AGNOCAST_ABI_VERSION);
		}
		close(dev);
		CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	}
	close(ko);

	/* The reloaded module works: join, publish, receive. */
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "lifecycle", 1, 0);
	sub = ADD_SUB(dev, "lifecycle", 1, 0);
	write_msg(pool.addr, 5);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
	CHECK_EQ(RECEIVE(dev, sub.id, e, 2), 1);
	CHECK_EQ(e[0].addr, pool.addr);
	CHECK_MSG(e[0].addr, getpid(), 5);
	RELEASE(dev, sub.id, 1);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 1, 0);
	close(sub.fd);
}
