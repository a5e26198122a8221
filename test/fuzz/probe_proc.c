// SPDX-License-Identifier: Apache-2.0
/*
 * Probe scenarios about processes and files: inherited subscriber
 * descriptors, exec, IPC namespaces, the pool's size, ATTACH_POOL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"
#include "kids.h"
#include "probe.h"

struct inh {
	int rd, wr;	/* the child waits for a word (or EOF) on rd */
	int fd;		/* its copy of the subscriber fd */
};

static void c_inherited(struct tctx *t, void *arg)
{
	struct inh *in = arg;
	struct pollfd pfd = { .fd = in->fd, .events = POLLIN };
	char c = 0;

	close(in->wr);
	while (read(in->rd, &c, 1) < 0 && errno == EINTR)
		;
	if (c != 'h')
		return;	/* exit: the last copy of the fd goes */
	REQUIRE(t, poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP),
		"inherited copy of a removed subscriber's fd: revents 0x%x", pfd.revents);
	win_hit(W_inherited_fd_hup);
}

static pid_t fork_inh(struct tctx *t, struct inh *in)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		child_setup(parent);
		pctx_after_fork(t->p, t, 0);
		t->p->kind = K_pair_child;
		c_inherited(t, in);
		_exit(0);
	}
	if (pid > 0)
		count_add(&S->spawned[K_pair_child], 1);
	return pid;
}

static struct subrec *sub_rec(struct pctx *p, uint32_t id)
{
	int i;

	for (i = 0; i < MAXSUB; i++)
		if (p->subs[i].live && p->subs[i].id == id)
			return &p->subs[i];
	return NULL;
}

/* A child's copy keeps the subscriber alive after we close ours. */
static void inherited_keeps(struct tctx *t, uint32_t pub, struct psub *s, pid_t pid,
			    int wr)
{
	struct agnocast_entry e[2];
	uint32_t n;

	close(s->fd);
	sub_rec(t->p, s->id)->fd = -1;
	p_receive(t, s->id, e, 2, ES(EAGAIN), "our fd is closed, a child's copy is not");
	if (p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL) == 0) {
		n = p_receive(t, s->id, e, 2, ES(0), "RECEIVE through a child's copy");
		REQUIRE(t, n == 1, "RECEIVE gave %u entries", n);
		p_release(t, s->id, e[0].seq);
	}
	close(wr);
	reap_child(t, pid);
	p_receive(t, s->id, e, 2, ES(ENOENT), "the last copy of the subscriber's fd is closed");
	sub_rec(t->p, s->id)->live = 0;
	win_hit(W_inherited_fd_keeps_sub);
}

void s_inherited(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_remove_args rm = { 0 };
	struct inh in;
	struct psub s;
	uint32_t pub;
	int pp[2];
	pid_t pid;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 4, 0);
	if (!pub || p_add_sub(t, topic, 4, 0, &s) || pipe2(pp, O_CLOEXEC))
		return p_cleanup(t);
	in.rd = pp[0];
	in.wr = pp[1];
	in.fd = s.fd;
	pid = fork_inh(t, &in);
	close(pp[0]);
	if (pid < 0) {
		close(pp[1]);
		return p_cleanup(t);
	}
	if (rng_pct(&t->r, 50)) {
		inherited_keeps(t, pub, &s, pid, pp[1]);
	} else {
		rm.id = s.id;
		pcall(t, IOC_REMOVE_SUBSCRIBER, &rm, ES(0), "removing our subscriber");
		if (write(pp[1], "h", 1) != 1)
			kill(pid, SIGKILL);
		close(pp[1]);
		reap_child(t, pid);
		close(s.fd);
		sub_rec(t->p, s.id)->live = 0;
	}
	p_cleanup(t);
}

/* A joined child exec's itself: the helper finds its old self gone. */
static void c_exec(struct tctx *t, void *arg)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	uint32_t pub;
	struct psub s;
	int dev, sfd;

	(void)arg;
	if (proc_join(t, AGNOCAST_POOL_UNIT, 0))
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || p_add_sub(t, topic, 1, 0, &s) ||
	    p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL))
		return;
	dev = fcntl(t->p->dev, F_DUPFD, 3);
	sfd = fcntl(s.fd, F_DUPFD, 3);
	count_add(&S->spawned[K_exec_helper], 1);
	exec_helper("probe", stream_child(t->sid, ++t->nchild), dev, sfd, s.id, pub, topic);
}

void s_exec(struct tctx *t)
{
	in_child(t, c_exec, NULL);
}

static void c_ipc(struct tctx *t, void *arg)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct agnocast_list_topics_args lt = { 0 };
	struct agnocast_topic_info_args ti;
	struct agnocast_entry e[2];
	uint32_t pub;
	struct psub s;

	(void)arg;
	if (proc_join(t, AGNOCAST_POOL_UNIT, 0))
		return;
	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	if (!pub || unshare(CLONE_NEWIPC))
		return;
	t->ns = ipc_ns_now();
	pcall(t, IOC_LIST_TOPICS, &lt, ES(0), "LIST_TOPICS");
	REQUIRE(t, lt.nr_topics == 0, "a fresh IPC namespace lists %u topics", lt.nr_topics);
	memset(&ti, 0, sizeof(ti));
	memcpy(ti.topic, topic, sizeof(ti.topic));
	pcall(t, IOC_TOPIC_INFO, &ti, ES(ENOENT), "a topic of the namespace we left");
	if (p_add_sub(t, topic, 1, 0, &s) ||
	    p_publish(t, pub, p_scratch(t, 0), NULL, 0, NULL, NULL))
		return;
	p_receive(t, s.id, e, 2, ES(EAGAIN),
		  "a subscriber in another IPC namespace gets nothing from our publisher");
	p_topic_info(t, topic, &ti, NULL, 0);
	REQUIRE(t, ti.nr_pubs == 0 && ti.nr_subs == 1,
		"topic of the new namespace: %u publishers, %u subscribers", ti.nr_pubs,
		ti.nr_subs);
	win_hit(W_ipc_isolated);
}

void s_ipc(struct tctx *t)
{
	if (!getuid())
		in_child(t, c_ipc, NULL);
}

/* ---- the pool's size and its attachment --------------------------- */

static void range_publish(struct tctx *t, uint32_t pub, uint64_t addr, uint64_t len,
			  int ok, const char *rule)
{
	struct agnocast_publish_args a = { .publisher_id = pub, .addr = addr, .len = len,
					   .reclaimed = (uintptr_t)recl_buf(t),
					   .reclaimed_cap = 8 };
	struct pctx *p = t->p;
	int track = addr - p->pool.addr <= p->pool.max, e;	/* len 0 at the end */

	if (track)
		outst_inc(p, addr);
	e = pcall(t, IOC_PUBLISH, &a, ok ? ES(0) | ES(EDQUOT) : ES(ERANGE), rule);
	if (track && e)
		outst_dec(p, addr);
	if (!e)
		take_back(t, recl_buf(t), a.nr_reclaimed, "PUBLISH");
	if (e == ERANGE)
		win_hit(W_shrink_erange);
}

static int resize(struct tctx *t, uint64_t to)
{
	int r = ftruncate(t->p->pool.shm_fd, to);

	trace_add(t, TR_TRUNCATE, r ? errno : 0, to, 0, 0);
	return r;
}

/* PUBLISH is in range exactly when inside the pool's current size. */
void s_range(struct tctx *t)
{
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct pctx *p = t->p;
	uint64_t b = p->pool.addr, fl = p->floor, s, s2;
	uint32_t pub;

	p_topic(t, topic);
	pub = p_add_pub(t, topic, 1, 0);
	s = fl + 4096 * rng_below(&t->r, (p->pool.max - fl) / 4096 + 1);
	if (!pub || resize(t, s))
		return p_cleanup(t);
	win_hit(s > fl ? W_pool_grow : W_pool_shrink);
	range_publish(t, pub, b + s, 0, 1, "an empty range at the end of the pool");
	range_publish(t, pub, b, s, 1, "the whole pool");
	range_publish(t, pub, b + s - 1, 2, 0, "a range across the end of the pool");
	range_publish(t, pub, b + s, 1, 0, "a byte past the end of the pool");
	range_publish(t, pub, b - 1, 1, 0, "a byte before the pool");
	range_publish(t, pub, b + 8, UINT64_MAX - 4, 0, "a length that wraps around");
	s2 = 4096 * (1 + rng_below(&t->r, fl / 4096 - 1));
	if (!resize(t, s2)) {
		win_hit(W_pool_shrink);
		range_publish(t, pub, b + s2 - 1, 1, 1, "the last byte of a shrunk pool");
		range_publish(t, pub, b + s2, 1, 0, "past the end of a shrunk pool");
	}
	resize(t, fl);
	p_cleanup(t);
}

static int attach(struct tctx *t, int fd, errset_t want, const char *rule)
{
	struct agnocast_attach_pool_args a = { .fd = fd };

	return pcall(t, IOC_ATTACH_POOL, &a, want, rule);
}

/* Map name at addr as asked, try to attach it, undo. */
static void attach_wrong(struct tctx *t, const char *name, int oflag, int prot,
			 int flags, uint64_t at, off_t off, const char *rule)
{
	void *m = MAP_FAILED;
	int fd = shm_open(name, oflag, 0600);

	if (fd < 0)
		return;
	if (ftruncate(fd, 2 * AGNOCAST_POOL_UNIT) && (oflag & O_RDWR))
		goto out;
	if (at)
		m = mmap((void *)(uintptr_t)at, AGNOCAST_POOL_UNIT, prot,
			 flags | MAP_FIXED_NOREPLACE, fd, off);
	if (!at || m != MAP_FAILED)
		attach(t, fd, ES(EINVAL), rule);
out:
	if (m != MAP_FAILED)
		munmap(m, AGNOCAST_POOL_UNIT);
	close(fd);
}

static void attach_wrongs(struct tctx *t, const char *name, const char *other)
{
	uint64_t a = t->p->pool.addr;

	attach(t, -1, ES(EBADF), "ATTACH_POOL of fd -1");
	attach(t, t->p->dev, ES(EINVAL), "ATTACH_POOL of /dev/agnocast");
	attach_wrong(t, other, O_CREAT | O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0,
		     "ATTACH_POOL of a file with another name");
	shm_unlink(other);
	attach_wrong(t, name, O_CREAT | O_RDWR, 0, 0, 0, 0,
		     "ATTACH_POOL of the pool file, not mapped");
	attach_wrong(t, name, O_RDWR, PROT_READ | PROT_WRITE, MAP_PRIVATE, a, 0,
		     "ATTACH_POOL of the pool file mapped private");
	attach_wrong(t, name, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, a + 4096, 0,
		     "ATTACH_POOL of the pool file mapped elsewhere");
	attach_wrong(t, name, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, a, 4096,
		     "ATTACH_POOL of the pool file mapped from offset 4096");
	attach_wrong(t, name, O_RDONLY, PROT_READ, MAP_SHARED, a, 0,
		     "ATTACH_POOL of a read-only descriptor of the pool file");
}

static void c_attach(struct tctx *t, void *arg)
{
	struct agnocast_add_process_args ap = { .pool_size = AGNOCAST_POOL_UNIT };
	struct agnocast_map_pool_args mp = { .pool.pid = getpid() };
	struct agnocast_add_publisher_args pa = { .qos = { 1, 0 } };
	char name[64], other[64];
	uint32_t slot;
	void *m;
	int fd;

	(void)arg;
	if (pcall(t, IOC_ADD_PROCESS, &ap, ES(0) | ES(EDQUOT) | ES(ENOSPC), "ADD_PROCESS"))
		return;
	t->p->joined = 1;
	t->p->pool.addr = ap.pool_addr;
	t->p->pool.max = ap.pool_max;
	p_topic(t, pa.topic);
	pcall(t, IOC_ADD_PUBLISHER, &pa, ES(ENXIO) | ES(EDQUOT), "ADD_PUBLISHER before ATTACH_POOL");
	pcall(t, IOC_MAP_POOL, &mp, ES(ENXIO), "MAP_POOL of our own unattached pool");
	snprintf(name, sizeof(name), "/agnocast@%d", (int)getpid());
	snprintf(other, sizeof(other), "/agnocast-fz@%d", (int)getpid());
	slot = jw_enter(getpid());
	attach_wrongs(t, name, other);
	fd = shm_open(name, O_RDWR, 0);
	m = mmap((void *)(uintptr_t)ap.pool_addr, ap.pool_max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	REQUIRE(t, fd >= 0 && m != MAP_FAILED, "shm_open/mmap of %s", name);
	attach(t, fd, ES(0), "ATTACH_POOL done right");
	jw_leave(slot, getpid());
	attach(t, fd, ES(EBUSY), "a second ATTACH_POOL");
	win_hit(W_attach_ebusy);
	pcall(t, IOC_ADD_PUBLISHER, &pa, ES(0) | ES(EDQUOT), "ADD_PUBLISHER once attached");
}

void s_attach(struct tctx *t)
{
	in_child(t, c_attach, NULL);
}


/*
 * No descriptor left (RLIMIT_NOFILE at the lowest free one): ADD_SUBSCRIBER
 * and MAP_POOL fail with EMFILE and leave nothing behind.
 */
static void c_emfile(struct tctx *t, void *arg)
{
	struct agnocast_add_subscriber_args as;
	struct agnocast_add_publisher_args ap = { .qos = { 1, 0 } };
	struct agnocast_map_pool_args mp = { 0 };
	struct agnocast_unmap_pool_args um = { 0 };
	struct agnocast_topic_info_args ti;
	struct rlimit rl;
	struct peer *pe = arg;
	char topic[AGNOCAST_TOPIC_NAME_MAX];

	if (proc_join(t, AGNOCAST_POOL_UNIT, 0))
		return;
	p_topic(t, topic);
	if (!p_add_pub(t, topic, 1, 0))
		return;
	rl.rlim_cur = rl.rlim_max = lowest_fd();
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return;
	memset(&as, 0, sizeof(as));
	memcpy(as.topic, topic, sizeof(as.topic));
	as.qos.depth = 1;
	pcall(t, IOC_ADD_SUBSCRIBER, &as, ES(EMFILE), "ADD_SUBSCRIBER with no descriptor free");
	memcpy(ap.topic, topic, sizeof(ap.topic));
	ap.qos.depth = 1;
	pcall(t, IOC_ADD_PUBLISHER, &ap, ES(EMFILE), "ADD_PUBLISHER with no descriptor free");
	p_topic_info(t, topic, &ti, NULL, 0);
	REQUIRE(t, ti.nr_subs == 0 && ti.nr_pubs == 1,
		"failed ADDs left %u subscribers, %u publishers (1 is ours)", ti.nr_subs,
		ti.nr_pubs);
	mp.pool.pid = um.pid = pe->pid;
	pcall(t, IOC_MAP_POOL, &mp, ES(EMFILE) | ES(EDQUOT), "MAP_POOL with no descriptor free");
	pcall(t, IOC_UNMAP_POOL, &um, ES(EINVAL), "nothing was declared by the failed MAP_POOL");
	win_hit(W_emfile);
}

void s_emfile(struct tctx *t)
{
	struct peer pe;

	if (peer_start(t, &pe, PEER_ATTACH))
		return;
	if (pe.ok)
		in_child(t, c_emfile, &pe);
	peer_stop(t, &pe, 1);
}
