// SPDX-License-Identifier: Apache-2.0
/*
 * Module unload / reload (needs --ko PATH, an uncompressed agnocast.ko).
 * While /dev/agnocast (or a subscriber fd) is open the module cannot be
 * removed; with nothing open and nobody joined it can, twenty times over,
 * and the device works after. device_mode=0666 at load gives the node that
 * mode (another user opens it); a value that is not a file mode is refused
 * (EINVAL). Runs last and leaves the module loaded with its defaults.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "params.h"
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

/* Another user: opens the device, asks the version. */
static void other_user(int sock, void *arg)
{
	struct agnocast_version_args v;
	int dev;

	(void)arg;
	CHECK_OK(setgroups(0, NULL));
	CHECK_OK(setresgid(65534, 65534, 65534));
	CHECK_OK(setresuid(65534, 65534, 65534));
	dev = AG_OPEN();
	CHECK_OK(ag_ioctl(dev, AGNOCAST_VERSION_CMD, &v));
	CHECK_EQ(v.abi, AGNOCAST_ABI_VERSION);
	TELL(sock, "opened");
}

static void mode_worker(int sock, void *arg)
{
	int ko = *(int *)arg;
	struct stat sb;
	struct child c;

	CHECK_OK(delete_module("agnocast", O_NONBLOCK));
	CHECK_OK(finit_module(ko, "device_mode=0666", 0));
	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &sb));
	CHECK(S_ISCHR(sb.st_mode));
	CHECK_EQ(sb.st_mode & 07777, 0666);
	CHECK_EQ(PARAM_GET("device_mode"), 0666);
	c = spawn(other_user, NULL);
	WAIT_FOR(c.sock, "opened");
	REAP_OK(c.pid);

	/* Not a file mode: the load fails and leaves nothing behind. */
	CHECK_OK(delete_module("agnocast", O_NONBLOCK));
	CHECK_ERR(finit_module(ko, "device_mode=01000", 0), EINVAL);
	CHECK_ERR(finit_module(ko, "device_mode=04660", 0), EINVAL);
	CHECK_ERR(stat(AGNOCAST_DEVICE_PATH, &sb), ENOENT);
	CHECK_ERR(stat(AGNOCAST_STATUS_PATH, &sb), ENOENT);

	CHECK_OK(finit_module(ko, "", 0));
	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &sb));
	CHECK_EQ(sb.st_mode & 07777, 0660);
	TELL(sock, "done");
}

TEST_LAST(device_mode_at_load)
{
	struct stat sb;
	struct child w;
	int ko, st;

	if (!g_ko_path)
		skip("no --ko PATH given");
	ko = open(g_ko_path, O_RDONLY | O_CLOEXEC);
	if (ko < 0)
		FAIL("open %s: %s", g_ko_path, errname(errno));
	w = spawn(mode_worker, &ko);
	while (waitpid(w.pid, &st, 0) < 0 && errno == EINTR)
		;
	/* Whatever happened, end with the module loaded with its defaults. */
	if (stat(AGNOCAST_STATUS_PATH, &sb) == 0 && PARAM_GET("device_mode") != 0660)
		delete_module("agnocast", O_NONBLOCK);
	if (stat(AGNOCAST_STATUS_PATH, &sb) != 0)
		CHECK_OK(finit_module(ko, "", 0));
	close(ko);
	CHECK_EQ(PARAM_GET("device_mode"), 0660);
	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &sb));
	CHECK_EQ(sb.st_mode & 07777, 0660);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("the worker failed (status 0x%x): see its report line", st);
	WAIT_FOR(w.sock, "done");
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
}
