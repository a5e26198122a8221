// SPDX-License-Identifier: Apache-2.0
/* Process and thread records, blocks, entries, held entries (see proc.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "call.h"
#include "proc.h"

#define BLK_MAGIC 0xb10cf00du

struct blkhdr {
	uint32_t magic;
	int32_t pid;
	uint64_t serial;
	uint32_t sum;
	uint32_t len;
};

int pctx_init(struct pctx *p, enum kind kind, uint64_t sid, uid_t uid)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->kind = kind;
	p->sid = sid;
	p->pool.shm_fd = -1;
	p->memfd = -1;
	p->dev = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (p->dev < 0)
		return -errno;
	p->dev2 = open(AGNOCAST_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (p->dev2 < 0)
		p->dev2 = p->dev;
	p->outst = calloc(OUTST_SZ, sizeof(*p->outst));
	if (!p->outst)
		return -ENOMEM;
	p->reg = reg_claim(getpid(), uid);
	return 0;
}

static struct trace *trace_claim(pid_t tid, uint64_t sid)
{
	uint32_t n = __atomic_fetch_add(&S->trace_next, 1, __ATOMIC_RELAXED);
	struct trace *tr = &S->traces[n % NTRACE];

	tr->n = 0;
	tr->sid = sid;
	tr->tid = tid;
	tr->pid = getpid();
	return tr;
}

/* Our make-it-fail, if we may write it (CAP_SYS_RESOURCE: root only). */
static int fi_open(void)
{
	int fd = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);

	if (fd >= 0 && pwrite(fd, "0", 1, 0) != 1) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int tctx_init(struct tctx *t, struct pctx *p, int idx, uint64_t sid)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->p = p;
	t->idx = idx;
	t->sid = sid;
	rng_init(&t->r, S->seed, sid);
	t->tid = gettid();
	t->tr = trace_claim(t->tid, sid);
	t->fi_fd = p->fi ? fi_open() : -1;
	t->ns = ipc_ns_now();
	err = arena_init(&t->ar);
	if (err)
		return err;
	t->held_cap = 256;
	t->held = malloc(t->held_cap * sizeof(*t->held));
	return t->held ? 0 : -ENOMEM;
}

void tctx_fini(struct tctx *t)
{
	if (t->fi_fd >= 0)
		close(t->fi_fd);
	arena_free(&t->ar);
	free(t->held);
}

void pctx_after_fork(struct pctx *p, struct tctx *t, int public)
{
	static struct regrec hidden;

	int i;

	pthread_mutex_init(&p->mu, NULL);
	if (p->memfd >= 0)	/* the parent's mm */
		close(p->memfd);
	p->memfd = -1;
	p->joined = 0;
	p->attached = 0;
	p->pool.shm_fd = -1;
	p->nblk = 0;
	p->outst_total = 0;
	memset(p->outst, 0, OUTST_SZ * sizeof(*p->outst));
	memset(p->maps, 0, sizeof(p->maps));
	p->nthreads = 1;
	p->clone_busy = 0;
	/* Endpoints are the parent's: keep the fds (inherited), not as ours. */
	for (i = 0; i < MAXPUB; i++)
		p->pubs[i].live = 0;
	for (i = 0; i < MAXSUB; i++)
		p->subs[i].live = 0;
	p->ndead[0] = p->ndead[1] = 0;	/* the parent's live ids are not dead */
	t->tid = gettid();
	t->nheld = 0;
	t->tr = trace_claim(t->tid, t->sid);
	if (t->fi_fd >= 0) {	/* it was the parent thread's make-it-fail */
		close(t->fi_fd);
		t->fi_fd = p->fi ? fi_open() : -1;
	}
	p->reg = public ? reg_claim(getpid(), getuid()) : &hidden;
}

uint64_t ipc_ns_now(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/ipc", &st))
		return 0;
	return st.st_ino;
}

/* Blocks: [pool.addr, pool.addr + floor - SCRATCH) in BLK units. */
static void blocks_init(struct pctx *p)
{
	uint32_t i;

	p->floor = p->pool.size;
	p->nblk = (p->floor - SCRATCH) / BLK;
	p->blkfree = malloc(p->nblk);
	for (i = 0; p->blkfree && i < p->nblk; i++)
		p->blkfree[i] = 1;
	if (!p->blkfree)
		p->nblk = 0;
}

int proc_join(struct tctx *t, uint64_t size, uint64_t max)
{
	struct pctx *p = t->p;
	const char *step = "?";
	uint32_t slot = jw_enter(getpid());
	int err;

	err = fz_join(p->dev, size, max, &p->pool, &step);
	jw_leave(slot, getpid());
	trace_add(t, TR_JOIN, -err, size, max, p->pool.addr);
	if (err) {
		if (strcmp(step, "ADD_PROCESS") != 0)
			fz_fail(t, "join: %s failed: %s (ADD_PROCESS had succeeded: addr 0x%llx size %llu max %llu)",
				step, errname(-err), (unsigned long long)p->pool.addr,
				(unsigned long long)p->pool.size,
				(unsigned long long)p->pool.max);
		return err;
	}
	p->joined = 1;
	p->attached = 1;
	blocks_init(p);
	p->reg->pool_addr = p->pool.addr;
	p->reg->pool_max = p->pool.max;
	if (getuid())
		win_hit(W_unpriv_join);
	return 0;
}

int blk_take(struct pctx *p)
{
	uint32_t i, start;

	if (!p->nblk || p->outst_total >= OUTST_MAX)
		return -1;
	start = (uint32_t)(p->serial * 2654435761u) % p->nblk;
	for (i = 0; i < p->nblk; i++) {
		uint32_t b = (start + i) % p->nblk;

		if (p->blkfree[b]) {
			p->blkfree[b] = 0;
			return b;
		}
	}
	return -1;
}

uint64_t blk_addr(const struct pctx *p, int i)
{
	return p->pool.addr + (uint64_t)i * BLK;
}

static uint32_t blk_sum(const uint8_t *b)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < BLK; i++)
		if (i < offsetof(struct blkhdr, sum) || i >= sizeof(struct blkhdr))
			h = (h ^ b[i]) * 16777619u;
	return h;
}

void blk_write(struct pctx *p, int i)
{
	uint8_t *b = (uint8_t *)(uintptr_t)blk_addr(p, i);
	struct blkhdr *h = (struct blkhdr *)b;
	uint64_t x = ++p->serial * 0x9e3779b97f4a7c15ULL;
	size_t k;

	h->magic = BLK_MAGIC;
	h->pid = getpid();
	h->serial = p->serial;
	h->len = BLK;
	for (k = sizeof(*h); k < BLK; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[k] = (uint8_t)x;
	}
	h->sum = blk_sum(b);
}

static uint32_t outst_slot(const struct pctx *p, uint64_t addr, int insert)
{
	uint32_t i = (uint32_t)((addr >> 3) * 2654435761u) % OUTST_SZ, n;

	for (n = 0; n < OUTST_SZ; n++, i = (i + 1) % OUTST_SZ) {
		if (p->outst[i].addr == addr)
			return i;
		if (!p->outst[i].addr && insert)
			return i;
		if (!p->outst[i].addr && !p->outst[i].n)
			break;
	}
	return UINT32_MAX;
}

void outst_inc(struct pctx *p, uint64_t addr)
{
	uint32_t i = outst_slot(p, addr, 0);

	if (i == UINT32_MAX)
		i = outst_slot(p, addr, 1);
	p->outst[i].addr = addr;
	p->outst[i].n++;
	p->outst_total++;
}

/* 0, or -1 if addr was not outstanding. Slots stay (tombstones). */
int outst_dec(struct pctx *p, uint64_t addr)
{
	uint32_t i = outst_slot(p, addr, 0);

	if (i == UINT32_MAX || !p->outst[i].n)
		return -1;
	p->outst[i].n--;
	p->outst_total--;
	return 0;
}

void take_back(struct tctx *t, const uint64_t *addrs, uint32_t n,
	       const char *from)
{
	struct pctx *p = t->p;
	uint32_t k;

	pthread_mutex_lock(&p->mu);
	for (k = 0; k < n; k++) {
		uint64_t a = addrs[k], off = a - p->pool.addr;

		if (outst_dec(p, a)) {
			pthread_mutex_unlock(&p->mu);
			fz_fail(t, "%s handed back address 0x%llx (%u of %u) that has no entry of ours outstanding: handed back twice, or never published (pool 0x%llx..+%llu)",
				from, (unsigned long long)a, k + 1, n,
				(unsigned long long)p->pool.addr,
				(unsigned long long)p->pool.max);
		}
		if (a >= p->pool.addr && off % BLK == 0 && off / BLK < p->nblk &&
		    outst_slot(p, a, 0) != UINT32_MAX &&
		    !p->outst[outst_slot(p, a, 0)].n)
			p->blkfree[off / BLK] = 1;
	}
	pthread_mutex_unlock(&p->mu);
	if (n)
		count_add(&S->windows[W_reclaimed], n);
}

void held_add(struct tctx *t, const struct agnocast_entry *e, uint32_t sub,
	      int exposed)
{
	struct held *h;

	if (t->nheld == t->held_cap) {
		struct held *n = realloc(t->held, 2 * t->held_cap * sizeof(*n));

		if (!n)
			fz_fail(t, "out of memory for held entries");
		t->held = n;
		t->held_cap *= 2;
	}
	h = &t->held[t->nheld++];
	memset(h, 0, sizeof(*h));
	h->sub = sub;
	h->exposed = exposed;
	h->seq = e->seq;
	h->addr = e->addr;
	h->len = e->len;
	h->pid = e->pid;
	h->rc0 = blk_read(t, e->pid, e->addr, e->len, &h->serial, &h->sum,
			  h->why0, sizeof(h->why0), 1);
}

void held_drop_sub(struct tctx *t, uint32_t sub)
{
	uint32_t i = 0;

	while (i < t->nheld) {
		if (t->held[i].sub == sub) {
			if (t->held[i].rc0 != 1)
				map_unref(t->p, t->held[i].addr);
			t->held[i] = t->held[--t->nheld];
		} else {
			i++;
		}
	}
}

/* The mapping that covers addr, whoever's pool it is; p->mu held. */
static struct mapping *map_covering(struct pctx *p, uint64_t addr)
{
	int i;

	for (i = 0; i < MAXMAP; i++) {
		struct mapping *m = &p->maps[i];

		if (m->used && m->mapped && addr >= m->info.addr &&
		    addr - m->info.addr < m->info.max)
			return m;
	}
	return NULL;
}

static struct mapping *map_free_slot(struct pctx *p)
{
	int i;

	for (i = 0; i < MAXMAP; i++)
		if (!p->maps[i].used)
			return &p->maps[i];
	return NULL;
}

/* Undo one of our mappings (munmap and every declaration); p->mu held. */
void map_drop(struct tctx *t, struct mapping *m)
{
	struct agnocast_unmap_pool_args u = { .pid = m->info.pid, .addr = m->info.addr };

	if (m->mapped)
		fz_unmap_pool(t->p->dev, &m->info);
	else
		m->decls++;
	while (--m->decls)
		fz_simple(t, IOC_UNMAP_POOL, &u, ES(0) | ES(ENOENT),
			  "undo of our own MAP_POOL");
	trace_add(t, TR_MMAP, 0, (uint64_t)m->info.pid, m->info.addr, 0);
	memset(m, 0, sizeof(*m));
}

/*
 * A mapping of pid's pool covering addr, made if needed; p->mu held.
 * A mapping of another pool over the same range (its owner is gone and
 * the range went to a new pool) is dropped first if nothing refers to it.
 */
static struct mapping *map_for(struct tctx *t, int32_t pid, uint64_t addr)
{
	struct pctx *p = t->p;
	struct agnocast_pool_info info;
	struct mapping *m = map_covering(p, addr);
	const char *step;
	int err;

	if (m && m->info.pid == pid)
		return m;
	if (m && m->refs)
		return NULL;
	if (m)
		map_drop(t, m);
	m = map_free_slot(p);
	if (!m)
		return NULL;
	err = fz_map_pool(p->dev, pid, 0, &info, &step);
	trace_add(t, TR_MMAP, -err, (uint64_t)pid, info.addr, info.max);
	if (err) {
		if (err == -EEXIST)
			win_hit(W_stale_mapping);
		return NULL;
	}
	m->used = 1;
	m->mapped = 1;
	m->info = info;
	m->decls = 1;
	m->refs = 0;
	win_hit(W_map_full);
	if (addr < info.addr || addr - info.addr >= info.max)
		return NULL;	/* pid's pool is elsewhere now: kept mapped */
	return m;
}

void map_describe(struct pctx *p, uint64_t addr, char *buf, size_t len)
{
	struct mapping *m;
	char line[300] = "none";
	unsigned long lo, hi;
	size_t n;
	FILE *f;

	pthread_mutex_lock(&p->mu);
	m = map_covering(p, addr);
	n = m ? (size_t)snprintf(buf, len, "our mapping there: pid %d at 0x%llx+0x%llx, refs %u, decls %u",
				 m->info.pid, (unsigned long long)m->info.addr,
				 (unsigned long long)m->info.max, m->refs, m->decls) :
		(size_t)snprintf(buf, len, "no mapping of ours there");
	pthread_mutex_unlock(&p->mu);
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi)
			break;
	if (f && feof(f))
		snprintf(line, sizeof(line), "none");
	if (f)
		fclose(f);
	line[strcspn(line, "\n")] = 0;
	if (n < len)
		snprintf(buf + n, len - n, "; /proc/self/maps: %s", line);
}

void map_unref(struct pctx *p, uint64_t addr)
{
	int i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < MAXMAP; i++) {
		struct mapping *m = &p->maps[i];

		if (m->used && m->mapped && m->refs && addr >= m->info.addr &&
		    addr - m->info.addr < m->info.max) {
			m->refs--;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

/*
 * Copy len bytes at addr of our own memory without faulting: 0, or -1 if
 * unreadable. process_vm_readv where the kernel has it, else our
 * /proc/self/mem (opened per process: the file is bound to one mm).
 */
static int self_read(struct pctx *p, void *dst, uint64_t addr, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);

	if (n >= 0 || errno != ENOSYS)
		return n == (ssize_t)len ? 0 : -1;
	if (p->memfd < 0)
		p->memfd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	return p->memfd >= 0 && pread(p->memfd, dst, len, (off_t)addr) == (ssize_t)len ?
	       0 : -1;
}

static int blk_check(const uint8_t *b, int32_t pid, char *why, size_t len)
{
	const struct blkhdr *h = (const void *)b;

	if (h->magic != BLK_MAGIC)
		snprintf(why, len, "magic 0x%x", h->magic);
	else if (h->pid != pid)
		snprintf(why, len, "written by pid %d, entry says %d", h->pid, pid);
	else if (h->len != BLK)
		snprintf(why, len, "len field %u", h->len);
	else if (h->sum != blk_sum(b))
		snprintf(why, len, "checksum 0x%x, content gives 0x%x", h->sum,
			 blk_sum(b));
	else
		return 0;
	return -1;
}

int blk_read(struct tctx *t, int32_t pid, uint64_t addr, uint64_t len,
	     uint64_t *serial, uint32_t *sum, char *why, size_t whylen, int ref)
{
	struct pctx *p = t->p;
	uint8_t b[BLK];
	char w[160];
	struct mapping *m;
	int own = pid == getpid(), rc = 1;

	if (len != BLK || addr % BLK || pid <= 0)
		return 1;	/* not a well-formed message */
	pthread_mutex_lock(&p->mu);
	m = own ? NULL : map_for(t, pid, addr);
	if (!own && !m)
		goto out;
	if (own && (addr < p->pool.addr || addr + BLK > p->pool.addr + p->floor))
		goto out;
	if (self_read(p, b, addr, BLK))
		goto out;	/* the caller decides whether that matters */
	rc = blk_check(b, pid, w, sizeof(w));
	if (why)
		snprintf(why, whylen, "%s", rc ? w : "intact");
	*serial = ((const struct blkhdr *)b)->serial;
	*sum = ((const struct blkhdr *)b)->sum;
	if (m && ref)
		m->refs++;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

struct pubrec *pub_pick_own(struct tctx *t)
{
	struct pctx *p = t->p;
	uint32_t i, start = rng_below(&t->r, MAXPUB);

	for (i = 0; i < MAXPUB; i++) {
		struct pubrec *pr = &p->pubs[(start + i) % MAXPUB];

		if (pr->live == 1 && pr->owner == t->idx)
			return pr;
	}
	return NULL;
}

struct subrec *sub_pick_own(struct tctx *t)
{
	struct pctx *p = t->p;
	uint32_t i, start = rng_below(&t->r, MAXSUB);

	for (i = 0; i < MAXSUB; i++) {
		struct subrec *sr = &p->subs[(start + i) % MAXSUB];

		if (sr->live == 1 && sr->owner == t->idx)
			return sr;
	}
	return NULL;
}

void dead_add(struct pctx *p, int sub, uint32_t id)
{
	p->dead[sub][p->ndead[sub]++ % 16] = id;
}

uint32_t dead_pick(struct tctx *t, int sub)
{
	struct pctx *p = t->p;
	uint32_t n = p->ndead[sub] < 16 ? p->ndead[sub] : 16;

	return n ? p->dead[sub][rng_below(&t->r, n)] : 0;
}

int id_is_ours(const struct pctx *p, int sub, uint32_t id)
{
	int i;

	for (i = 0; i < (sub ? MAXSUB : MAXPUB); i++)
		if (sub ? p->subs[i].live && p->subs[i].id == id
			: p->pubs[i].live && p->pubs[i].id == id)
			return 1;
	return 0;
}
