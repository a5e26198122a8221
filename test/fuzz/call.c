// SPDX-License-Identifier: Apache-2.0
/* Making, counting, tracing and checking one ioctl (see call.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "call.h"
#include "knobs.h"

static const char *tr_name(unsigned int op, char *buf, size_t len)
{
	static const char *const names[] = {
		"fork", "exec", "clone_vm", "vfork", "close", "ftruncate",
		"unshare", "mmap", "poll", "status", "join", "kill", "check",
	};

	if (op < NIOC)
		return iocs[op].name;
	if (op >= TR_FORK && op - TR_FORK < sizeof(names) / sizeof(names[0]))
		return names[op - TR_FORK];
	snprintf(buf, len, "op%u", op);
	return buf;
}

void trace_add(struct tctx *t, unsigned int op, int err, uint64_t a0,
	       uint64_t a1, uint64_t a2)
{
	struct trace *tr = t->tr;
	struct trace_ent *e;

	t->nop++;
	if (!tr)
		return;
	e = &tr->e[tr->n % TRACE_N];
	e->nop = t->nop;
	e->op = op;
	e->err = err;
	e->a[0] = a0;
	e->a[1] = a1;
	e->a[2] = a2;
	tr->n++;
}

/* The thread's last operations, oldest first. */
static size_t trace_dump(const struct trace *tr, char *buf, size_t len)
{
	uint32_t i, n = tr->n < TRACE_N ? tr->n : TRACE_N;
	size_t o = 0;
	char nb[16];

	for (i = tr->n - n; i != tr->n && o + 120 < len; i++) {
		const struct trace_ent *e = &tr->e[i % TRACE_N];

		o += snprintf(buf + o, len - o,
			      "#   op %u %s -> %s (0x%llx 0x%llx 0x%llx)\n",
			      e->nop, tr_name(e->op, nb, sizeof(nb)),
			      errname(e->err), (unsigned long long)e->a[0],
			      (unsigned long long)e->a[1],
			      (unsigned long long)e->a[2]);
	}
	return o;
}

/* The report: who, where in its stream, what, and its last operations. */
static void fail_report(struct tctx *t, char *buf, size_t len, const char *fmt,
			va_list ap)
{
	size_t o;

	o = snprintf(buf, len, "seed %llu stream 0x%llx %s pid %d tid %d op %u: ",
		     (unsigned long long)S->seed, (unsigned long long)t->sid,
		     kind_names[t->p->kind], (int)getpid(), (int)t->tid, t->nop);
	o += vsnprintf(buf + o, len - o, fmt, ap);
	if (o < len - 64 && t->tr) {
		o += snprintf(buf + o, len - o, "\n# last operations of this thread:\n");
		trace_dump(t->tr, buf + o, len - o);
	}
}

void fz_fail(struct tctx *t, const char *fmt, ...)
{
	char buf[FAILTEXT];
	va_list ap;

	va_start(ap, fmt);
	fail_report(t, buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fail_add(buf);
	_exit(FAIL_EXIT);
}

void fz_fail_soft(struct tctx *t, int site, const char *fmt, ...)
{
	char buf[FAILTEXT];
	va_list ap;

	if (__atomic_fetch_add(&S->soft_sites[site % 256], 1, __ATOMIC_RELAXED) >= 2) {
		__atomic_fetch_add(&S->nfail, 1, __ATOMIC_RELAXED);
		return;	/* counted, not reported again */
	}
	va_start(ap, fmt);
	fail_report(t, buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fail_add(buf);
}

/*
 * Set or clear the thread's make-it-fail around one ioctl. Clearing it
 * copies from user space too, which fail_usercopy may fail: retry.
 */
static void inject(struct tctx *t, int on)
{
	int tries;

	for (tries = 0; tries < 10000; tries++)
		if (pwrite(t->fi_fd, on ? "1" : "0", 1, 0) == 1 || on)
			return;
	fz_fail(t, "cannot clear /proc/thread-self/make-it-fail: %s", errname(errno));
}

static int unreadable(int mode)
{
	return mode == ARG_STRADDLE || mode == ARG_NULL || mode == ARG_KERNEL;
}

/* The precise expectation rules fz_call applies by itself. */
static void own_rules(struct tctx *t, struct call *c)
{
	if (c->ioc == IOC_UNKNOWN)
		return;
	if (unreadable(c->mode)) {
		c->expect = ES(EFAULT);
		c->rule = "the argument cannot be read";
	} else if (!t->p->joined && iocs[c->ioc].acts &&
		   c->ioc != IOC_ADD_PROCESS) {
		/* The header does not order ESRCH against argument errors. */
		if (c->valid) {
			c->expect = ES(ESRCH);
			c->rule = "the caller has not joined";
		} else if (c->expect) {
			c->expect |= ES(ESRCH);
		}
	}
}

static void count_windows(struct tctx *t, const struct call *c, int e, int fi)
{
	if (e == EFAULT && c->mode == ARG_STRADDLE)
		win_hit(W_straddle_efault);
	else if (e == EFAULT && unreadable(c->mode))
		win_hit(W_bad_pointer_efault);
	else if (e == EFAULT && c->mode == ARG_RO)
		win_hit(W_ro_args_efault);
	if (e == EFAULT && c->mode == ARG_NORMAL && c->odd_array)
		win_hit(W_odd_array_efault);
	if (e && c->expect == ES(e) && (e == EINVAL || e == ENAMETOOLONG || e == E2BIG))
		win_hit(W_invalid_argument);
	if (e == ESRCH && c->expect == ES(ESRCH))
		win_hit(W_unjoined_esrch);
	if (e == ENOMEM && (fi & INJ_SLAB))
		win_hit(W_enomem_injected);
	if (e == EFAULT && (fi & INJ_USERCOPY))
		win_hit(W_efault_injected);
	if (e == ENOTTY)
		win_hit(W_enotty);
	(void)t;
}

static void check_result(struct tctx *t, const struct call *c, int e, int fi)
{
	const struct iocdesc *d = &iocs[c->ioc];
	errset_t want = c->expect | (fi & INJ_SLAB ? ES(ENOMEM) : 0) |
			(fi & INJ_USERCOPY ? ES(EFAULT) : 0);
	char args[700], s1[200], s2[200];
	const char *why = NULL;

	count_add(&S->checks, 1);
	if (e && !(d->allowed & ES(e)))
		why = "an error the header does not allow for this ioctl";
	else if (e == ESRCH && t->p->joined)
		why = "ESRCH for a joined caller";
	else if (c->expect && !(want & ES(e)))
		why = c->rule;
	if (!why)
		return;
	if (unreadable(c->mode))
		snprintf(args, sizeof(args), "(unreadable argument at %p)", c->arg);
	else
		d->fmt(args, sizeof(args), c->shadow);
	fz_fail(t, "%s cmd 0x%lx fd %d arg %s %s -> %s; rule: %s; expected %s; header allows %s",
		d->name, c->cmd ? c->cmd : d->cmd, c->fd,
		arg_mode_names[c->mode], args, errname(e), why,
		c->expect ? errset_str(want, s1, sizeof(s1)) : "(table)",
		errset_str(d->allowed | 1, s2, sizeof(s2)));
}

int fz_call(struct tctx *t, struct call *c)
{
	const struct iocdesc *d = &iocs[c->ioc];
	int fd = c->fd ? c->fd : t->p->dev;
	unsigned long cmd = c->cmd ? c->cmd : d->cmd;
	int fi = t->fi_fd >= 0 ? __atomic_load_n(&S->inject, __ATOMIC_RELAXED) : 0;
	int r, e;

	c->fd = fd;
	c->cmd = cmd;
	if (!c->len)
		c->len = d->size;
	if (c->mode == ARG_STRADDLE && !arena_guard_ok(&t->ar))
		c->mode = ARG_NULL;	/* the hole was taken: still unreadable */
	own_rules(t, c);
	c->arg = arg_place(&t->ar, &t->r, c->mode, c->shadow, c->len);
	if (fi)
		inject(t, 1);
	r = ioctl(fd, cmd, c->arg);
	e = r ? errno : 0;
	if (fi)
		inject(t, 0);
	arg_done(&t->ar);
	count_add(&S->ioc_count[c->ioc][e < ERRSET_BITS ? e : 0], 1);
	trace_add(t, c->ioc, e, c->arg ? *(const uint64_t *)c->shadow : 0,
		  (uint64_t)c->mode, c->len > 8 ? ((const uint64_t *)c->shadow)[1] : 0);
	count_windows(t, c, e, fi);
	check_result(t, c, e, fi);
	return e;
}

int fz_simple(struct tctx *t, enum ioc ioc, void *arg, errset_t expect,
	      const char *rule)
{
	struct call c = { .ioc = ioc, .shadow = arg, .mode = ARG_NORMAL,
			  .valid = 1, .expect = expect, .rule = rule };
	int e = fz_call(t, &c);

	memcpy(arg, c.arg, iocs[ioc].size);	/* the results */
	return e;
}
