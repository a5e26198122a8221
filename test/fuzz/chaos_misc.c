// SPDX-License-Identifier: Apache-2.0
/* Member threads: joining, pools, introspection, odd commands (chaos.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "call.h"
#include "chaos.h"
#include "gen.h"
#include "reader.h"

const struct regrec *foreign_pick(struct tctx *t)
{
	return reg_pick(rng_u64(&t->r), getpid());
}

void expect_add(struct call *c, const struct pctx *p, int name_err, int bad,
		int amode, errset_t limits)
{
	c->valid = !name_err && !bad && amode == ARR_NORMAL;
	c->odd_array = amode != ARR_NORMAL;
	if (name_err) {
		c->expect = ES(name_err);
		c->rule = "the topic name's error";
	} else if (bad) {
		c->expect = ES(EINVAL);
		c->rule = "a reserved field, QoS or capacity out of bounds";
	} else if (p->joined) {
		c->expect = limits | (c->mode == ARG_RO ? ES(EFAULT) : ES(0)) |
			    (amode != ARR_NORMAL ? ES(EFAULT) : 0);
		c->rule = "a valid ADD";
	}
}

uint32_t foreign_id(struct tctx *t, const struct regrec *f, int sub)
{
	uint32_t id = f ? (sub ? f->sub : f->pub)[rng_below(&t->r, REG_IDS)] : 0;
	int ours;

	pthread_mutex_lock(&t->p->mu);
	ours = id_is_ours(t->p, sub, id);
	pthread_mutex_unlock(&t->p->mu);
	return id && !ours ? id : garbage_id(t);
}

void op_version(struct tctx *t)
{
	struct agnocast_version_args a;
	struct call c = { .ioc = IOC_VERSION, .shadow = &a, .valid = 1 };

	memset(&a, 0xa5, sizeof(a));
	c.mode = pick_arg_mode(&t->r, 10);
	c.expect = c.mode == ARG_RO ? ES(EFAULT) : ES(0);
	c.rule = "VERSION";
	if (fz_call(t, &c) == 0)
		REQUIRE(t, ((struct agnocast_version_args *)c.arg)->abi ==
			AGNOCAST_ABI_VERSION, "abi %u",
			((struct agnocast_version_args *)c.arg)->abi);
}

/* Sizes for ADD_PROCESS: valid, or wrong in one way (*err says how). */
static void join_sizes(struct tctx *t, struct agnocast_add_process_args *a,
		       int *err)
{
	uint64_t u = AGNOCAST_POOL_UNIT;

	a->pool_size = u * (1 + rng_below(&t->r, 3)) - rng_below(&t->r, 2) * rng_below(&t->r, u);
	a->pool_max = rng_pct(&t->r, 50) ? 0 : a->pool_size + rng_below(&t->r, 8 * u);
	*err = 0;
	switch (rng_below(&t->r, 12)) {
	case 0:
		a->pool_size = 0;
		*err = EINVAL;
		break;
	case 1:
		a->pool_max = 1 + rng_below(&t->r, a->pool_size - 1);
		*err = EINVAL;
		break;
	case 2:
		a->pool_max = AGNOCAST_POOL_SIZE_MAX + 1 + rng_below(&t->r, 1u << 30);
		*err = E2BIG;
		break;
	case 3:
		a->pool_size = UINT64_MAX - rng_below(&t->r, 4096);
		a->pool_max = 0;
		*err = E2BIG;
		break;
	}
}

void op_add_process(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_add_process_args a;
	struct call c = { .ioc = IOC_ADD_PROCESS, .shadow = &a };
	const struct agnocast_add_process_args *out;
	int err, bad = 0;

	memset(&a, 0, sizeof(a));
	join_sizes(t, &a, &err);
	a.reserved = gen_reserved(t, 5, &bad);
	a.pool_addr = rng_u64(&t->r);	/* out only */
	c.mode = pick_arg_mode(&t->r, 12);
	if (!p->joined && !err && !bad && (c.mode == ARG_NORMAL || c.mode == ARG_RO))
		return;		/* it would join: unjoined processes stay so */
	c.valid = !err && !bad;
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
	} else if (err) {
		/* "ignores the sizes" when joined: either reading is fine */
		c.expect = ES(err) | (p->joined ? ES(0) : 0);
		c.rule = "pool sizes out of bounds";
	} else {
		c.expect = c.mode == ARG_RO ? ES(EFAULT) : ES(0);
		c.rule = "joining again returns the same pool";
	}
	if (fz_call(t, &c) || c.mode != ARG_NORMAL) {
		if (c.mode == ARG_RO && c.valid && p->joined)
			win_hit(W_efault_stays_joined);
		return;
	}
	out = c.arg;
	REQUIRE(t, (out->flags & AGNOCAST_JOIN_EXISTING) &&
		out->pool_addr == p->pool.addr && out->pool_max == p->pool.max,
		"second ADD_PROCESS: flags 0x%x addr 0x%llx max %llu, ours 0x%llx %llu",
		out->flags, (unsigned long long)out->pool_addr,
		(unsigned long long)out->pool_max,
		(unsigned long long)p->pool.addr, (unsigned long long)p->pool.max);
	win_hit(W_join_existing);
}

void op_attach_pool(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_attach_pool_args a = { 0 };
	struct call c = { .ioc = IOC_ATTACH_POOL, .shadow = &a };
	errset_t busy = p->attached ? ES(EBUSY) : 0;
	int bad = 0, e;

	c.mode = pick_arg_mode(&t->r, 5);
	switch (rng_below(&t->r, 4)) {
	case 0:
		a.fd = p->pool.shm_fd >= 0 ? p->pool.shm_fd : p->dev;
		c.expect = p->pool.shm_fd >= 0 ? ES(EBUSY) : ES(EINVAL) | busy;
		break;
	case 1:
		a.fd = rng_pct(&t->r, 50) ? -1 : 100000 + (int)rng_below(&t->r, 1000);
		c.expect = ES(EBADF) | busy;
		break;
	default:
		a.fd = rng_pct(&t->r, 50) ? p->dev : p->dev2;
		c.expect = ES(EINVAL) | busy;
		break;
	}
	c.rule = "ATTACH_POOL of a descriptor that is not (or no longer) to be attached";
	c.valid = fcntl(a.fd, F_GETFD) >= 0;
	a.reserved = gen_reserved(t, 5, &bad);
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
		c.valid = 0;
	}
	if (!p->joined)
		c.expect = 0;	/* own_rules: ESRCH when valid */
	e = fz_call(t, &c);
	if (e == EBUSY)
		win_hit(W_attach_ebusy);
}

static struct mapping *map_record(struct pctx *p, const struct agnocast_pool_info *i)
{
	struct mapping *free = NULL;
	int k;

	for (k = 0; k < MAXMAP; k++) {
		struct mapping *m = &p->maps[k];

		if (m->used && m->info.pid == i->pid && m->info.addr == i->addr)
			return m;
		if (!m->used && !free)
			free = m;
	}
	if (free) {
		memset(free, 0, sizeof(*free));
		free->used = 1;
		free->info = *i;
	}
	return free;
}

/* A successful MAP_POOL of another's pool: keep, map or undo it. */
static void map_keep(struct tctx *t, const struct agnocast_pool_info *i, int fd)
{
	struct pctx *p = t->p;
	struct agnocast_unmap_pool_args u = { .pid = i->pid };
	struct mapping *m;
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);

	REQUIRE(t, fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && fdf >= 0 &&
		(fdf & FD_CLOEXEC), "MAP_POOL fd %d: F_GETFL 0x%x F_GETFD 0x%x (want a read-only, close-on-exec descriptor)",
		fd, fl, fdf);
	close(fd);
	pthread_mutex_lock(&p->mu);
	m = rng_pct(&t->r, 70) ? map_record(p, i) : NULL;
	if (m)
		m->decls++;
	pthread_mutex_unlock(&p->mu);
	if (!m)
		fz_simple(t, IOC_UNMAP_POOL, &u, ES(0),
			  "UNMAP_POOL right after our MAP_POOL of that pool");
}

/* After a MAP_POOL that failed with EFAULT: nothing may be declared. */
static void check_undeclared(struct tctx *t, int32_t pid)
{
	struct pctx *p = t->p;
	struct agnocast_unmap_pool_args u = { .pid = pid };
	int k, ours = 0;

	for (k = 0; k < MAXMAP; k++)
		ours |= p->maps[k].used && p->maps[k].info.pid == pid;
	if (!ours)
		fz_simple(t, IOC_UNMAP_POOL, &u, ES(EINVAL) | ES(ENOENT),
			  "MAP_POOL failed with EFAULT: nothing may have been declared");
	win_hit(W_undo_map_pool);
}

/* The pool to name: *expect says what must come of it. */
static void map_target(struct tctx *t, struct agnocast_map_pool_args *a,
		       errset_t *expect, int *own)
{
	struct pctx *p = t->p;
	const struct regrec *f = foreign_pick(t);
	errset_t any = ES(0) | ES(ENOENT) | ES(ENXIO) | ES(EDQUOT) | ES(EMFILE);

	*own = 0;
	switch (rng_below(&t->r, 8)) {
	case 0:
		a->pool.pid = getpid();
		*own = p->joined;
		*expect = p->attached ? ES(0) : p->joined ? ES(ENXIO) : ES(ESRCH);
		return;
	case 1:
		a->pool.pid = S->super_pid;	/* never joins */
		*expect = ES(ENOENT);
		return;
	case 2: case 3: case 4:
		a->pool.pid = f ? f->pid : 1;
		break;
	case 5: case 6:
		a->pool.addr = f && f->pool_addr ?
			       f->pool_addr + rng_below(&t->r, f->pool_max ?: 1) : 0;
		break;
	default:
		a->pool.addr = AGNOCAST_POOL_BASE +
			       rng_u64(&t->r) % (AGNOCAST_POOL_LIMIT - AGNOCAST_POOL_BASE);
		break;
	}
	*expect = any;
}

/* What a successful MAP_POOL answered; fd -1 exactly for our own pool. */
static void map_done(struct tctx *t, const struct agnocast_map_pool_args *a,
		     const struct agnocast_map_pool_args *out)
{
	struct pctx *p = t->p;
	int ours = p->joined && out->pool.pid == getpid() && out->pool.addr == p->pool.addr;

	check_pool_info(t, &out->pool, "MAP_POOL", 0);
	REQUIRE(t, !a->pool.pid || out->pool.pid == a->pool.pid,
		"MAP_POOL of pid %d returned pid %d", a->pool.pid, out->pool.pid);
	REQUIRE(t, a->pool.pid || (a->pool.addr >= out->pool.addr &&
		a->pool.addr - out->pool.addr < out->pool.max),
		"MAP_POOL of address 0x%llx returned 0x%llx+%llu",
		(unsigned long long)a->pool.addr, (unsigned long long)out->pool.addr,
		(unsigned long long)out->pool.max);
	REQUIRE(t, (out->fd < 0) == ours && (!ours || out->pool.max == p->pool.max),
		"MAP_POOL of pid %d addr 0x%llx (ours: pid %d addr 0x%llx): fd %d",
		out->pool.pid, (unsigned long long)out->pool.addr, (int)getpid(),
		(unsigned long long)p->pool.addr, out->fd);
	if (ours)
		win_hit(W_map_own);
	else
		map_keep(t, &out->pool, out->fd);
}

void op_map_pool(struct tctx *t)
{
	struct agnocast_map_pool_args a;
	struct call c = { .ioc = IOC_MAP_POOL, .shadow = &a };
	int own, bad = 0, e;

	memset(&a, 0, sizeof(a));
	map_target(t, &a, &c.expect, &own);
	c.rule = "MAP_POOL";
	c.valid = 1;
	c.mode = pick_arg_mode(&t->r, 8);
	a.fd = (int32_t)rng_u64(&t->r);	/* out only */
	if (rng_pct(&t->r, 5)) {
		bad = 1;
		switch (rng_below(&t->r, 3)) {
		case 0: a.pool.pid = -1 - (int32_t)rng_below(&t->r, 1000); break;
		case 1: a.pool.reserved = 1 + rng_below(&t->r, 100); break;
		default: a.reserved = 1u << rng_below(&t->r, 32); break;
		}
		c.expect = ES(EINVAL);
		c.rule = "negative pid or a reserved field";
		c.valid = 0;
	} else if (c.mode == ARG_RO) {
		c.expect = (c.expect & ~ES(0)) | ES(EFAULT);
	}
	if (!t->p->joined && !bad)
		c.expect = 0;
	e = fz_call(t, &c);
	if (e == EFAULT && c.mode == ARG_RO && a.pool.pid > 0 && !own)
		check_undeclared(t, a.pool.pid);
	if (e == EDQUOT)
		win_hit(W_edquot_mappings);
	if (e == ENXIO)
		win_hit(W_enxio);
	if (!e && c.mode == ARG_NORMAL)
		map_done(t, &a, c.arg);
}

void op_unmap_pool(struct tctx *t)
{
	struct pctx *p = t->p;
	struct agnocast_unmap_pool_args a = { 0 };
	struct call c = { .ioc = IOC_UNMAP_POOL, .shadow = &a, .valid = 1 };
	int k;

	if (rng_pct(&t->r, 50)) {
		pthread_mutex_lock(&p->mu);
		k = rng_below(&t->r, MAXMAP);
		if (p->maps[k].used && !p->maps[k].refs)
			map_drop(t, &p->maps[k]);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	switch (rng_below(&t->r, 3)) {
	case 0:
		a.pid = getpid();
		c.expect = p->joined ? ES(EINVAL) : 0;
		c.rule = "UNMAP_POOL of our own pool, never declared";
		break;
	case 1:
		a.pid = S->super_pid;
		c.expect = p->joined ? ES(ENOENT) : 0;
		c.rule = "UNMAP_POOL of a pid that never joined";
		break;
	default:
		a.addr = AGNOCAST_POOL_BASE + rng_u64(&t->r) % AGNOCAST_POOL_LIMIT;
		break;
	}
	if (rng_pct(&t->r, 5)) {
		if (rng_pct(&t->r, 50))
			a.pid = -1 - (int32_t)rng_below(&t->r, 100);
		else
			a.reserved = 1;
		c.expect = ES(EINVAL);
		c.rule = "negative pid or reserved field";
		c.valid = 0;
	}
	c.mode = pick_arg_mode(&t->r, 5);
	fz_call(t, &c);
}

/* Use another process's ids as if they were ours. */
void op_foreign(struct tctx *t)
{
	struct pctx *p = t->p;
	const struct regrec *f = foreign_pick(t);
	union {
		struct agnocast_publish_args pub;
		struct agnocast_release_args rel;
	} a;
	uint32_t i = rng_below(&t->r, REG_IDS);
	errset_t ex = ES(EPERM) | ES(ENOENT);
	int e;

	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	if (rng_pct(&t->r, 50)) {
		a.pub.publisher_id = foreign_id(t, f, 0);
		a.pub.addr = p->attached ? p->pool.addr + p->floor - SCRATCH : 0;
		a.pub.len = 0;
		e = fz_simple(t, IOC_PUBLISH, &a.pub, p->joined ? ex : 0,
			      "PUBLISH with another process's publisher id");
	} else {
		a.rel.subscriber_id = foreign_id(t, f, 1);
		a.rel.seq = f->seq[i];
		e = fz_simple(t, IOC_RELEASE, &a.rel, p->joined ? ex : 0,
			      "RELEASE with another process's subscriber id");
	}
	win_hit(e == EPERM ? W_foreign_eperm : W_foreign_enoent);
}

/* A command number that is none of the module's. */
static unsigned long unknown_cmd(struct tctx *t)
{
	unsigned int nr = rng_below(&t->r, IOC_UNKNOWN), size = rng_below(&t->r, 512);
	unsigned int dir = rng_below(&t->r, 4);
	unsigned long cmd;
	int k;

	if (rng_pct(&t->r, 50))	/* past the last command (nr IOC_UNKNOWN - 1) */
		nr = IOC_UNKNOWN + rng_below(&t->r, 256 - IOC_UNKNOWN);
	cmd = _IOC(dir, AGNOCAST_IOC_MAGIC, nr, size);
	for (k = 0; k < IOC_UNKNOWN; k++)
		if (cmd == iocs[k].cmd)
			return _IOC(dir, AGNOCAST_IOC_MAGIC, nr, size + 8);
	return cmd;
}

void op_unknown(struct tctx *t)
{
	uint64_t junk[2] = { rng_u64(&t->r), rng_u64(&t->r) };
	struct call c = { .ioc = IOC_UNKNOWN, .shadow = junk, .len = sizeof(junk) };
	struct subrec *sr = sub_pick_own(t);

	c.cmd = unknown_cmd(t);
	if (sr && !sr->exposed && sr->fd >= 0 && rng_pct(&t->r, 30)) {
		c.fd = sr->fd;	/* a subscriber descriptor has no ioctls */
		c.cmd = iocs[rng_below(&t->r, IOC_UNKNOWN)].cmd;
	}
	c.expect = ES(ENOTTY);
	c.rule = "unknown command";
	fz_call(t, &c);
}

/* The endpoint state of an id of ours, another process's, or nobody's. */
static uint32_t state_target(struct tctx *t, int sub, errset_t *expect,
			     const char **rule, int *depth)
{
	struct pubrec *pr = sub ? NULL : pub_pick_own(t);
	struct subrec *sr = sub ? sub_pick_own(t) : NULL;
	unsigned int pick = rng_below(&t->r, 10);

	*depth = -1;
	if (pick < 7 && (pr || sr)) {
		*expect = ES(0) | ((pr ? pr->exposed : sr->exposed) ? ES(ENOENT) : 0);
		*rule = "the state of our own endpoint";
		*depth = sr ? (int)sr->qos.depth : 0;
		return pr ? pr->id : sr->id;
	}
	*expect = ES(EPERM) | ES(ENOENT);
	*rule = "the state of an id not ours";
	return pick < 9 ? foreign_id(t, foreign_pick(t), sub) : garbage_id(t);
}

void op_endpoint_state(struct tctx *t)
{
	struct agnocast_endpoint_state_args a;
	const struct agnocast_endpoint_state_args *o;
	int sub = rng_pct(&t->r, 50), bad = 0, depth;
	struct call c = { .ioc = sub ? IOC_SUBSCRIBER_STATE : IOC_PUBLISHER_STATE,
			  .shadow = &a, .valid = 1 };

	memset(&a, 0xa5, sizeof(a));
	a.id = state_target(t, sub, &c.expect, &c.rule, &depth);
	a.reserved = gen_reserved(t, 3, &bad);
	c.mode = pick_arg_mode(&t->r, 6);
	if (c.mode == ARG_RO)
		c.expect = (c.expect & ~ES(0)) | ES(EFAULT);
	if (bad) {
		c.expect = ES(EINVAL);
		c.rule = "reserved field";
		c.valid = 0;
	}
	if (fz_call(t, &c) || c.mode != ARG_NORMAL)
		return;
	o = c.arg;
	win_hit(W_endpoint_state);
	REQUIRE(t, o->nr_publishers <= AGNOCAST_TOPIC_PUBS_MAX &&
		o->nr_subscribers <= AGNOCAST_TOPIC_SUBS_MAX &&
		o->nr_full <= o->nr_subscribers && (sub || !o->queued) &&
		(depth < 0 || (sub ? o->nr_subscribers >= 1 && o->queued <= (uint32_t)depth
				   : o->nr_publishers >= 1)),
		"%s of %u: publishers %u subscribers %u full %u queued %u (depth %d)",
		iocs[c.ioc].name, a.id, o->nr_publishers, o->nr_subscribers, o->nr_full,
		o->queued, depth);
}
