// SPDX-License-Identifier: Apache-2.0
/* The supervisor (see super.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"
#include "knobs.h"
#include "probe.h"
#include "reader.h"
#include "shared.h"
#include "super.h"

#define MAXWORKERS 32
#define MAXPG 8192
#define UNPRIV 65534
#define MS 1000000ULL

struct sup {
	const struct opts *o;
	struct report *rep;
	struct rng r;
	pid_t workers[MAXWORKERS];
	uint32_t next_idx;
	pid_t pgids[MAXPG];	/* every process group we made */
	unsigned int npg;
	mode_t dev_mode;
	uint64_t next_kill, next_phase, phase_end, inj_start, inj_end;
	int phase_param;	/* lowered now, or -1 */
	int inj_mask;		/* injectors the kernel has */
	int inj_state;		/* 0 not yet, 1 on, 2 done */
};

void note_to(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o + 2 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

/* ---- start ------------------------------------------------------------- */

static int module_ok(char *why, size_t len)
{
	struct agnocast_version_args v;
	int fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC), r;

	if (fd < 0) {
		snprintf(why, len, "open %s: %s (is the module loaded?)",
			 AGNOCAST_DEVICE_PATH, strerror(errno));
		return -1;
	}
	r = ioctl(fd, AGNOCAST_VERSION_CMD, &v);
	close(fd);
	if (r || v.abi != AGNOCAST_ABI_VERSION) {
		snprintf(why, len, "VERSION: %s, abi %u (want %d)", r ? strerror(errno) : "ok",
			 r ? 0 : v.abi, AGNOCAST_ABI_VERSION);
		return -1;
	}
	return 0;
}

/* Fault injection, if the kernel has it: the middle of the run. */
static void inject_plan(struct sup *su)
{
	uint64_t len = su->o->seconds * 1000000000ULL;

	su->inj_mask = inject_detect();
	su->rep->inject = su->inj_mask;
	su->inj_start = S->start_ns + len / 4 + rng_below(&su->r, len / 4 / MS + 1) * MS;
	su->inj_end = su->inj_start + len / 3;
}

static int shared_setup(struct sup *su)
{
	int fd = shared_create();

	if (fd < 0) {
		snprintf(su->rep->setup, sizeof(su->rep->setup), "memfd: %s", strerror(-fd));
		return -1;
	}
	S->seed = su->o->seed;
	S->verbose = su->o->verbose;
	S->super_pid = getpid();
	S->start_ns = now_ns();
	S->deadline_ns = S->start_ns + su->o->seconds * 1000000000ULL;
	S->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	return 0;
}

static int setup(struct sup *su)
{
	struct report *rep = su->rep;
	struct stat st;

	if (module_ok(rep->setup, sizeof(rep->setup)) || shared_setup(su))
		return -1;
	if (params_load() || S->exe_fd < 0 || stat(AGNOCAST_DEVICE_PATH, &st)) {
		snprintf(rep->setup, sizeof(rep->setup),
			 "cannot read the module's parameters or our own binary");
		return -1;
	}
	su->dev_mode = st.st_mode & 07777;
	chmod(AGNOCAST_DEVICE_PATH, 0666);	/* the unprivileged user's turn */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	status_totals(rep->initial, rep->setup, sizeof(rep->setup));
	rep->setup[0] = 0;
	inject_plan(su);
	su->phase_param = -1;
	su->next_kill = S->start_ns + 300 * MS;
	su->next_phase = S->start_ns + 1000 * MS;
	return 0;
}

/* ---- participants ------------------------------------------------------ */

/* A worker's kind and user follow from its own stream, not from timing. */
static enum kind pick_kind(struct rng *r)
{
	unsigned int x = rng_below(r, 100);

	if (x < 42)
		return K_member;
	if (x < 57)
		return K_member_unpriv;
	if (x < 65)
		return K_loner;
	if (x < 70)
		return K_reader;
	return K_probe;
}

static void become_unprivileged(void)
{
	if (setgroups(0, NULL) || setresgid(UNPRIV, UNPRIV, UNPRIV) ||
	    setresuid(UNPRIV, UNPRIV, UNPRIV))
		_exit(2);
	prctl(PR_SET_DUMPABLE, 1);	/* /proc/self files stay ours */
}

static __attribute__((noreturn)) void worker_main(struct rng *r, enum kind kind,
						  uint64_t sid)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);	/* a peer's parent may be gone: EPIPE */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != S->super_pid)
		_exit(0);
	if (kind == K_member_unpriv ||
	    ((kind == K_loner || kind == K_reader) && rng_pct(r, 50)))
		become_unprivileged();
	if (kind == K_probe)
		probe_main(sid);
	if (kind == K_reader)
		reader_main(sid);
	member_main(kind, sid);
}

static void spawn(struct sup *su, int slot)
{
	uint32_t idx = su->next_idx++;
	uint64_t sid = stream_child(0x5eedULL, idx);
	struct rng r;
	enum kind kind;
	pid_t pid;

	rng_init(&r, S->seed, stream_child(sid, 0));
	kind = pick_kind(&r);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		worker_main(&r, kind, sid);
	}
	if (pid < 0)
		return;
	setpgid(pid, pid);
	su->workers[slot] = pid;
	if (su->npg < MAXPG)
		su->pgids[su->npg++] = pid;
	count_add(&S->spawned[kind], 1);
	if (su->o->verbose)
		fprintf(stderr, "agnocast-fuzz: worker %u (%s) pid %d stream 0x%llx\n",
			idx, kind_names[kind], (int)pid, (unsigned long long)sid);
}

/* The last operations recorded for pid, for a crash report. */
static void traces_of(struct sup *su, pid_t pid)
{
	int i;
	uint32_t k, n;

	for (i = 0; i < NTRACE; i++) {
		const struct trace *tr = &S->traces[i];

		if (tr->pid != pid)
			continue;
		note_to(su->rep->crashes, sizeof(su->rep->crashes),
			"#   thread %d stream 0x%llx, last ops:", tr->tid,
			(unsigned long long)tr->sid);
		n = tr->n < 8 ? tr->n : 8;
		for (k = tr->n - n; k != tr->n; k++)
			note_to(su->rep->crashes, sizeof(su->rep->crashes), " %u:%u->%d",
				tr->e[k % TRACE_N].nop, tr->e[k % TRACE_N].op,
				tr->e[k % TRACE_N].err);
		note_to(su->rep->crashes, sizeof(su->rep->crashes), "\n");
	}
}

/* How a participant ended: fine, a recorded failure, or a crash. */
static void ended(struct sup *su, pid_t pid, int st)
{
	count_add(&S->exits, 1);
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 3))
		return;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return;
	count_add(&S->crashes, 1);
	note_to(su->rep->crashes, sizeof(su->rep->crashes),
		"# pid %d ended with %s %d (seed %llu)\n", (int)pid,
		WIFEXITED(st) ? "exit status" : "signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		(unsigned long long)S->seed);
	traces_of(su, pid);
}

/* Reap whatever ended; restart workers unless stopping. */
static void reap(struct sup *su, int restart)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
		ended(su, pid, st);
		for (i = 0; i < (int)su->o->workers; i++)
			if (su->workers[i] == pid) {
				su->workers[i] = 0;
				if (restart)
					spawn(su, i);
			}
	}
}

static void kill_random(struct sup *su)
{
	int i = rng_below(&su->r, su->o->workers);
	pid_t pid = su->workers[i];

	su->next_kill = now_ns() + (200 + rng_below(&su->r, 2300)) * 1000000ULL;
	if (!pid)
		return;
	kill(rng_pct(&su->r, 30) ? -pid : pid, SIGKILL);
	count_add(&S->killed_super, 1);
}

/* ---- lowered bounds and fault injection ------------------------------ */

static uint64_t low_value(struct sup *su, enum param p)
{
	struct rng *r = &su->r;

	switch (p) {
	case P_PROCS: return 1 + rng_below(r, 4);
	case P_WINDOW: return AGNOCAST_POOL_ALIGN * (1 + rng_below(r, 12));
	case P_ENDPOINTS: return 1 + rng_below(r, 8);
	case P_ENTRIES: return 2 + rng_below(r, 100);
	case P_MAPPINGS: return 1 + rng_below(r, 4);
	default: return rng_below(r, 4);
	}
}

/* One parameter at a time is lowered for a while, then put back. */
static void phase_tick(struct sup *su, uint64_t now)
{
	if (su->phase_param >= 0 && now >= su->phase_end) {
		param_set(su->phase_param, S->param_default[su->phase_param]);
		su->phase_param = -1;
		su->next_phase = now + (500 + rng_below(&su->r, 2500)) * MS;
	} else if (su->phase_param < 0 && now >= su->next_phase) {
		su->phase_param = rng_below(&su->r, NPARAM);
		param_set(su->phase_param, low_value(su, su->phase_param));
		su->phase_end = now + (300 + rng_below(&su->r, 2200)) * MS;
		win_hit(W_param_phase);
	}
}

/* Slab and user-copy failures for the middle of the run. */
static void inject_tick(struct sup *su, uint64_t now)
{
	int mask;

	if (!su->inj_mask)
		return;
	if (su->inj_state == 0 && now >= su->inj_start) {
		mask = su->inj_mask & (1 + rng_below(&su->r, 3));
		inject_start(mask ?: su->inj_mask, 2 + rng_below(&su->r, 9));
		su->inj_state = 1;
		win_hit(W_inject_phase);
	} else if (su->inj_state == 1 && now >= su->inj_end) {
		inject_stop();
		su->inj_state = 2;
	}
}

/* ---- the run ------------------------------------------------------------- */

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t next_event(struct sup *su)
{
	uint64_t t = min64(S->deadline_ns, su->next_kill);

	t = min64(t, su->phase_param >= 0 ? su->phase_end : su->next_phase);
	if (su->inj_mask && su->inj_state == 0)
		t = min64(t, su->inj_start);
	if (su->inj_state == 1)
		t = min64(t, su->inj_end);
	return t;
}

/* Wait for a child to end or for the next event, whichever comes first. */
static void wait_event(struct sup *su, const sigset_t *chld)
{
	uint64_t now = now_ns(), t = next_event(su);
	struct timespec ts = { 0, 0 };

	if (t > now) {
		ts.tv_sec = (t - now) / 1000000000ULL;
		ts.tv_nsec = (t - now) % 1000000000ULL;
		sigtimedwait(chld, NULL, &ts);
	}
}

static void run(struct sup *su)
{
	sigset_t chld;
	uint64_t now;
	unsigned int i;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	for (i = 0; i < su->o->workers; i++)
		spawn(su, i);
	while ((now = now_ns()) < S->deadline_ns) {
		reap(su, 1);
		if (now >= su->next_kill)
			kill_random(su);
		phase_tick(su, now);
		inject_tick(su, now);
		wait_event(su, &chld);
	}
}

/* SIGKILL every participant group and reap until nothing is left. */
static void kill_all(struct sup *su)
{
	unsigned int i;
	pid_t pid;
	int st;

	__atomic_store_n(&S->stop, 1, __ATOMIC_RELEASE);
	for (;;) {
		for (i = 0; i < su->npg; i++)
			kill(-su->pgids[i], SIGKILL);
		pid = waitpid(-1, &st, __WALL);
		if (pid > 0)
			ended(su, pid, st);
		else if (errno != EINTR)
			return;	/* ECHILD: everything is reaped */
	}
}

static void restore(struct sup *su)
{
	if (su->inj_state == 1)
		inject_stop();
	params_restore();
	chmod(AGNOCAST_DEVICE_PATH, su->dev_mode);
}

int supervise(const struct opts *o)
{
	static struct report rep;
	static struct sup su;
	uint64_t t0 = now_ns();

	su.o = o;
	su.rep = &rep;
	rng_init(&su.r, o->seed, 0x5eedULL);
	if (setup(&su)) {
		tap_write(o, &rep);
		return 1;
	}
	run(&su);
	kill_all(&su);
	restore(&su);
	end_checks(&rep);
	rep.elapsed_ns = now_ns() - t0;
	tap_write(o, &rep);
	return S->nfail || S->crashes || rep.leftovers[0] ? 1 : 0;
}
