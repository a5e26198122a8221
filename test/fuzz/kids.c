// SPDX-License-Identifier: Apache-2.0
/* Forked, exec'd, CLONE_VM and vfork children (see kids.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"
#include "kids.h"

extern char **environ;

/* A system call that leaves errno alone (the TLS may not be ours). */
static long raw_syscall(long n, long a, long b, long c, long d, long e)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
#else
	long r = syscall(n, a, b, c, d, e);

	return r < 0 ? -errno : r;
#endif
}

void child_setup(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void check_status(struct tctx *t, pid_t pid, int st)
{
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == FAIL_EXIT))
		return;	/* a failure it found is recorded already */
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return;
	fz_fail(t, "child %d ended with %s %d", (int)pid,
		WIFEXITED(st) ? "exit status" : "signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int reap_child(struct tctx *t, pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	check_status(t, pid, st);
	return st;
}

int wait_or_kill(struct tctx *t, pid_t pid, unsigned int max_ms)
{
	uint64_t left = run_over() ? 0 : (S->deadline_ns - now_ns()) / 1000000;
	unsigned int ms = rng_below(&t->r, max_ms + 1);
	struct pollfd pfd = { .fd = pidfd_open_(pid), .events = POLLIN };
	int st = 0;

	if (ms > left)
		ms = left;
	if (pfd.fd >= 0 && poll(&pfd, 1, ms) == 0) {
		kill(pid, SIGKILL);
		count_add(&S->killed_parent, 1);
		win_hit(W_parent_kill);
		trace_add(t, TR_KILL, 0, (uint64_t)pid, ms, 0);
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	check_status(t, pid, st);
	return st;
}

static int dup_inheritable(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD, 3);
}

void exec_helper(const char *mode, uint64_t sid, int dev, int subfd,
		 uint32_t sub, uint32_t pub, const char *topic)
{
	char a[8][64];
	char *argv[] = { "agnocast-fuzz", "--helper", (char *)mode, a[0], a[1],
			 a[2], a[3], a[4], a[5], (char *)(topic ?: "-"), NULL };

	snprintf(a[0], 64, "%d", S->shm_fd);
	snprintf(a[1], 64, "%llx", (unsigned long long)sid);
	snprintf(a[2], 64, "%d", dev);
	snprintf(a[3], 64, "%d", subfd);
	snprintf(a[4], 64, "%u", sub);
	snprintf(a[5], 64, "%u", pub);
	raw_syscall(SYS_execveat, S->exe_fd, (long)"", (long)argv, (long)environ,
		    AT_EMPTY_PATH);
}

/* ---- forked children --------------------------------------------- */

/* The parent's subscriber descriptors this child inherited. */
struct inherited {
	int n;
	int fd[MAXSUB];
	uint32_t id[MAXSUB];
};

static void collect_inherited(struct pctx *p, struct inherited *in)
{
	int i;

	in->n = 0;
	for (i = 0; i < MAXSUB; i++)
		if (p->subs[i].live == 1 && p->subs[i].fd >= 0) {
			in->fd[in->n] = p->subs[i].fd;
			in->id[in->n++] = p->subs[i].id;
		}
}

/* Forget the parent's mappings (not ours to declare or undo). */
static void drop_parent_maps(struct pctx *p)
{
	int i;

	for (i = 0; i < MAXMAP; i++)
		if (p->maps[i].used && p->maps[i].mapped)
			munmap((void *)(uintptr_t)p->maps[i].info.addr,
			       p->maps[i].info.max);
	if (p->attached)
		munmap((void *)(uintptr_t)p->pool.addr, p->pool.max);
	if (p->pool.shm_fd >= 0)
		close(p->pool.shm_fd);
}

/* An unjoined child uses the parent's descriptors and ids. */
static void use_inherited(struct tctx *t, struct inherited *in)
{
	struct agnocast_receive_args ra = { .entries_cap = 1,
					    .entries = (uintptr_t)t->ar.rw };
	struct pollfd pfd = { .events = POLLIN };
	int i;

	for (i = 0; i < in->n; i++) {
		pfd.fd = in->fd[i];
		REQUIRE(t, poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLNVAL),
			"inherited subscriber fd %d: revents 0x%x", in->fd[i], pfd.revents);
		ra.subscriber_id = in->id[i];
		fz_simple(t, IOC_RECEIVE, &ra, ES(ESRCH),
			  "RECEIVE on the parent's subscriber from an unjoined child");
		win_hit(W_inherited_sub_fd);
		if (rng_pct(&t->r, 50)) {
			close(in->fd[i]);
			in->fd[i] = -1;
		}
	}
}

/* A partial join: ADD_PROCESS only (ENXIO for what needs a pool). */
static void partial_join(struct tctx *t)
{
	struct agnocast_add_process_args a = { .pool_size = AGNOCAST_POOL_UNIT };

	/* EPERM: we may have made a CLONE_VM child before (chaos_loop). */
	if (fz_simple(t, IOC_ADD_PROCESS, &a, ES(0) | ES(EDQUOT) | ES(ENOSPC) | ES(EPERM),
		      "a fresh ADD_PROCESS") == 0) {
		REQUIRE(t, a.flags == 0, "fresh ADD_PROCESS flags 0x%x", a.flags);
		t->p->joined = 1;
		t->p->pool.addr = a.pool_addr;
		t->p->pool.max = a.pool_max;
	}
}

static __attribute__((noreturn)) void child_main(struct tctx *t, pid_t parent,
						 uint64_t sid)
{
	struct pctx *p = t->p;
	struct inherited in;

	child_setup(parent);
	collect_inherited(p, &in);
	drop_parent_maps(p);
	t->sid = sid;
	rng_init(&t->r, S->seed, sid);
	pctx_after_fork(p, t, 1);
	p->kind = K_fork_child;
	p->may_exec = 0;
	use_inherited(t, &in);
	chaos_loop(t, rng_below(&t->r, 30));
	switch (rng_below(&t->r, 10)) {
	case 0:
		partial_join(t);
		break;
	case 1:
		exec_helper("chaos", stream_child(sid, 1), dup_inheritable(p->dev),
			    in.n && in.fd[0] >= 0 ? dup_inheritable(in.fd[0]) : -1,
			    in.n ? in.id[0] : 0, 0, NULL);
		break;
	default:
		proc_join(t, AGNOCAST_POOL_UNIT * (1 + rng_below(&t->r, 2)), 0);
		break;
	}
	chaos_loop(t, 20 + rng_below(&t->r, 300));
	_exit(0);
}

void op_fork(struct tctx *t)
{
	uint64_t sid = stream_child(t->sid, ++t->nchild);
	pid_t parent = getpid(), pid;

	pthread_mutex_lock(&t->p->mu);	/* a consistent copy for the child */
	pid = fork();
	if (pid == 0)
		child_main(t, parent, sid);
	pthread_mutex_unlock(&t->p->mu);
	trace_add(t, TR_FORK, pid < 0 ? errno : 0, (uint64_t)pid, sid, 0);
	if (pid < 0)
		return;
	count_add(&S->spawned[K_fork_child], 1);
	win_hit(W_fork_child);
	wait_or_kill(t, pid, 400);
}

/* ---- exec ---------------------------------------------------------- */

/* One of our subscribers' descriptor and id, dup'ed inheritable. */
static int sub_to_pass(struct tctx *t, uint32_t *id)
{
	struct subrec *sr = sub_pick_own(t);
	int fd = -1;

	*id = 0;
	pthread_mutex_lock(&t->p->mu);
	if (sr && sr->fd >= 0) {
		fd = dup_inheritable(sr->fd);
		*id = sr->id;
	}
	pthread_mutex_unlock(&t->p->mu);
	return fd;
}

void op_exec_child(struct tctx *t)
{
	uint64_t sid = stream_child(t->sid, ++t->nchild);
	int dev = dup_inheritable(t->p->dev), use_vfork = rng_pct(&t->r, 50);
	uint32_t sub;
	int subfd = sub_to_pass(t, &sub);
	pid_t parent = getpid(), pid;

	pid = use_vfork ? vfork() : fork();
	if (pid == 0) {
		if (!use_vfork)
			child_setup(parent);
		exec_helper("chaos", sid, dev, subfd, sub, 0, NULL);
		_exit(0);	/* no exec (out of memory?): nothing to check */
	}
	close(dev);
	if (subfd >= 0)
		close(subfd);
	trace_add(t, TR_EXEC, pid < 0 ? errno : 0, (uint64_t)pid, sid, use_vfork);
	if (pid < 0)
		return;
	count_add(&S->spawned[K_exec_helper], 1);
	wait_or_kill(t, pid, 600);
}

void op_exec_self(struct tctx *t)
{
	struct pubrec *pr = pub_pick_own(t);
	uint32_t sub;
	int subfd, dev;

	if (!t->p->may_exec || !rng_pct(&t->r, 20))
		return;
	dev = dup_inheritable(t->p->dev);
	subfd = sub_to_pass(t, &sub);
	win_hit(W_exec_self);
	count_add(&S->spawned[K_exec_helper], 1);
	trace_add(t, TR_EXEC, 0, (uint64_t)getpid(), 0, 1);
	exec_helper("self", stream_child(t->sid, ++t->nchild), dev, subfd, sub,
		    pr ? pr->id : 0, pr ? pr->topic : NULL);
	close(dev);	/* exec failed (fault injection, EAGAIN...) */
	if (subfd >= 0)
		close(subfd);
}

/* ---- CLONE_VM and vfork children -------------------------------- */

static void cjob_add(struct cjob *j, int ioc, const void *arg, size_t len)
{
	j->c[j->n].ioc = ioc;
	j->c[j->n].cmd = iocs[ioc].cmd;
	j->c[j->n].res = 1;
	memcpy(j->c[j->n].arg.raw, arg, len);
	j->n++;
}

/* Valid arguments for every process-acting ioctl (and a few others). */
void cjob_build(struct tctx *t, struct cjob *j, int vm)
{
	struct pctx *p = t->p;
	struct pubrec *pr = pub_pick_own(t);
	struct subrec *sr = sub_pick_own(t);
	uint32_t pub = pr ? pr->id : garbage_id(t), sub = sr ? sr->id : garbage_id(t);
	struct agnocast_add_process_args ap = { .pool_size = AGNOCAST_POOL_UNIT };
	struct agnocast_attach_pool_args at = { .fd = p->pool.shm_fd >= 0 ? p->pool.shm_fd : p->dev };
	struct agnocast_add_publisher_args apub = { .qos = { 1, 0 } };
	struct agnocast_add_subscriber_args asub = { .qos = { 1, 0 } };
	struct agnocast_remove_args rm = { .id = pub };
	struct agnocast_remove_args rms = { .id = sub };
	struct agnocast_publish_args pu = { .publisher_id = pub,
		.addr = p->pool.addr + p->floor - SCRATCH };
	struct agnocast_receive_args rc = { .subscriber_id = sub, .entries_cap = 1,
		.entries = (uintptr_t)t->ar.rw };
	struct agnocast_take_args tk = { .subscriber_id = sub };
	struct agnocast_release_args rl = { .subscriber_id = sub, .seq = 1 };
	struct agnocast_reclaim_args rcl = { .addrs = (uintptr_t)t->ar.rw, .addrs_cap = 1 };
	struct agnocast_map_pool_args mp = { .pool.pid = getpid() };
	struct agnocast_unmap_pool_args um = { .pid = getpid() };
	struct agnocast_version_args v = { 0 };
	struct agnocast_list_processes_args lp = { 0 };
	struct agnocast_endpoint_state_args ps = { .id = pub }, ss = { .id = sub };

	memset(j, 0, sizeof(*j));
	j->dev = p->dev;
	gen_topic(t, apub.topic, TN_PRIVATE);
	gen_topic(t, asub.topic, TN_PRIVATE);
	cjob_add(j, IOC_VERSION, &v, sizeof(v));
	if (vm)	/* another thread group on our mm: EPERM, joined or not */
		cjob_add(j, IOC_ADD_PROCESS, &ap, sizeof(ap));
	cjob_add(j, IOC_ATTACH_POOL, &at, sizeof(at));
	cjob_add(j, IOC_ADD_PUBLISHER, &apub, sizeof(apub));
	cjob_add(j, IOC_ADD_SUBSCRIBER, &asub, sizeof(asub));
	cjob_add(j, IOC_REMOVE_PUBLISHER, &rm, sizeof(rm));
	cjob_add(j, IOC_REMOVE_SUBSCRIBER, &rms, sizeof(rms));
	cjob_add(j, IOC_PUBLISH, &pu, sizeof(pu));
	cjob_add(j, IOC_RECEIVE, &rc, sizeof(rc));
	cjob_add(j, IOC_TAKE, &tk, sizeof(tk));
	cjob_add(j, IOC_RELEASE, &rl, sizeof(rl));
	cjob_add(j, IOC_RECLAIM, &rcl, sizeof(rcl));
	cjob_add(j, IOC_MAP_POOL, &mp, sizeof(mp));
	cjob_add(j, IOC_UNMAP_POOL, &um, sizeof(um));
	cjob_add(j, IOC_LIST_PROCESSES, &lp, sizeof(lp));
	cjob_add(j, IOC_PUBLISHER_STATE, &ps, sizeof(ps));
	cjob_add(j, IOC_SUBSCRIBER_STATE, &ss, sizeof(ss));
}

void cjob_run(struct cjob *j)
{
	int i;

	for (i = 0; i < j->n; i++) {
		long r = raw_syscall(SYS_ioctl, j->dev, (long)j->c[i].cmd,
				     (long)j->c[i].arg.raw, 0, 0);

		j->c[i].res = r < 0 ? r : 0;
	}
}

void cjob_check(struct tctx *t, const struct cjob *j, const char *who)
{
	int want = t->p->joined ? EPERM : ESRCH, i, e;

	for (i = 0; i < j->n; i++) {
		e = (int)-j->c[i].res;
		if (j->c[i].res == 1)
			fz_fail(t, "%s did not get to call %s", who, iocs[j->c[i].ioc].name);
		if (!iocs[j->c[i].ioc].acts) {
			REQUIRE(t, e == 0 || e == ENOMEM, "%s: %s -> %s", who,
				iocs[j->c[i].ioc].name, errname(e));
			continue;
		}
		if (j->c[i].ioc == IOC_ADD_PROCESS)
			want = EPERM;	/* an mm that serves two thread groups */
		else
			want = t->p->joined ? EPERM : ESRCH;
		REQUIRE(t, e == want || e == ENOMEM,
			"%s (another thread group sharing the mm of a%s process): %s -> %s, want %s",
			who, t->p->joined ? " joined" : "n unjoined",
			iocs[j->c[i].ioc].name, errname(e), errname(want));
	}
}

static int clone_fn(void *arg)
{
	cjob_run(arg);
	return 0;
}

void op_clone_vm(struct tctx *t)
{
	static __thread struct cjob j;
	size_t ssz = 64 * 1024;
	char *stack = mmap(NULL, ssz, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;
	int st = 0;

	if (stack == MAP_FAILED)
		return;
	cjob_build(t, &j, 1);
	pid = clone(clone_fn, stack + ssz, CLONE_VM | SIGCHLD, &j);
	trace_add(t, TR_CLONE_VM, pid < 0 ? errno : 0, (uint64_t)pid, 0, 0);
	if (pid > 0) {
		count_add(&S->spawned[K_clone_vm], 1);
		while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			cjob_check(t, &j, "CLONE_VM child");
			win_hit(W_clone_vm_eperm);
		} else {
			check_status(t, pid, st);
		}
	}
	munmap(stack, ssz);
}

void op_vfork(struct tctx *t)
{
	static __thread struct cjob j;
	uint64_t sid = stream_child(t->sid, ++t->nchild);
	int ex = rng_pct(&t->r, 30), dev = ex ? dup_inheritable(t->p->dev) : -1;
	pid_t pid;

	cjob_build(t, &j, 1);
	pid = vfork();
	if (pid == 0) {
		cjob_run(&j);
		if (ex)
			exec_helper("chaos", sid, dev, -1, 0, 0, NULL);
		raw_syscall(SYS_exit, 0, 0, 0, 0, 0);
	}
	if (dev >= 0)
		close(dev);
	trace_add(t, TR_VFORK, pid < 0 ? errno : 0, (uint64_t)pid, ex, 0);
	if (pid < 0)
		return;
	count_add(&S->spawned[ex ? K_exec_helper : K_vfork], 1);
	cjob_check(t, &j, "vfork child");
	win_hit(W_vfork_eperm);
	wait_or_kill(t, pid, ex ? 500 : 0);
}

/* ---- IPC namespaces ---------------------------------------------- */

void op_unshare_ipc(struct tctx *t)
{
	struct agnocast_list_topics_args lt = { 0 };
	struct agnocast_topic_info_args ti;
	struct pubrec *pr = pub_pick_own(t);
	int r;

	if (getuid() || t->unshares >= 3)
		return;
	r = unshare(CLONE_NEWIPC);
	trace_add(t, TR_UNSHARE, r ? errno : 0, 0, 0, 0);
	if (r)
		return;
	t->unshares++;
	t->ns = ipc_ns_now();
	win_hit(W_ipc_unshare);
	fz_simple(t, IOC_LIST_TOPICS, &lt, ES(0), "LIST_TOPICS in a fresh IPC namespace");
	REQUIRE(t, lt.nr_topics == 0, "a fresh IPC namespace has %u topics", lt.nr_topics);
	if (!pr)
		return;
	memset(&ti, 0, sizeof(ti));
	memcpy(ti.topic, pr->topic, sizeof(ti.topic));
	fz_simple(t, IOC_TOPIC_INFO, &ti, ES(ENOENT),
		  "TOPIC_INFO in a fresh IPC namespace of a topic of the old one");
	win_hit(W_ipc_isolated);
}

/* ---- the exec'd helper ------------------------------------------- */

struct helper_args {
	const char *mode;
	uint64_t sid;
	int dev, subfd;
	uint32_t sub, pub;
	const char *topic;
};

static int helper_parse(int argc, char **argv, struct helper_args *h)
{
	if (argc < 10 || shared_attach(atoi(argv[3])))
		return -1;
	h->mode = argv[2];
	h->sid = strtoull(argv[4], NULL, 16);
	h->dev = atoi(argv[5]);
	h->subfd = atoi(argv[6]);
	h->sub = strtoul(argv[7], NULL, 10);
	h->pub = strtoul(argv[8], NULL, 10);
	h->topic = strcmp(argv[9], "-") ? argv[9] : NULL;
	return 0;
}

static void helper_pctx(struct pctx *p, const struct helper_args *h)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->kind = K_exec_helper;
	p->sid = h->sid;
	p->dev = p->dev2 = h->dev;
	p->pool.shm_fd = -1;
	p->memfd = -1;
	p->outst = calloc(OUTST_SZ, sizeof(*p->outst));
	p->reg = reg_claim(getpid(), getuid());
	p->nthreads = 1;
	if (!p->outst)
		_exit(0);
}

/* What an exec'd, unjoined process sees through its inherited fds. */
static void helper_checks(struct tctx *t, const struct helper_args *h,
			  int old_gone)
{
	struct agnocast_version_args v;
	struct agnocast_receive_args ra = { .subscriber_id = h->sub, .entries_cap = 1,
					    .entries = (uintptr_t)t->ar.rw };
	struct agnocast_publish_args pa = { .publisher_id = h->pub };
	struct pollfd pfd = { .fd = h->subfd, .events = POLLIN };
	struct call c = { .ioc = IOC_UNKNOWN, .shadow = &v, .len = sizeof(v),
			  .expect = ES(ENOTTY), .rule = "ioctl on a subscriber descriptor" };

	fz_simple(t, IOC_VERSION, &v, ES(0), "VERSION through an inherited fd");
	if (h->subfd >= 0) {
		REQUIRE(t, poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLNVAL),
			"inherited subscriber fd %d: revents 0x%x", h->subfd, pfd.revents);
		REQUIRE(t, !old_gone || (pfd.revents & POLLHUP),
			"subscriber %u of the process we replaced by exec: no POLLHUP (0x%x)",
			h->sub, pfd.revents);
		if (pfd.revents & POLLHUP)
			win_hit(W_exec_hup);
		c.fd = h->subfd;
		c.cmd = iocs[IOC_VERSION].cmd;
		fz_call(t, &c);
	}
	if (h->sub)
		fz_simple(t, IOC_RECEIVE, &ra, ES(ESRCH), "RECEIVE after exec (a new process)");
	if (h->pub)
		fz_simple(t, IOC_PUBLISH, &pa, ES(ESRCH), "PUBLISH after exec (a new process)");
}

/* After exec of a single-threaded joined process: all of it is gone. */
static void helper_probe(struct tctx *t, const struct helper_args *h)
{
	struct agnocast_topic_info_args ti;
	char name[64];
	int fd;

	memset(&ti, 0, sizeof(ti));
	snprintf(ti.topic, sizeof(ti.topic), "%s", h->topic ?: "-");
	fz_simple(t, IOC_TOPIC_INFO, &ti, ES(ENOENT),
		  "TOPIC_INFO of a private topic whose only process exec'd");
	snprintf(name, sizeof(name), "/agnocast@%d", (int)getpid());
	fd = shm_open(name, O_RDONLY, 0);
	REQUIRE(t, fd < 0 && errno == ENOENT,
		"%s still exists after its process exec'd (open: %s)", name,
		fd < 0 ? errname(errno) : "ok");
	fd = proc_join(t, AGNOCAST_POOL_UNIT, 0);
	REQUIRE(t, fd == -EDQUOT || fd == -ENOSPC || (!fd && !t->p->pool.flags),
		"joining again after exec: %s, flags 0x%x", errname(-fd),
		t->p->pool.flags);
}

int helper_main(int argc, char **argv)
{
	static struct pctx p;
	struct helper_args h;
	struct tctx t;
	int probe;

	if (helper_parse(argc, argv, &h))
		return 2;
	probe = !strcmp(h.mode, "probe");
	helper_pctx(&p, &h);
	if (tctx_init(&t, &p, 0, h.sid))
		_exit(0);
	win_hit(W_exec_helper);
	helper_checks(&t, &h, probe);
	if (probe) {
		helper_probe(&t, &h);
		_exit(0);
	}
	chaos_loop(&t, 10 + rng_below(&t.r, 50));
	if (!strcmp(h.mode, "chaos") && rng_pct(&t.r, 40) &&
	    proc_join(&t, AGNOCAST_POOL_UNIT, 0) == 0)
		chaos_loop(&t, 50 + rng_below(&t.r, 250));
	_exit(0);
}
