// SPDX-License-Identifier: Apache-2.0
/*
 * Access model: /dev/agnocast is created root-only (mode 0660, root:root)
 * when the module is loaded without device_mode; another user cannot open
 * it (EACCES) but reads the world-readable status file. Given to a group
 * the way kmod/99-agnocast.rules does (group, mode 0660), a process with
 * that group (supplementary or primary) opens it and joins; one without
 * still gets EACCES. The node's owner and mode are put back whatever
 * happens. (device_mode=0666 and a bad device_mode are
 * test_module_lifecycle.c's: they need a reload.)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "params.h"
#include "status.h"

#define NOBODY		65534
#define RULE_GID	4242	/* stands for the rule's group "agnocast" */

/* Drop root: uid and gid nobody, supplementary groups as given. */
static void become(gid_t gid, const gid_t *groups, size_t n)
{
	CHECK_OK(setgroups(n, groups));
	CHECK_OK(setresgid(gid, gid, gid));
	CHECK_OK(setresuid(NOBODY, NOBODY, NOBODY));
}

/* Nobody, no group: no device, but the status file. */
static void outsider(int sock, void *arg)
{
	struct status st;

	(void)arg;
	become(NOBODY, NULL, 0);
	CHECK_ERR(open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC), EACCES);
	CHECK_ERR(open(AGNOCAST_DEVICE_PATH, O_RDONLY | O_CLOEXEC), EACCES);
	CHECK_ERR(open(AGNOCAST_DEVICE_PATH, O_WRONLY | O_CLOEXEC), EACCES);
	STATUS_READ(&st);
	CHECK_EQ(st.abi, AGNOCAST_ABI_VERSION);
	status_free(&st);
	TELL(sock, "done");
}

TEST(device_is_root_only_by_default)
{
	struct stat sb;
	struct child c;

	CHECK_EQ(PARAM_GET("device_mode"), 0660);
	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &sb));
	CHECK(S_ISCHR(sb.st_mode));
	CHECK_EQ(sb.st_mode & 07777, 0660);
	CHECK_EQ(sb.st_uid, 0);
	CHECK_EQ(sb.st_gid, 0);
	c = spawn(outsider, NULL);
	WAIT_FOR(c.sock, "done");
	REAP_OK(c.pid);
}

struct member_cfg {
	gid_t gid;
	gid_t groups[2];
	size_t n;
	int may_open;
};

static void member(int sock, void *arg)
{
	struct member_cfg *m = arg;
	struct agnocast_version_args v;
	struct ag_pool pool;
	struct status st;
	const struct st_rec *r;
	int dev;

	become(m->gid, m->groups, m->n);
	if (!m->may_open) {
		CHECK_ERR(open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC), EACCES);
		TELL(sock, "refused");
		return;
	}
	dev = AG_OPEN();
	CHECK_OK(ag_ioctl(dev, AGNOCAST_VERSION_CMD, &v));
	CHECK_EQ(v.abi, AGNOCAST_ABI_VERSION);
	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "access/group", 1, 0);
	STATUS_READ(&st);
	r = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(r, "uid"), NOBODY);
	CHECK_EQ(ST_U64(r, "publishers"), 1);
	status_free(&st);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
}

/* Gives the node to the group, then tries members and non-members. */
static void group_worker(int sock, void *arg)
{
	static struct member_cfg supp = { NOBODY, { 100, RULE_GID }, 2, 1 };
	static struct member_cfg primary = { RULE_GID, { 0 }, 0, 1 };
	static struct member_cfg none = { NOBODY, { 100 }, 1, 0 };
	static struct member_cfg before = { NOBODY, { 100, RULE_GID }, 2, 0 };
	struct child a, b, c, d;
	struct stat sb;

	(void)arg;
	/* Before the node is the group's, the group gives nothing. */
	d = spawn(member, &before);
	WAIT_FOR(d.sock, "refused");
	REAP_OK(d.pid);

	CHECK_OK(chown(AGNOCAST_DEVICE_PATH, 0, RULE_GID));
	CHECK_OK(chmod(AGNOCAST_DEVICE_PATH, 0660));
	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &sb));
	CHECK_EQ(sb.st_gid, RULE_GID);
	a = spawn(member, &supp);
	WAIT_FOR(a.sock, "joined");
	b = spawn(member, &primary);
	WAIT_FOR(b.sock, "joined");
	c = spawn(member, &none);
	WAIT_FOR(c.sock, "refused");
	REAP_OK(c.pid);
	CHECK_STATUS_TOTALS(2, 1, 2, 0, 0, 0);
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
	TELL(b.sock, "exit");
	REAP_OK(b.pid);
	TELL(sock, "done");
}

TEST(group_of_the_udev_rule_may_join)
{
	struct stat saved, now;
	struct child w;
	int st, restored;

	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &saved));
	w = spawn(group_worker, NULL);
	/* Whatever the worker did or failed to do, put the node back first. */
	while (waitpid(w.pid, &st, 0) < 0 && errno == EINTR)
		;
	restored = chown(AGNOCAST_DEVICE_PATH, saved.st_uid, saved.st_gid) == 0 &&
		   chmod(AGNOCAST_DEVICE_PATH, saved.st_mode & 07777) == 0;
	CHECK(restored);
	CHECK_OK(stat(AGNOCAST_DEVICE_PATH, &now));
	CHECK_EQ(now.st_mode, saved.st_mode);
	CHECK_EQ(now.st_uid, saved.st_uid);
	CHECK_EQ(now.st_gid, saved.st_gid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("the worker failed (status 0x%x): see its report line", st);
	CHECK(sock_ready(w.sock));
	WAIT_FOR(w.sock, "done");
}
