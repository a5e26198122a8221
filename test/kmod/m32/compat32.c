// SPDX-License-Identifier: Apache-2.0
/*
 * agnocast-compat32: a 32-bit caller (built with -m32, run by
 * test_compat32.c). The argument layouts are the same as for 64-bit
 * callers, so every ioctl reaches the module through compat_ioctl (no
 * ENOTTY); VERSION and the introspection ioctls work, ADD_PROCESS fails
 * with EOPNOTSUPP (pools live above 4 GiB), and every ioctl that acts for
 * a joined process therefore says ESRCH.
 *   agnocast-compat32 REPORT_FD TOPIC PUBLISHER_PID POOL_ADDR
 * Failures are written to REPORT_FD; the exit status is 0 when all held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agnocast.h"

static int report_fd = 2, failed;

static void fail(int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "compat32.c:%d: [32-bit pid %d] ", line,
		     (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(report_fd, buf, n) < 0)
		failed = 2;
	failed = 1;
}

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c))                                                 \
			fail(__LINE__, "CHECK(%s) failed (errno %d)", #c, errno); \
	} while (0)

#define P2U(p) ((uint64_t)(uintptr_t)(p))

static void expect(int line, const char *name, int dev, unsigned long cmd,
		   void *arg, int want)
{
	int r, e;

	errno = 0;
	r = ioctl(dev, cmd, arg);
	e = errno;
	if (want ? (r != -1 || e != want) : r != 0)
		fail(line, "%s: %d errno %d (%s), expected %s", name, r, e,
		     strerror(e), want ? strerror(want) : "success");
}
#define EXPECT(cmd, arg, want) expect(__LINE__, #cmd, dev, cmd, arg, want)

int main(int argc, char **argv)
{
	struct agnocast_version_args v;
	struct agnocast_add_process_args ap;
	struct agnocast_attach_pool_args at;
	struct agnocast_add_publisher_args apub;
	struct agnocast_add_subscriber_args asub;
	struct agnocast_remove_args rm;
	struct agnocast_publish_args pu;
	struct agnocast_receive_args rc;
	struct agnocast_take_args tk;
	struct agnocast_release_args rl;
	struct agnocast_reclaim_args rcl;
	struct agnocast_map_pool_args mp;
	struct agnocast_unmap_pool_args um;
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_info_args ti;
	struct agnocast_list_processes_args lp;
	struct agnocast_topic_name names[4];
	struct agnocast_endpoint_info pubs[4], subs[4];
	struct agnocast_process_info procs[4];
	struct agnocast_pool_info pools[4];
	struct agnocast_entry e[4];
	uint64_t addrs[4], pool_addr;
	int32_t pids[4];
	int dev, pid;

	if (argc != 5)
		return 2;
	report_fd = atoi(argv[1]);
	pid = atoi(argv[3]);
	pool_addr = strtoull(argv[4], NULL, 0);
	CHECK(sizeof(void *) == 4);
	/* The layouts of the 64-bit build (they define the ioctl numbers). */
	CHECK(sizeof(struct agnocast_add_process_args) == 32);
	CHECK(sizeof(struct agnocast_add_publisher_args) == 288);
	CHECK(sizeof(struct agnocast_add_subscriber_args) == 288);
	CHECK(sizeof(struct agnocast_publish_args) == 48);
	CHECK(sizeof(struct agnocast_entry) == 40);
	CHECK(sizeof(struct agnocast_take_args) == 48);
	CHECK(sizeof(struct agnocast_map_pool_args) == 40);
	CHECK(sizeof(struct agnocast_topic_info_args) == 304);
	CHECK(sizeof(struct agnocast_process_info) == 48);

	dev = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fail(__LINE__, "open %s: %s", AGNOCAST_DEVICE_PATH, strerror(errno));
		return 1;
	}

	memset(&v, 0xff, sizeof(v));
	EXPECT(AGNOCAST_VERSION_CMD, &v, 0);
	CHECK(v.abi == AGNOCAST_ABI_VERSION);

	memset(&lt, 0, sizeof(lt));
	memset(names, 0, sizeof(names));
	lt.topics = P2U(names);
	lt.topics_cap = 4;
	EXPECT(AGNOCAST_LIST_TOPICS_CMD, &lt, 0);
	CHECK(lt.nr_topics == 1);
	CHECK(strcmp(names[0].name, argv[2]) == 0);

	memset(&ti, 0, sizeof(ti));
	snprintf(ti.topic, sizeof(ti.topic), "%s", argv[2]);
	ti.pubs = P2U(pubs);
	ti.subs = P2U(subs);
	ti.pubs_cap = 4;
	ti.subs_cap = 4;
	EXPECT(AGNOCAST_TOPIC_INFO_CMD, &ti, 0);
	CHECK(ti.nr_pubs == 1);
	CHECK(ti.nr_subs == 0);
	CHECK(pubs[0].pid == pid);

	memset(&lp, 0, sizeof(lp));
	lp.procs = P2U(procs);
	lp.procs_cap = 4;
	EXPECT(AGNOCAST_LIST_PROCESSES_CMD, &lp, 0);
	CHECK(lp.nr_procs == 1);
	CHECK(procs[0].pool.pid == pid);
	CHECK(procs[0].pool.addr == pool_addr);
	CHECK(procs[0].pool.addr >= AGNOCAST_POOL_BASE);

	/* Pools live above 4 GiB: no joining. */
	memset(&ap, 0, sizeof(ap));
	ap.pool_size = AGNOCAST_POOL_UNIT;
	EXPECT(AGNOCAST_ADD_PROCESS_CMD, &ap, EOPNOTSUPP);
	/* Argument checks come first, as for everyone. */
	ap.pool_size = 0;
	EXPECT(AGNOCAST_ADD_PROCESS_CMD, &ap, EINVAL);

	/* The rest reach the module and find no joined process. */
	memset(&at, 0, sizeof(at));
	at.fd = dev;
	EXPECT(AGNOCAST_ATTACH_POOL_CMD, &at, ESRCH);
	memset(&apub, 0, sizeof(apub));
	snprintf(apub.topic, sizeof(apub.topic), "%s", argv[2]);
	apub.qos.depth = 1;
	apub.sub_pids = P2U(pids);
	apub.sub_pids_cap = 4;
	EXPECT(AGNOCAST_ADD_PUBLISHER_CMD, &apub, ESRCH);
	memset(&asub, 0, sizeof(asub));
	snprintf(asub.topic, sizeof(asub.topic), "%s", argv[2]);
	asub.qos.depth = 1;
	asub.pubs = P2U(pools);
	asub.pubs_cap = 4;
	EXPECT(AGNOCAST_ADD_SUBSCRIBER_CMD, &asub, ESRCH);
	memset(&rm, 0, sizeof(rm));
	rm.id = 1;
	EXPECT(AGNOCAST_REMOVE_PUBLISHER_CMD, &rm, ESRCH);
	EXPECT(AGNOCAST_REMOVE_SUBSCRIBER_CMD, &rm, ESRCH);
	memset(&pu, 0, sizeof(pu));
	pu.publisher_id = 1;
	pu.addr = pool_addr;
	pu.reclaimed = P2U(addrs);
	pu.reclaimed_cap = 4;
	EXPECT(AGNOCAST_PUBLISH_CMD, &pu, ESRCH);
	memset(&rc, 0, sizeof(rc));
	rc.subscriber_id = 1;
	rc.entries = P2U(e);
	rc.entries_cap = 4;
	EXPECT(AGNOCAST_RECEIVE_CMD, &rc, ESRCH);
	memset(&tk, 0, sizeof(tk));
	tk.subscriber_id = 1;
	EXPECT(AGNOCAST_TAKE_CMD, &tk, ESRCH);
	memset(&rl, 0, sizeof(rl));
	rl.subscriber_id = 1;
	rl.seq = 1;
	EXPECT(AGNOCAST_RELEASE_CMD, &rl, ESRCH);
	memset(&rcl, 0, sizeof(rcl));
	rcl.addrs = P2U(addrs);
	rcl.addrs_cap = 4;
	EXPECT(AGNOCAST_RECLAIM_CMD, &rcl, ESRCH);
	memset(&mp, 0, sizeof(mp));
	mp.pool.pid = pid;
	EXPECT(AGNOCAST_MAP_POOL_CMD, &mp, ESRCH);
	memset(&um, 0, sizeof(um));
	um.pid = pid;
	EXPECT(AGNOCAST_UNMAP_POOL_CMD, &um, ESRCH);
	/* An unknown command is still ENOTTY. */
	EXPECT(_IOWR(AGNOCAST_IOC_MAGIC, 17, uint64_t), addrs, ENOTTY);
	close(dev);
	return failed;
}
