// SPDX-License-Identifier: Apache-2.0
/*
 * Other processes' pools (the rules are in libagnocast.h): a table of the
 * pools mapped here, each mapped once, read-only, at its own address, from
 * the descriptor MAP_POOL returns, and declared while mapped. A pool is
 * named by the pid we learnt (a listed or announced publisher) or by an
 * address inside it (an entry), and told apart from an older pool at the
 * same range by its file (device and inode).
 *
 * Why a pool stays mapped: entries over it are held (holds), the caller
 * asked (keep), or its owner may still publish (a pidfd that is not
 * readable yet). The table and every subscriber's hold counts are under
 * the one peers lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t peers_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lib_peer **table;
static uint32_t nr_peers, cap_peers;

void peers_lock(void)
{
	pthread_mutex_lock(&peers_mutex);
}

void peers_unlock(void)
{
	pthread_mutex_unlock(&peers_mutex);
}

/* ---- the table ---------------------------------------------------------------- */

static struct lib_peer *find_addr(uint64_t addr)
{
	uint32_t i;

	for (i = 0; i < nr_peers; i++)
		if (addr >= table[i]->addr && addr - table[i]->addr < table[i]->max)
			return table[i];
	return NULL;
}

static struct lib_peer *find_pid(pid_t pid)
{
	uint32_t i;

	for (i = 0; i < nr_peers; i++)
		if (table[i]->pid == pid && !table[i]->gone && !table[i]->inherited)
			return table[i];
	return NULL;
}

/* The first peer overlapping [addr, addr + len). */
static struct lib_peer *find_overlap(uint64_t addr, uint64_t len)
{
	uint32_t i;

	for (i = 0; i < nr_peers; i++)
		if (addr < table[i]->addr + table[i]->max && table[i]->addr < addr + len)
			return table[i];
	return NULL;
}

static int table_add(struct lib_peer *p)
{
	if (nr_peers == cap_peers) {
		uint32_t cap = cap_peers ? 2 * cap_peers : 16;
		struct lib_peer **t = sys_realloc(table, cap * sizeof(*t));

		if (!t)
			return lib_fail(ENOMEM, "malloc", "no memory for the table of mapped pools");
		table = t;
		cap_peers = cap;
	}
	table[nr_peers++] = p;
	return 0;
}

static void table_remove(struct lib_peer *p)
{
	uint32_t i;

	for (i = 0; i < nr_peers; i++)
		if (table[i] == p) {
			table[i] = table[--nr_peers];
			return;
		}
}

/* ---- mapping and unmapping ---------------------------------------------------------- */

/*
 * Undo one declaration of the pool at addr, named by its pid too (0: not
 * visible here): the program may also have declared, by its own MAP_POOL,
 * a newer pool that got the same range.
 */
static void undeclare(pid_t pid, uint64_t addr)
{
	struct agnocast_unmap_pool_args u = { .pid = pid, .addr = addr };

	/* EINVAL / ENOENT: nothing of ours to undo (gone with its range). */
	lib_ioctl(AGNOCAST_UNMAP_POOL_CMD, &u);
}

static void drop(struct lib_peer *p)
{
	munmap(U2P(p->addr), p->max);
	if (!p->inherited)
		undeclare(p->pid, p->addr);
	if (p->pidfd >= 0) {
		events_del(p->pidfd);
		close(p->pidfd);
	}
	table_remove(p);
	sys_free(p);
}

/* The owner's pidfd: readable once it exited; -1 (and gone) if it is already. */
static void watch_owner(struct lib_peer *p)
{
	p->pidfd = -1;
	if (p->pid <= 0)
		return;
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0) {
		p->gone = errno == ESRCH;
		return;
	}
	events_add(p->pidfd);
}

static bool owner_exited(struct lib_peer *p)
{
	struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };

	if (!p->gone && p->pidfd >= 0 && poll(&pf, 1, 0) == 1)
		p->gone = true;
	if (p->gone && p->pidfd >= 0) {
		events_del(p->pidfd);	/* readable for ever now */
		close(p->pidfd);
		p->pidfd = -1;
	}
	return p->gone;
}

/* Unmap p if nothing needs it any more; true if it was. */
static bool settle(struct lib_peer *p)
{
	if (p->holds || p->keep || p->inherited)
		return false;
	if (p->pidfd >= 0 && !owner_exited(p))
		return false;
	drop(p);
	return true;
}

static int map_failed(int err, const struct agnocast_pool_info *g, const char *how, const char *what)
{
	undeclare(g->pid, g->addr);
	return lib_fail(err, "mmap", "cannot map the pool of process %d (%s) at 0x%llx: %s",
			g->pid, how, (unsigned long long)g->addr, what);
}

/* lib_mmap_at refused the pool with err; line: what is in the way (EEXIST). */
static int map_refused(int err, const struct agnocast_pool_info *g, const char *how, const char *line)
{
	char what[200];

	if (err != EEXIST)
		return map_failed(err, g, how, "mmap refused it");
	snprintf(what, sizeof(what), "something else is mapped in its range here (%s)", line);
	return map_failed(err, g, how, what);
}

/*
 * Something else is at the range MAP_POOL answered. A forked child's
 * inherited mapping is dropped (the program may have unmapped it: never
 * trust it); an older pool whose file is not this one is stale, dropped
 * unless entries over it are held or the program asked to keep it
 * (agnocast_map_pool): its pointers into it must go on reading its bytes,
 * not the newer pool's. 1: it is this very pool (our declaration was
 * doubled: undone); 0: the range is free now.
 */
static int clear_range(const struct agnocast_pool_info *g, const struct stat *st, const char *how)
{
	struct lib_peer *old = find_overlap(g->addr, g->max);

	if (!old)
		return 0;
	if (!old->inherited && old->dev == st->st_dev && old->ino == st->st_ino) {
		undeclare(g->pid, g->addr);
		if (g->pid)
			old->pid = g->pid;
		old->size = g->size;
		if (old->pidfd < 0 && !old->gone)
			watch_owner(old);
		return 1;
	}
	if (old->holds)
		return map_failed(EBUSY, g, how, "an older pool at that range is still held here: release its entries first");
	if (old->keep)
		return map_failed(EBUSY, g, how,
				  "an older pool at that range is kept mapped here by agnocast_map_pool: agnocast_unmap_pool() it first");
	drop(old);
	return clear_range(g, st, how);
}

/* MAP_POOL answered g and fd: map it and add it to the table. */
static int map_answer(const struct agnocast_pool_info *g, int fd, const char *how, struct lib_peer **out)
{
	struct lib_peer *p;
	struct stat st;
	char line[120];
	int r;

	if (fstat(fd, &st) < 0)
		return map_failed(errno, g, how, "fstat of its descriptor failed");
	r = clear_range(g, &st, how);
	if (r)
		return r < 0 ? r : (*out = find_addr(g->addr), 0);
	r = lib_mmap_at(g->addr, g->max, PROT_READ, fd, line, sizeof(line));
	if (r < 0)
		return map_refused(-r, g, how, line);
	p = sys_calloc(1, sizeof(*p));
	if (!p || table_add(p)) {
		sys_free(p);
		munmap(U2P(g->addr), g->max);
		undeclare(g->pid, g->addr);
		return lib_fail(ENOMEM, "malloc", "no memory to record a mapped pool");
	}
	*p = (struct lib_peer){ .pid = g->pid, .addr = g->addr, .max = g->max, .size = g->size,
				.dev = st.st_dev, .ino = st.st_ino };
	watch_owner(p);
	*out = p;
	return 0;
}

/*
 * Map the pool named by pid (> 0) or addr unless mapped; *out: the peer,
 * or NULL for our own pool. Peers lock held.
 */
static int map_locked(pid_t pid, uint64_t addr, const char *how, struct lib_peer **out)
{
	struct agnocast_map_pool_args a = { .pool = { .pid = pid, .addr = pid ? 0 : addr } };
	int r;

	*out = pid ? find_pid(pid) : find_addr(addr);
	if (*out && !(*out)->inherited)
		return 0;
	*out = NULL;
	if (pid == lib.pid || (!pid && lib_own_range(addr, 0)))
		return 0;
	r = lib_ioctl(AGNOCAST_MAP_POOL_CMD, &a);
	if (r < 0)
		return lib_ioctl_fail(-r, "AGNOCAST_MAP_POOL_CMD", how);
	if (a.fd < 0)
		return 0;	/* our own pool */
	r = map_answer(&a.pool, a.fd, how, out);
	close(a.fd);
	return r;
}

/* ---- what the rest of the library asks ------------------------------------------------ */

int peers_map_pid(pid_t pid, const char *how)
{
	struct lib_peer *p;
	int r;

	peers_lock();
	r = map_locked(pid, 0, how, &p);
	if (r == 0 && p)
		settle(p);	/* an owner gone meanwhile: nothing to keep it for */
	peers_unlock();
	return r;
}

static struct lib_hold *sub_hold(struct agnocast_subscriber *sub, struct lib_peer *p, bool add)
{
	uint32_t i;

	for (i = 0; i < sub->nr_holds; i++)
		if (sub->holds[i].peer == p)
			return &sub->holds[i];
	if (!add)
		return NULL;
	if (sub->nr_holds == sub->cap_holds) {
		uint32_t cap = sub->cap_holds ? 2 * sub->cap_holds : 4;
		struct lib_hold *h = sys_realloc(sub->holds, cap * sizeof(*h));

		if (!h)
			return NULL;
		sub->holds = h;
		sub->cap_holds = cap;
	}
	sub->holds[sub->nr_holds] = (struct lib_hold){ p, 0 };
	return &sub->holds[sub->nr_holds++];
}

int peers_hold(struct agnocast_subscriber *sub, const struct agnocast_entry *e)
{
	struct lib_peer *p;
	struct lib_hold *h;
	int r;

	peers_lock();
	r = map_locked(0, e->addr, "the pool of a received entry", &p);
	if (r == 0 && p) {
		h = sub_hold(sub, p, true);
		if (h) {
			h->n++;
			p->holds++;
		} else {
			settle(p);
			r = lib_fail(ENOMEM, "malloc", "no memory to count held entries");
		}
	}
	peers_unlock();
	return r;
}

void peers_unhold(struct agnocast_subscriber *sub, uint64_t addr)
{
	struct lib_peer *p;
	struct lib_hold *h;

	peers_lock();
	p = find_addr(addr);
	h = p ? sub_hold(sub, p, false) : NULL;
	if (h && h->n) {
		h->n--;
		p->holds--;
		if (h->n == 0)
			*h = sub->holds[--sub->nr_holds];
		settle(p);
	}
	peers_unlock();
}

void peers_drop_sub(struct agnocast_subscriber *sub)
{
	uint32_t i;

	peers_lock();
	for (i = 0; i < sub->nr_holds; i++) {
		sub->holds[i].peer->holds -= sub->holds[i].n;
		settle(sub->holds[i].peer);
	}
	sys_free(sub->holds);
	sub->holds = NULL;
	sub->nr_holds = sub->cap_holds = 0;
	peers_unlock();
}

void peers_settle(void)
{
	uint32_t i;

	peers_lock();
	for (i = 0; i < nr_peers;)
		if (!settle(table[i]))
			i++;
	peers_unlock();
}

void peers_unmap_all(void)
{
	peers_lock();
	while (nr_peers)
		drop(table[0]);
	peers_unlock();
}

bool peers_readable(uint64_t addr, uint64_t len)
{
	struct lib_peer *p;
	bool ok;

	peers_lock();
	p = find_addr(addr);
	ok = p && len <= p->max && addr - p->addr <= p->max - len;
	peers_unlock();
	return ok;
}

/* Called with the peers lock held (fork.c). */
void peers_forked(void)
{
	uint32_t i;

	for (i = 0; i < nr_peers; i++) {
		struct lib_peer *p = table[i];

		if (p->pidfd >= 0)
			close(p->pidfd);
		p->pidfd = -1;
		p->holds = 0;
		p->keep = false;
		p->inherited = true;
	}
	pthread_mutex_init(&peers_mutex, NULL);
	pthread_mutex_lock(&peers_mutex);
}

/* ---- the public calls -------------------------------------------------------------------- */

static void info_of(const struct lib_peer *p, struct agnocast_pool_info *out)
{
	*out = (struct agnocast_pool_info){ .pid = p->pid, .addr = p->addr, .size = p->size,
					    .max = p->max };
}

int lib_map_pool(pid_t pid, uint64_t addr, struct agnocast_pool_info *out)
{
	struct lib_peer *p;
	int r = lib_acting("agnocast_map_pool");

	if (r)
		return r;
	if (pid < 0)
		return lib_fail(EINVAL, "agnocast_map_pool", "pid %d is negative: name a pool by pid > 0, or by pid 0 and an address inside it", (int)pid);
	peers_lock();
	r = map_locked(pid, addr, "asked for by agnocast_map_pool", &p);
	if (r == 0 && p)
		p->keep = true;
	if (r == 0 && out && p)
		info_of(p, out);
	peers_unlock();
	if (r == 0 && out && !p)
		*out = (struct agnocast_pool_info){ .pid = lib.pid, .addr = lib.addr,
						    .size = pool_size_now(), .max = lib.max };
	return r;
}

int lib_unmap_pool(uint64_t addr)
{
	struct lib_peer *p;
	int r = lib_acting("agnocast_unmap_pool");

	if (r)
		return r;
	peers_lock();
	p = find_addr(addr);
	if (!p || p->inherited)
		r = lib_fail(ENOENT, "agnocast_unmap_pool", "no pool of another process is mapped at 0x%llx",
			     (unsigned long long)addr);
	else if (p->holds)
		r = lib_fail(EBUSY, "agnocast_unmap_pool",
			     "%u entries over the pool at 0x%llx are held here: release them first",
			     p->holds, (unsigned long long)p->addr);
	else
		drop(p);
	peers_unlock();
	return r;
}

static int peers_list(struct agnocast_pool_info *out, uint32_t cap)
{
	uint32_t i, n = 0;

	peers_lock();
	for (i = 0; i < nr_peers;)
		if (!settle(table[i]))
			i++;
	for (i = 0; i < nr_peers; i++) {
		if (table[i]->inherited)
			continue;
		if (n < cap)
			info_of(table[i], &out[n]);
		n++;
	}
	peers_unlock();
	return (int)n;
}

int lib_mapped_pools(struct agnocast_pool_info *pools, uint32_t cap)
{
	int r = lib_acting("agnocast_mapped_pools");

	return r ? r : peers_list(pools, cap);
}
