// SPDX-License-Identifier: Apache-2.0
/* State shared by every participant of a run (see shared.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shared.h"

#define SHARED_MAGIC 0x6167667a7a31ULL

#define WIN_NAME(n) #n,
const char *const win_names[NWIN] = { WINDOWS(WIN_NAME) };
#undef WIN_NAME
#define KIND_NAME(n) #n,
const char *const kind_names[NKIND] = { KINDS(KIND_NAME) };
#undef KIND_NAME

const char *const param_names[NPARAM] = {
	[P_PROCS] = "max_procs_per_user",
	[P_WINDOW] = "max_window_per_user",
	[P_ENDPOINTS] = "max_endpoints_per_process",
	[P_ENTRIES] = "max_entries_per_process",
	[P_MAPPINGS] = "max_mappings_per_process",
	[P_STATUS_ENTRIES] = "status_entries_max",
};

struct shared *S;

static int shared_map(int fd)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	S = p;
	return 0;
}

int shared_create(void)
{
	int fd = memfd_create("agnocast-fuzz", 0);	/* inherited by exec */
	int err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(struct shared)))
		return -errno;
	err = shared_map(fd);
	if (err)
		return err;
	S->magic = SHARED_MAGIC;
	S->shm_fd = fd;
	return fd;
}

int shared_attach(int fd)
{
	int err = shared_map(fd);

	if (!err && S->magic != SHARED_MAGIC)
		err = -EINVAL;
	return err;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int run_over(void)
{
	return __atomic_load_n(&S->stop, __ATOMIC_RELAXED) ||
	       now_ns() >= S->deadline_ns;
}

uint32_t fail_add(const char *text)
{
	uint32_t n = __atomic_fetch_add(&S->nfail, 1, __ATOMIC_RELAXED);

	if (n < MAXFAIL) {
		S->fail[n].pid = getpid();
		strncpy(S->fail[n].text, text, FAILTEXT - 1);
		S->fail[n].text[FAILTEXT - 1] = 0;
		__atomic_store_n(&S->fail[n].done, 1, __ATOMIC_RELEASE);
	}
	/* On the console too, whatever happens to the report afterwards. */
	dprintf(2, "agnocast-fuzz: FAIL %s\n", text);
	return n;
}

struct regrec *reg_claim(pid_t pid, uid_t uid)
{
	uint32_t n = __atomic_fetch_add(&S->reg_next, 1, __ATOMIC_RELAXED);
	struct regrec *r = &S->reg[n % NREG];

	memset(r, 0, sizeof(*r));
	r->uid = uid;
	__atomic_store_n(&r->pid, pid, __ATOMIC_RELEASE);
	return r;
}

void reg_add_id(struct regrec *r, int sub, uint32_t id, uint64_t seq)
{
	uint32_t i = (id * 2654435761u) % REG_IDS;

	if (__atomic_load_n(&r->pid, __ATOMIC_ACQUIRE) != getpid())
		return;	/* the record went to another process */
	if (sub)
		__atomic_store_n(&r->sub[i], id, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&r->pub[i], id, __ATOMIC_RELAXED);
	if (seq)
		__atomic_store_n(&r->seq[i], seq, __ATOMIC_RELAXED);
}

const struct regrec *reg_pick(uint64_t rnd, pid_t not_pid)
{
	uint32_t i, start = rnd % NREG;

	for (i = 0; i < NREG; i++) {
		const struct regrec *r = &S->reg[(start + i) % NREG];
		int32_t pid = __atomic_load_n(&r->pid, __ATOMIC_ACQUIRE);

		if (pid > 0 && pid != not_pid)
			return r;
	}
	return NULL;
}

uint32_t jw_enter(pid_t pid)
{
	uint32_t n = __atomic_fetch_add(&S->jw_next, 1, __ATOMIC_RELAXED) % NJW;

	__atomic_store_n(&S->jw_pid[n], pid, __ATOMIC_RELEASE);
	return n;
}

void jw_leave(uint32_t slot, pid_t pid)
{
	int32_t expect = pid;

	__atomic_compare_exchange_n(&S->jw_pid[slot], &expect, -pid, 0,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

uint32_t param_snapshot(enum param p, uint64_t *val)
{
	uint32_t gen = __atomic_load_n(&S->param_gen, __ATOMIC_ACQUIRE);

	*val = __atomic_load_n(&S->param_val[p], __ATOMIC_ACQUIRE);
	return gen;
}

int param_stable(uint32_t gen)
{
	return !(gen & 1) &&
	       __atomic_load_n(&S->param_gen, __ATOMIC_ACQUIRE) == gen;
}
