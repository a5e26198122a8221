// SPDX-License-Identifier: Apache-2.0
/*
 * What a process is: one thread group with its mm. Its threads share the
 * registration (and a thread's end changes nothing); a task that shares
 * the mm but is another thread group (clone(CLONE_VM) without
 * CLONE_THREAD, a vfork child before exec) gets EPERM from every ioctl
 * that acts for a process and changes nothing, while VERSION and
 * introspection work; a forked child is unjoined (ESRCH) yet can poll an
 * inherited subscriber fd; exec, even from a non-main thread, unjoins and
 * cleans up, but a vfork child's exec does not touch its parent; cleanup
 * waits for the last task of the mm. A pid names the pool of the process
 * that has that pid now, even when the registration of an ended joiner
 * with the same pid number lives on (its mm shared by another task).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>	/* struct clone_args */

#include "ag.h"
#include "harness.h"
#include "status.h"

/* ---- probing every ioctl ------------------------------------------- */

/* What the probe may use: the joined process's ids and a peer's pool. */
struct probe_ids {
	int dev;
	uint32_t pub, sub;
	uint64_t addr;		/* inside the joined process's pool */
	uint64_t held_seq;	/* an entry sub holds */
	pid_t peer;		/* a joined process the joined one maps */
	int shm_fd;		/* the joined process's pool file */
};

enum {
	P_ADD_PROCESS, P_ATTACH_POOL, P_ADD_PUBLISHER, P_ADD_SUBSCRIBER,
	P_REMOVE_PUBLISHER, P_REMOVE_SUBSCRIBER, P_PUBLISH, P_RECEIVE, P_TAKE,
	P_RELEASE, P_RECLAIM, P_MAP_POOL, P_UNMAP_POOL,
	/* These act for nobody: they work. */
	P_VERSION, P_LIST_TOPICS, P_TOPIC_INFO, P_LIST_PROCESSES,
	NPROBE
};

static const char *const probe_names[NPROBE] = {
	"ADD_PROCESS", "ATTACH_POOL", "ADD_PUBLISHER", "ADD_SUBSCRIBER",
	"REMOVE_PUBLISHER", "REMOVE_SUBSCRIBER", "PUBLISH", "RECEIVE", "TAKE",
	"RELEASE", "RECLAIM", "MAP_POOL", "UNMAP_POOL", "VERSION",
	"LIST_TOPICS", "TOPIC_INFO", "LIST_PROCESSES",
};

struct probe_res {
	int rc[NPROBE], err[NPROBE];
	int map_fd;
	int done;
};

/* All the arguments, so that the probe itself needs little stack. */
static union {
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
	struct agnocast_version_args v;
	struct agnocast_list_topics_args lt;
	struct agnocast_topic_info_args ti;
	struct agnocast_list_processes_args lp;
} pa;
static struct agnocast_entry probe_entries[4];
static struct agnocast_pool_info probe_pools[4];
static struct agnocast_topic_name probe_names_buf[4];
static struct agnocast_process_info probe_procs[4];
static uint64_t probe_addrs[4];
static int32_t probe_pids[4];

#define PROBE(i, cmd)                                                     \
	do {                                                              \
		r->rc[i] = ioctl(c->dev, cmd, &pa);                       \
		r->err[i] = r->rc[i] ? errno : 0;                         \
	} while (0)

/*
 * Runs in a task sharing the joined process's mm: no allocation, no
 * stdio, only ioctls and stores into memory both see.
 */
static void probe_all(const struct probe_ids *c, struct probe_res *r)
{
	memset(&pa, 0, sizeof(pa));
	pa.ap.pool_size = UNIT;
	PROBE(P_ADD_PROCESS, AGNOCAST_ADD_PROCESS_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.at.fd = c->shm_fd;
	PROBE(P_ATTACH_POOL, AGNOCAST_ATTACH_POOL_CMD);

	memset(&pa, 0, sizeof(pa));
	memcpy(pa.apub.topic, "ident/probe", 12);
	pa.apub.qos.depth = 1;
	pa.apub.sub_pids = p2u(probe_pids);
	pa.apub.sub_pids_cap = 4;
	PROBE(P_ADD_PUBLISHER, AGNOCAST_ADD_PUBLISHER_CMD);

	memset(&pa, 0, sizeof(pa));
	memcpy(pa.asub.topic, "ident/probe", 12);
	pa.asub.qos.depth = 1;
	pa.asub.pubs = p2u(probe_pools);
	pa.asub.pubs_cap = 4;
	pa.asub.fd = -1;
	PROBE(P_ADD_SUBSCRIBER, AGNOCAST_ADD_SUBSCRIBER_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.rm.id = c->pub;
	PROBE(P_REMOVE_PUBLISHER, AGNOCAST_REMOVE_PUBLISHER_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.rm.id = c->sub;
	PROBE(P_REMOVE_SUBSCRIBER, AGNOCAST_REMOVE_SUBSCRIBER_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.pu.publisher_id = c->pub;
	pa.pu.addr = c->addr;
	pa.pu.len = 16;
	pa.pu.reclaimed = p2u(probe_addrs);
	pa.pu.reclaimed_cap = 4;
	PROBE(P_PUBLISH, AGNOCAST_PUBLISH_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.rc.subscriber_id = c->sub;
	pa.rc.entries = p2u(probe_entries);
	pa.rc.entries_cap = 4;
	PROBE(P_RECEIVE, AGNOCAST_RECEIVE_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.tk.subscriber_id = c->sub;
	PROBE(P_TAKE, AGNOCAST_TAKE_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.rl.subscriber_id = c->sub;
	pa.rl.seq = c->held_seq;
	PROBE(P_RELEASE, AGNOCAST_RELEASE_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.rcl.addrs = p2u(probe_addrs);
	pa.rcl.addrs_cap = 4;
	PROBE(P_RECLAIM, AGNOCAST_RECLAIM_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.mp.pool.pid = c->peer;
	pa.mp.fd = -2;
	PROBE(P_MAP_POOL, AGNOCAST_MAP_POOL_CMD);
	r->map_fd = pa.mp.fd;

	memset(&pa, 0, sizeof(pa));
	pa.um.pid = c->peer;
	PROBE(P_UNMAP_POOL, AGNOCAST_UNMAP_POOL_CMD);

	memset(&pa, 0, sizeof(pa));
	PROBE(P_VERSION, AGNOCAST_VERSION_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.lt.topics = p2u(probe_names_buf);
	pa.lt.topics_cap = 4;
	PROBE(P_LIST_TOPICS, AGNOCAST_LIST_TOPICS_CMD);

	memset(&pa, 0, sizeof(pa));
	memcpy(pa.ti.topic, "ident/main", 11);
	PROBE(P_TOPIC_INFO, AGNOCAST_TOPIC_INFO_CMD);

	memset(&pa, 0, sizeof(pa));
	pa.lp.procs = p2u(probe_procs);
	pa.lp.procs_cap = 4;
	PROBE(P_LIST_PROCESSES, AGNOCAST_LIST_PROCESSES_CMD);
	r->done = 1;
}

static void check_probe(const struct probe_res *r, const char *who)
{
	int i;

	if (!r->done)
		FAIL("%s: the probe did not run to its end", who);
	for (i = 0; i < NPROBE; i++) {
		int want = i < P_VERSION ? EPERM : 0;

		if ((want && (r->rc[i] != -1 || r->err[i] != want)) ||
		    (!want && r->rc[i] != 0))
			FAIL("%s: %s gave %d errno %s, expected %s", who,
			     probe_names[i], r->rc[i], errname(r->err[i]),
			     want ? "EPERM" : "success");
	}
	CHECK_EQ(r->map_fd, -2);
}

static void peer(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
}

/*
 * The joined process: a publisher and a subscriber on "ident/main", one
 * entry held, one pending, the peer's pool declared.
 */
struct joined {
	struct probe_ids ids;
	struct ag_pool pool;
	struct ag_sub sub;
	struct child peer;
};

static void setup_joined(struct joined *j)
{
	struct agnocast_entry e[2];

	j->peer = spawn(peer, NULL);
	WAIT_FOR(j->peer.sock, "joined");
	j->ids.dev = AG_OPEN();
	JOIN(j->ids.dev, UNIT, 0, &j->pool);
	j->ids.pub = ADD_PUB(j->ids.dev, "ident/main", 4, 0);
	j->sub = ADD_SUB(j->ids.dev, "ident/main", 4, 0);
	j->ids.sub = j->sub.id;
	j->ids.addr = j->pool.addr;
	j->ids.shm_fd = j->pool.shm_fd;
	j->ids.peer = j->peer.pid;
	write_msg(j->pool.addr, 1);
	CHECK_EQ(PUBLISH(j->ids.dev, j->ids.pub, j->pool.addr, 16), 1);
	CHECK_EQ(RECEIVE(j->ids.dev, j->sub.id, e, 2), 1);
	j->ids.held_seq = 1;
	write_msg(j->pool.addr + 64, 2);
	CHECK_EQ(PUBLISH(j->ids.dev, j->ids.pub, j->pool.addr + 64, 16), 2);
	CHECK_OK(map_pool_raw(j->ids.dev, j->peer.pid, NULL));
}

/* Nothing the probe tried changed the joined process. */
static void check_joined_intact(struct joined *j)
{
	struct agnocast_entry e[4];
	struct topic_info ti;
	struct status st;
	const struct st_rec *p;

	STATUS_READ(&st);
	CHECK_TOTALS(&st, 2, 1, 1, 1, 2, 1);
	p = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(p, "publishers"), 1);
	CHECK_EQ(ST_U64(p, "subscribers"), 1);
	CHECK_EQ(ST_U64(p, "attached"), 1);
	CHECK_EQ(ST_U64(ST_PROC(&st, j->peer.pid), "mappers"), 1);
	status_free(&st);
	TOPIC_INFO(j->ids.dev, "ident/main", &ti);
	CHECK_EQ(ti.a.last_seq, 2);
	CHECK_EQ(ti.subs[0].count, 1);
	/* Its ids still work: entry 2 pending, entry 1 held. */
	CHECK(poll_now(j->sub.fd) & POLLIN);
	CHECK_EQ(RECEIVE(j->ids.dev, j->sub.id, e, 4), 1);
	CHECK_EQ(e[0].seq, 2);
	RELEASE(j->ids.dev, j->sub.id, 1);
	RELEASE(j->ids.dev, j->sub.id, 2);
	CHECK_EQ(PUBLISH(j->ids.dev, j->ids.pub, j->pool.addr + 128, 16), 3);
	CHECK_OK(unmap_pool_raw(j->ids.dev, j->peer.pid));
	TELL(j->peer.sock, "exit");
	REAP_OK(j->peer.pid);
}

/* ---- clone(CLONE_VM) ------------------------------------------------- */

static struct joined g_j;
static struct probe_res g_res;

static int clone_prober(void *arg)
{
	(void)arg;
	probe_all(&g_j.ids, &g_res);
	return 0;
}

TEST(clone_vm_sibling_gets_eperm)
{
	size_t stack_len = 256 * 1024;
	char *stack;
	pid_t pid;
	int st;

	setup_joined(&g_j);
	stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	CHECK(stack != MAP_FAILED);
	memset(&g_res, 0, sizeof(g_res));
	/* Same mm, its own thread group (no CLONE_THREAD), its own stack. */
	pid = clone(clone_prober, stack + stack_len, CLONE_VM | SIGCHLD, NULL);
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check_probe(&g_res, "clone(CLONE_VM) child");
	/* Its end was not the end of the mm. */
	check_joined_intact(&g_j);
	munmap(stack, stack_len);
}

/* ---- vfork ----------------------------------------------------------- */

TEST(vfork_child_gets_eperm)
{
	struct probe_res res;
	pid_t pid;
	int st;

	setup_joined(&g_j);
	memset(&res, 0, sizeof(res));
	pid = vfork();
	if (pid == 0) {
		probe_all(&g_j.ids, &res);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check_probe(&res, "vfork child");
	check_joined_intact(&g_j);
}

/* After exec: a process of its own, not joined. */
HELPER(identity_after_vfork_exec)
{
	struct agnocast_reclaim_args rcl;
	uint64_t addrs[2];
	int dev;

	if (argc != 3)
		return 2;
	dev = atoi(argv[1]);
	g_report_fd = atoi(argv[2]);
	memset(&rcl, 0, sizeof(rcl));
	rcl.addrs = p2u(addrs);
	rcl.addrs_cap = 2;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl), ESRCH);
	return 0;
}

TEST(vfork_child_exec_leaves_the_parent_joined)
{
	char devs[16], reps[16];
	struct ag_pool pool;
	uint32_t pub;
	pid_t pid;
	int dev, st;

	/* Not close-on-exec: the helper uses it. */
	dev = open(AGNOCAST_DEVICE_PATH, O_RDWR);
	CHECK(dev >= 0);
	JOIN(dev, UNIT, 0, &pool);
	pub = ADD_PUB(dev, "ident/vfork-exec", 1, 0);
	snprintf(devs, sizeof(devs), "%d", dev);
	snprintf(reps, sizeof(reps), "%d", g_report_fd);
	pid = vfork();
	if (pid == 0) {
		execl("/proc/self/exe", "agnocast-ktest", "--helper",
		      "identity_after_vfork_exec", devs, reps, (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The child left our mm for its own: we are still joined. */
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);
	CHECK(shm_exists(getpid()));
	write_msg(pool.addr, 1);
	CHECK_EQ(PUBLISH(dev, pub, pool.addr, 16), 1);
}

/* ---- threads --------------------------------------------------------- */

struct thread_ctx {
	int dev;
	uint32_t pub, sub_id;	/* made by one thread, used by the other */
	struct ag_sub sub;
	struct ag_pool pool;
	uint64_t seq;
};

static void *thread_adds(void *p)
{
	struct thread_ctx *t = p;
	struct agnocast_add_process_args a;

	memset(&a, 0, sizeof(a));
	a.pool_size = 5 * UNIT;
	CHECK_OK(ag_ioctl(t->dev, AGNOCAST_ADD_PROCESS_CMD, &a));
	CHECK(a.flags & AGNOCAST_JOIN_EXISTING);
	CHECK_EQ(a.pool_addr, t->pool.addr);
	t->pub = ADD_PUB(t->dev, "ident/threads", 2, 0);
	t->sub = ADD_SUB(t->dev, "ident/threads", 2, 0);
	return NULL;
}

static void *thread_uses(void *p)
{
	struct thread_ctx *t = p;
	struct agnocast_entry e[2];

	/* The main thread's publication, received through its ids. */
	CHECK_EQ(RECEIVE(t->dev, t->sub.id, e, 2), 1);
	CHECK_EQ(e[0].seq, t->seq);
	CHECK_EQ(e[0].pid, getpid());
	CHECK_MSG(e[0].addr, getpid(), 7);
	RELEASE(t->dev, t->sub.id, t->seq);
	write_msg(t->pool.addr + 64, 8);
	t->seq = PUBLISH(t->dev, t->pub, t->pool.addr + 64, 16);
	return NULL;
}

TEST(threads_share_the_registration)
{
	struct thread_ctx t;
	struct agnocast_entry e[2];
	uint64_t addrs[4];
	struct status st;
	const struct st_rec *p;
	pthread_t th;

	memset(&t, 0, sizeof(t));
	t.dev = AG_OPEN();
	JOIN(t.dev, UNIT, 0, &t.pool);
	CHECK_OK(pthread_create(&th, NULL, thread_adds, &t));
	CHECK_OK(pthread_join(th, NULL));
	/* The thread's endpoints are ours, and stay after its end. */
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 1, 1, 1, 1, 0, 0);
	p = ST_PROC(&st, getpid());
	CHECK_EQ(ST_U64(p, "publishers"), 1);
	CHECK_EQ(ST_U64(p, "subscribers"), 1);
	status_free(&st);
	write_msg(t.pool.addr, 7);
	t.seq = PUBLISH(t.dev, t.pub, t.pool.addr, 16);
	CHECK_EQ(t.seq, 1);
	CHECK_OK(pthread_create(&th, NULL, thread_uses, &t));
	CHECK_OK(pthread_join(th, NULL));
	CHECK_EQ(t.seq, 2);
	CHECK_EQ(RECEIVE(t.dev, t.sub.id, e, 2), 1);
	CHECK_MSG(e[0].addr, getpid(), 8);
	REMOVE_PUB(t.dev, t.pub);
	/* Entry 2 held, entry 1 reclaimable. */
	CHECK_STATUS_TOTALS(1, 1, 0, 1, 2, 0);
	close(t.sub.fd);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 2, 0);
	CHECK_EQ(RECLAIM(t.dev, addrs, 4), 2);
	CHECK_EQ(addrs[0], t.pool.addr);
	CHECK_EQ(addrs[1], t.pool.addr + 64);
	CHECK_STATUS_TOTALS(1, 0, 0, 0, 0, 0);
}

/* ---- fork ------------------------------------------------------------ */

struct fork_ctx {
	int dev;
	uint32_t pub;
	struct ag_sub sub;
	struct ag_pool pool;
};

static void forked(int sock, void *arg)
{
	struct fork_ctx *c = arg;
	struct agnocast_entry e[2];
	struct agnocast_add_publisher_args a;
	struct ag_pool mine;
	uint32_t nr;
	short rev;

	/* Descriptors, not ids: not joined. */
	memset(&a, 0, sizeof(a));
	set_topic(a.topic, "ident/fork");
	a.qos.depth = 1;
	CHECK_ERR(ag_ioctl(c->dev, AGNOCAST_ADD_PUBLISHER_CMD, &a), ESRCH);
	CHECK_ERR(receive_raw(c->dev, c->sub.id, e, 2, &nr), ESRCH);
	CHECK_ERR(map_pool_raw(c->dev, getppid(), NULL), ESRCH);
	/* But the inherited subscriber fd is pollable here. */
	CHECK_EQ(poll_now(c->sub.fd), 0);
	TELL(sock, "polling");
	rev = poll_wait(c->sub.fd);
	SEND(sock, rev);
	/* Joined in its own right, the parent's ids are another's. */
	CHECK_OK(munmap(u2p(c->pool.addr), c->pool.max));
	JOIN(c->dev, UNIT, 0, &mine);
	CHECK_ERR(receive_raw(c->dev, c->sub.id, e, 2, &nr), EPERM);
	CHECK_ERR(release_raw(c->dev, c->sub.id, 1), EPERM);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exit");
}

TEST(forked_child_is_unjoined_but_polls_inherited_fd)
{
	struct agnocast_entry e[2];
	struct fork_ctx c;
	struct child ch;
	short rev;

	c.dev = AG_OPEN();
	JOIN(c.dev, UNIT, 0, &c.pool);
	c.pub = ADD_PUB(c.dev, "ident/fork", 1, 0);
	c.sub = ADD_SUB(c.dev, "ident/fork", 1, 0);
	ch = spawn(forked, &c);
	WAIT_FOR(ch.sock, "polling");
	WAIT_SLEEPING(ch.pid);
	write_msg(c.pool.addr, 1);
	CHECK_EQ(PUBLISH(c.dev, c.pub, c.pool.addr, 16), 1);
	RECV(ch.sock, rev);
	CHECK_EQ(rev, POLLIN);
	WAIT_FOR(ch.sock, "joined");
	/* The child's tries consumed nothing of ours. */
	CHECK_STATUS_TOTALS(2, 1, 1, 1, 1, 0);
	CHECK_EQ(RECEIVE(c.dev, c.sub.id, e, 2), 1);
	CHECK_EQ(e[0].seq, 1);
	TELL(ch.sock, "exit");
	REAP_OK(ch.pid);
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 1, 0);
}

/* ---- exec from a thread ------------------------------------------------ */

struct exec_ctx {
	int dev, sock;
};

static void *thread_execs(void *p)
{
	struct exec_ctx *x = p;
	char devs[16], socks[16], reps[16];

	snprintf(devs, sizeof(devs), "%d", x->dev);
	snprintf(socks, sizeof(socks), "%d", x->sock);
	snprintf(reps, sizeof(reps), "%d", g_report_fd);
	execl("/proc/self/exe", "agnocast-ktest", "--helper",
	      "identity_after_thread_exec", devs, socks, reps, (char *)NULL);
	FAIL("execl /proc/self/exe: %s", errname(errno));
}

static void thread_execer(int sock, void *arg)
{
	struct exec_ctx x;
	struct ag_pool pool;
	pthread_t th;

	(void)arg;
	x.dev = open(AGNOCAST_DEVICE_PATH, O_RDWR);
	CHECK(x.dev >= 0);
	x.sock = sock;
	JOIN(x.dev, UNIT, 0, &pool);
	ADD_PUB(x.dev, "ident/exec", 1, 0);
	ADD_SUB(x.dev, "ident/exec", 1, 0);
	TELL(sock, "joined");
	WAIT_FOR(sock, "exec");
	CHECK_OK(fcntl(sock, F_SETFD, 0));
	CHECK_OK(pthread_create(&th, NULL, thread_execs, &x));
	/* The exec ends this thread. */
	for (;;)
		pause();
}

HELPER(identity_after_thread_exec)
{
	struct agnocast_reclaim_args rcl;
	uint64_t addrs[2];
	int dev, sock;

	if (argc != 4)
		return 2;
	dev = atoi(argv[1]);
	sock = atoi(argv[2]);
	g_report_fd = atoi(argv[3]);
	memset(&rcl, 0, sizeof(rcl));
	rcl.addrs = p2u(addrs);
	rcl.addrs_cap = 2;
	CHECK_ERR(ag_ioctl(dev, AGNOCAST_RECLAIM_CMD, &rcl), ESRCH);
	TELL(sock, "execd");
	WAIT_FOR(sock, "exit");
	return 0;
}

TEST(exec_from_a_thread_unjoins)
{
	struct child c;

	c = spawn(thread_execer, NULL);
	WAIT_FOR(c.sock, "joined");
	CHECK_STATUS_TOTALS(1, 1, 1, 1, 0, 0);
	TELL(c.sock, "exec");
	WAIT_FOR(c.sock, "execd");
	/* Same pid, a new mm: the old registration and name are gone. */
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	CHECK(!shm_exists(c.pid));
	TELL(c.sock, "exit");
	REAP_OK(c.pid);
}

/* ---- cleanup waits for the mm's last task ----------------------------- */

static int sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void leaves_a_clone(int sock, void *arg)
{
	size_t stack_len = 64 * 1024;
	struct ag_pool pool;
	char *stack;
	pid_t pid;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "ident/last-task", 1, 0);
	stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	CHECK(stack != MAP_FAILED);
	pid = clone(sleeper, stack + stack_len, CLONE_VM | SIGCHLD, NULL);
	CHECK(pid > 0);
	SEND(sock, pid);
	/* Exit; the clone lives on in our mm. */
}

TEST(cleanup_waits_for_the_last_task_of_the_mm)
{
	struct status st;
	const struct st_rec *r;
	struct child c;
	pid_t k;

	/* The clone is orphaned by its parent's exit: make it ours. */
	CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
	c = spawn(leaves_a_clone, NULL);
	RECV(c.sock, k);
	REAP_OK(c.pid);
	STATUS_READ(&st);
	CHECK_TOTALS(&st, 1, 1, 1, 0, 0, 0);
	r = ST_PROC(&st, c.pid);
	CHECK(st_str(r, "state") && !strcmp(st_str(r, "state"), "live"));
	CHECK_EQ(ST_U64(r, "publishers"), 1);
	status_free(&st);
	CHECK(shm_exists(c.pid));
	KILL_REAP(k);
	CHECK_STATUS_TOTALS(0, 0, 0, 0, 0, 0);
	CHECK(!shm_exists(c.pid));
}

/* ---- an mm shared with another thread group cannot join ---------------- */

static int g_dev;
static int g_clone_join_err;

/* Tries to join for the mm it shares with its parent. */
static int clone_joiner(void *arg)
{
	struct agnocast_add_process_args a;

	(void)arg;
	memset(&a, 0, sizeof(a));
	a.pool_size = UNIT;
	g_clone_join_err = ag_ioctl(g_dev, AGNOCAST_ADD_PROCESS_CMD, &a) ? errno : 0;
	return 0;
}

/*
 * A registration must not outlive the thread group that made it: a
 * clone(CLONE_VM) child cannot join for the mm it shares, and neither can
 * the parent once its mm served another thread group.
 */
static void mm_sharer(int sock, void *arg)
{
	struct agnocast_add_process_args a;
	size_t stack_len = 256 * 1024;
	char *stack;
	pid_t k;
	int st;

	(void)arg;
	g_dev = AG_OPEN();
	stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	CHECK(stack != MAP_FAILED);
	g_clone_join_err = -1;
	k = clone(clone_joiner, stack + stack_len, CLONE_VM | SIGCHLD, NULL);
	CHECK(k > 0);
	CHECK_EQ(waitpid(k, &st, 0), k);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(g_clone_join_err, EPERM);
	memset(&a, 0, sizeof(a));
	a.pool_size = UNIT;
	CHECK_ERR(ag_ioctl(g_dev, AGNOCAST_ADD_PROCESS_CMD, &a), EPERM);
	TELL(sock, "refused");
}

TEST(shared_mm_cannot_join)
{
	struct child c = spawn(mm_sharer, NULL);

	WAIT_FOR(c.sock, "refused");
	REAP_OK(c.pid);
}

/* ---- a reused pid names the process that has it now -------------------- */

/* Joins, maps arg's pool (pid), tells, waits; its declaration pins it. */
static void pinning_mapper(int sock, void *arg)
{
	struct agnocast_pool_info info;
	struct ag_pool pool;
	pid_t owner;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	RECV(sock, owner);
	MAP_PEER(dev, owner, &info);
	TELL(sock, "mapped");
	WAIT_FOR(sock, "exit");
}

static void plain_joiner(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	SEND(sock, pool);
	WAIT_FOR(sock, "exit");
}

/*
 * A's pool outlives A (a mapper of its user pins it); A's pid number is
 * then given to a new process N (clone3 set_tid, as pid reuse would in
 * time), which joins: MAP_POOL of that pid gives N's pool, and A's is
 * still there by address.
 */
TEST(reused_pid_names_the_new_process_pool)
{
	struct agnocast_map_pool_args mp;
	struct agnocast_pool_info info;
	struct clone_args ca;
	struct ag_pool apool, npool, mypool;
	struct child a, m;
	int sv[2], fd, dev;
	pid_t k, n;

	a = spawn(plain_joiner, NULL);
	RECV(a.sock, apool);
	m = spawn(pinning_mapper, NULL);
	SEND(m.sock, a.pid);
	WAIT_FOR(m.sock, "mapped");
	TELL(a.sock, "exit");
	REAP_OK(a.pid);
	k = a.pid;

	CHECK_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = p2u(&k);
	ca.set_tid_size = 1;
	fflush(NULL);
	n = syscall(SYS_clone3, &ca, sizeof(ca));
	if (n < 0)
		FAIL("clone3 with set_tid %d: %s", k, errname(errno));
	if (n == 0) {
		close(sv[0]);
		dev = AG_OPEN();
		JOIN(dev, UNIT, 0, &npool);
		SEND(sv[1], npool);
		WAIT_FOR(sv[1], "exit");
		_exit(0);
	}
	close(sv[1]);
	CHECK_EQ(n, k);
	RECV(sv[0], npool);
	CHECK(npool.addr != apool.addr);
	dev = AG_OPEN();
	JOIN(dev, UNIT, 0, &mypool);
	CHECK_OK(map_pool_raw(dev, n, &info));
	CHECK_EQ(info.addr, npool.addr);
	memset(&mp, 0, sizeof(mp));
	mp.pool.addr = apool.addr;	/* the old one is there by address */
	CHECK_OK(ag_ioctl(dev, AGNOCAST_MAP_POOL_CMD, &mp));
	CHECK_EQ(mp.pool.addr, apool.addr);
	fd = mp.fd;
	if (fd >= 0)
		close(fd);
	TELL(sv[0], "exit");
	REAP_OK(n);
	TELL(m.sock, "exit");
	REAP_OK(m.pid);
}
