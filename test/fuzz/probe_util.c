// SPDX-License-Identifier: Apache-2.0
/* Helpers of the probe scenarios (see probe.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "call.h"
#include "gen.h"
#include "kids.h"
#include "probe.h"

uint64_t *recl_buf(struct tctx *t)
{
	return (uint64_t *)(t->ar.rw + ARENA_RW_BYTES / 2);
}

int pcall(struct tctx *t, enum ioc ioc, void *arg, errset_t want, const char *rule)
{
	return fz_simple(t, ioc, arg, want, rule);
}

/* Fork a child running fn (single-threaded, not in the registry). */
void in_child(struct tctx *t, void (*fn)(struct tctx *t, void *arg), void *arg)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		child_setup(parent);
		pctx_after_fork(t->p, t, 0);
		t->p->kind = K_pair_child;
		t->p->may_exec = 0;
		fn(t, arg);
		_exit(0);
	}
	if (pid < 0)
		return;
	count_add(&S->spawned[K_pair_child], 1);
	reap_child(t, pid);
}

/* A result under a bound the supervisor may change: judged if it did not. */
void judge(struct tctx *t, uint32_t gen, int ok, const char *what, int e)
{
	if (param_stable(gen))
		REQUIRE(t, ok, "%s: %s", what, errname(e));
}

void p_topic(struct tctx *t, char *field)
{
	gen_topic(t, field, TN_PRIVATE);
}

static struct pubrec *free_pub(struct pctx *p)
{
	int i;

	for (i = 0; i < MAXPUB; i++)
		if (!p->pubs[i].live)
			return &p->pubs[i];
	return NULL;
}

static struct subrec *free_sub(struct pctx *p)
{
	int i;

	for (i = 0; i < MAXSUB; i++)
		if (!p->subs[i].live)
			return &p->subs[i];
	return NULL;
}

void p_keep_pub(struct tctx *t, uint32_t id, int fd)
{
	struct pubrec *pr = free_pub(t->p);

	if (pr)
		*pr = (struct pubrec){ .live = 1, .id = id, .fd = fd };
	else
		close(fd);	/* the publisher goes with it */
}

uint32_t p_add_pub(struct tctx *t, const char *topic, uint32_t depth, uint32_t flags)
{
	struct agnocast_add_publisher_args a;
	struct pubrec *pr = free_pub(t->p);

	if (!pr)
		return 0;
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = depth;
	a.qos.flags = flags;
	if (fz_simple(t, IOC_ADD_PUBLISHER, &a, ES(0) | ES(EDQUOT),
		      "ADD_PUBLISHER on a private topic"))
		return 0;
	memset(pr, 0, sizeof(*pr));
	pr->live = 1;
	pr->id = a.publisher_id;
	pr->fd = a.fd;
	pr->qos = a.qos;
	pr->ns = t->ns;
	memcpy(pr->topic, topic, sizeof(pr->topic));
	return pr->id;
}

int p_add_sub(struct tctx *t, const char *topic, uint32_t depth, uint32_t flags,
	      struct psub *s)
{
	struct agnocast_add_subscriber_args a;
	struct subrec *sr = free_sub(t->p);

	if (!sr)
		return -1;
	memset(&a, 0, sizeof(a));
	memcpy(a.topic, topic, sizeof(a.topic));
	a.qos.depth = depth;
	a.qos.flags = flags;
	if (fz_simple(t, IOC_ADD_SUBSCRIBER, &a, ES(0) | ES(EDQUOT),
		      "ADD_SUBSCRIBER on a private topic"))
		return -1;
	memset(sr, 0, sizeof(*sr));
	sr->live = 1;
	sr->id = s->id = a.subscriber_id;
	sr->fd = s->fd = a.fd;
	sr->qos = a.qos;
	sr->ns = t->ns;
	memcpy(sr->topic, topic, sizeof(sr->topic));
	return 0;
}

uint64_t p_scratch(struct tctx *t, uint32_t k)
{
	return t->p->pool.addr + t->p->floor - SCRATCH + 8 * (k % 512);
}

int p_publish(struct tctx *t, uint32_t pub, uint64_t addr, uint64_t *recl,
	      uint32_t cap, uint64_t *seq, uint32_t *nr)
{
	struct agnocast_publish_args a = { .publisher_id = pub, .addr = addr,
					   .reclaimed = (uintptr_t)recl,
					   .reclaimed_cap = cap };
	int e;

	outst_inc(t->p, addr);
	e = fz_simple(t, IOC_PUBLISH, &a, ES(0) | ES(EDQUOT), "PUBLISH on our publisher");
	if (e) {
		outst_dec(t->p, addr);
		return -1;
	}
	take_back(t, recl, a.nr_reclaimed, "PUBLISH");
	if (seq)
		*seq = a.seq;
	if (nr)
		*nr = a.nr_reclaimed;
	return 0;
}

uint32_t p_receive(struct tctx *t, uint32_t sub, struct agnocast_entry *e,
		   uint32_t cap, errset_t expect, const char *rule)
{
	struct agnocast_receive_args a = { .subscriber_id = sub, .entries_cap = cap,
					   .entries = (uintptr_t)e };

	if (fz_simple(t, IOC_RECEIVE, &a, expect, rule))
		return 0;
	return a.nr_entries;
}

void p_release(struct tctx *t, uint32_t sub, uint64_t seq)
{
	struct agnocast_release_args a = { .subscriber_id = sub, .seq = seq };

	fz_simple(t, IOC_RELEASE, &a, ES(0), "RELEASE of an entry we hold");
}

static void drain(struct tctx *t)
{
	struct agnocast_reclaim_args a;
	uint64_t buf[256];

	do {
		memset(&a, 0, sizeof(a));
		a.addrs = (uintptr_t)buf;
		a.addrs_cap = 256;
		fz_simple(t, IOC_RECLAIM, &a, ES(0), "RECLAIM");
		take_back(t, buf, a.nr_addrs, "RECLAIM");
	} while (a.nr_addrs == 256);
}

void p_cleanup(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_remove_args a = { 0 };
	int i;

	for (i = 0; i < MAXPUB; i++) {
		if (!p->pubs[i].live)
			continue;
		a.id = p->pubs[i].id;
		fz_simple(t, IOC_REMOVE_PUBLISHER, &a, ES(0), "removing our publisher");
		close(p->pubs[i].fd);
		p->pubs[i].live = 0;
	}
	for (i = 0; i < MAXSUB; i++) {
		if (!p->subs[i].live)
			continue;
		a.id = p->subs[i].id;
		fz_simple(t, IOC_REMOVE_SUBSCRIBER, &a,
			  p->subs[i].fd >= 0 ? ES(0) : ES(ENOENT),
			  "removing our subscriber (ENOENT once its fd is closed)");
		if (p->subs[i].fd >= 0)
			close(p->subs[i].fd);
		p->subs[i].live = 0;
	}
	drain(t);
}

void p_topic_info(struct tctx *t, const char *topic, struct agnocast_topic_info_args *ti,
		  struct agnocast_endpoint_info *subs, uint32_t subs_cap)
{
	memset(ti, 0, sizeof(*ti));
	memcpy(ti->topic, topic, sizeof(ti->topic));
	ti->subs = (uintptr_t)subs;
	ti->subs_cap = subs_cap;
	fz_simple(t, IOC_TOPIC_INFO, ti, ES(0), "TOPIC_INFO of our private topic");
}

int lowest_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

int count_sub_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], link[128];
	int n = 0;
	ssize_t len;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		n += !strcmp(link, "anon_inode:[agnocast]");
	}
	closedir(d);
	return n;
}

/* ---- peers --------------------------------------------------------- */

static void peer_unpriv(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		_exit(0);
}

static __attribute__((noreturn)) void peer_main(struct tctx *t, int up, int down,
						int flags)
{
	int attach = flags & (PEER_ATTACH | PEER_UNPRIV);

	struct peer msg = { .ok = 0 };
	char topic[AGNOCAST_TOPIC_NAME_MAX];
	struct psub s;
	char c;

	pctx_after_fork(t->p, t, 0);
	t->p->kind = K_pair_child;
	t->p->may_exec = 0;
	if (flags & PEER_UNPRIV)
		peer_unpriv();
	if (!attach) {
		struct agnocast_add_process_args a = { .pool_size = AGNOCAST_POOL_UNIT };

		msg.ok = ioctl(t->p->dev, AGNOCAST_ADD_PROCESS_CMD, &a) == 0;
		msg.addr = a.pool_addr;
		msg.max = a.pool_max;
	} else if (proc_join(t, AGNOCAST_POOL_UNIT, 0) == 0) {
		p_topic(t, topic);
		msg.pub = p_add_pub(t, topic, 1, 0);
		msg.ok = msg.pub && !p_add_sub(t, topic, 1, 0, &s);
		msg.sub = msg.ok ? s.id : 0;
		msg.addr = t->p->pool.addr;
		msg.max = t->p->pool.max;
	}
	if (write(up, &msg, sizeof(msg)) != sizeof(msg))
		_exit(0);
	while (read(down, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

int peer_start(struct tctx *t, struct peer *pe, int flags)
{
	struct peer msg;
	int up[2], down[2];
	pid_t parent = getpid();

	memset(pe, 0, sizeof(*pe));
	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC))
		return -1;
	pe->pid = fork();
	if (pe->pid == 0) {
		child_setup(parent);
		close(up[0]);
		close(down[1]);
		peer_main(t, up[1], down[0], flags);
	}
	close(up[1]);
	close(down[0]);
	pe->wr = down[1];
	if (pe->pid > 0)
		count_add(&S->spawned[K_pair_child], 1);
	if (pe->pid < 0 || read(up[0], &msg, sizeof(msg)) != sizeof(msg)) {
		close(up[0]);
		close(pe->wr);
		if (pe->pid > 0)
			reap_child(t, pe->pid);
		return -1;
	}
	close(up[0]);
	pe->ok = msg.ok;
	pe->pub = msg.pub;
	pe->sub = msg.sub;
	pe->addr = msg.addr;
	pe->max = msg.max;
	return 0;
}

void peer_stop(struct tctx *t, struct peer *pe, int kill_it)
{
	if (kill_it)
		kill(pe->pid, SIGKILL);
	close(pe->wr);
	reap_child(t, pe->pid);
}
